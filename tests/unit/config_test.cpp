#include "core/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "test_util.hpp"

namespace tern {
namespace {

std::map<std::string, std::string> as_map(const config_entries& e) { return {e.begin(), e.end()}; }

std::string error_of(const std::string& path) {
  try {
    load_config(path);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, ValuesBecomeStringsAndLaterLinesSeeEarlierOnes) {
  std::string dir = test::temp_dir();
  test::write_file(dir + "/c.lua",
                   "thread = 8\nratio = 0.5\ndaemon = false\nflag = true\n"
                   "luaservice = './a/?.lua'\nluaservice = luaservice .. ';./b/?.lua'\n"
                   "upper = string.upper('x')\n");
  auto m = as_map(load_config(dir + "/c.lua"));
  EXPECT_EQ(m["thread"], "8");
  EXPECT_EQ(m["ratio"], "0.5");
  EXPECT_EQ(m["daemon"], "false");
  EXPECT_EQ(m["flag"], "true");
  EXPECT_EQ(m["luaservice"], "./a/?.lua;./b/?.lua");
  EXPECT_EQ(m["upper"], "X");  // the standard library is readable
  EXPECT_EQ(m.count("include"), 0u);
  EXPECT_EQ(m.count("string"), 0u);
}

TEST(Config, EnvironmentVariablesAreSubstituted) {
  setenv("TERN_TEST_ROOT", "/srv/game", 1);
  std::string dir = test::temp_dir();
  test::write_file(dir + "/c.lua", "root = \"$TERN_TEST_ROOT/data\"\n");
  EXPECT_EQ(as_map(load_config(dir + "/c.lua"))["root"], "/srv/game/data");
  unsetenv("TERN_TEST_UNSET_VAR");
  test::write_file(dir + "/d.lua", "x = 1\ny = \"$TERN_TEST_UNSET_VAR\"\n");
  EXPECT_NE(error_of(dir + "/d.lua").find("TERN_TEST_UNSET_VAR"), std::string::npos);
}

TEST(Config, IncludeIsRelativeToTheIncludingFile) {
  std::string dir = test::temp_dir();
  mkdir((dir + "/sub").c_str(), 0755);
  mkdir((dir + "/sub/deeper").c_str(), 0755);
  test::write_file(dir + "/main.lua", "a = 1\ninclude 'sub/common.lua'\nc = b .. '!'\n");
  test::write_file(dir + "/sub/common.lua", "b = 'common'\ninclude 'deeper/last.lua'\n");
  test::write_file(dir + "/sub/deeper/last.lua", "d = a + 1\n");
  auto m = as_map(load_config(dir + "/main.lua"));
  EXPECT_EQ(m["b"], "common");
  EXPECT_EQ(m["c"], "common!");
  EXPECT_EQ(m["d"], "2");
}

TEST(Config, SyntaxAndRuntimeErrorsNameFileAndLine) {
  std::string dir = test::temp_dir();
  test::write_file(dir + "/syntax.lua", "a = 1\nb = 2\nc = = 3\n");
  EXPECT_NE(error_of(dir + "/syntax.lua").find("syntax.lua:3:"), std::string::npos)
      << error_of(dir + "/syntax.lua");
  test::write_file(dir + "/runtime.lua", "a = 1\nb = nothing()\n");
  EXPECT_NE(error_of(dir + "/runtime.lua").find("runtime.lua:2:"), std::string::npos);
  test::write_file(dir + "/inc.lua", "a = 1\ninclude 'missing.lua'\n");
  std::string e = error_of(dir + "/inc.lua");
  EXPECT_NE(e.find("inc.lua:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("missing.lua"), std::string::npos) << e;
}

TEST(Config, MissingFileAndBadValues) {
  EXPECT_NE(error_of("/nonexistent/tern.conf").find("cannot open config file"), std::string::npos);
  std::string dir = test::temp_dir();
  test::write_file(dir + "/t.lua", "servers = { 1, 2 }\n");
  EXPECT_NE(error_of(dir + "/t.lua").find("'servers'"), std::string::npos);
}

TEST(Config, UnknownKeysAreWarnings) {
  std::vector<std::string> warnings;
  auto entries = load_config_string("thread = 2\nmy_game_port = 9000\n", "inline.lua", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("my_game_port"), std::string::npos);
  EXPECT_EQ(as_map(entries)["my_game_port"], "9000");
}

}  // namespace
}  // namespace tern
