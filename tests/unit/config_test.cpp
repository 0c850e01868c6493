#include "core/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace tern {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> as_map(const config_entries& entries) {
  return {entries.begin(), entries.end()};
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Each test gets its own directory so tests can run in parallel processes.
class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "tern_config_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes dir_/rel (creating subdirectories) and returns its full path.
  std::string write(const std::string& rel, const std::string& text) {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  // The message of the config_error that loading `path` throws.
  static std::string error_of(const std::string& path) {
    try {
      load_config(path);
    } catch (const config_error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::string dir_;
};

TEST_F(ConfigTest, ValuesOfEachTypeBecomeStrings) {
  std::string path = write("c.lua",
                           "thread = 8\n"
                           "harbor = -3\n"
                           "ratio = 0.5\n"
                           "whole_float = 2^10\n"
                           "daemon = false\n"
                           "standalone = true\n"
                           "start = \"main\"\n"
                           "nothing = nil\n");
  config_entries entries = load_config(path);
  config_entries expected = {{"daemon", "false"},       {"harbor", "-3"},
                             {"ratio", "0.5"},          {"standalone", "true"},
                             {"start", "main"},         {"thread", "8"},
                             {"whole_float", "1024.0"}};
  EXPECT_EQ(entries, expected);  // also checks the order: sorted by key
}

TEST_F(ConfigTest, LaterLineExtendsEarlierOne) {
  std::string path = write("c.lua",
                           "luaservice = \"./service/?.lua\"\n"
                           "luaservice = luaservice .. \";./examples/?.lua\"\n");
  EXPECT_EQ(as_map(load_config(path))["luaservice"], "./service/?.lua;./examples/?.lua");
}

TEST_F(ConfigTest, StandardLibraryIsReadableButNotInResult) {
  std::string path = write("c.lua",
                           "start = string.upper(\"main\")\n"
                           "thread = math.max(2, 4)\n"
                           "has_home = os.getenv(\"PATH\") ~= nil\n");
  config_entries entries = load_config(path);
  config_entries expected = {{"has_home", "true"}, {"start", "MAIN"}, {"thread", "4"}};
  EXPECT_EQ(entries, expected);
}

TEST_F(ConfigTest, EnvironmentVariablesAreSubstitutedInSourceText) {
  ASSERT_EQ(setenv("TERN_CFG_TEST_ROOT", "/srv/game", 1), 0);
  ASSERT_EQ(setenv("TERN_CFG_TEST_THREADS", "6", 1), 0);
  std::string path = write("c.lua",
                           "root = \"$TERN_CFG_TEST_ROOT/x\"\n"
                           "thread = $TERN_CFG_TEST_THREADS\n"  // outside a string: becomes code
                           "price = \"5$\"\n");                 // a lone $ is left alone
  auto m = as_map(load_config(path));
  EXPECT_EQ(m["root"], "/srv/game/x");
  EXPECT_EQ(m["thread"], "6");
  EXPECT_EQ(m["price"], "5$");
}

TEST_F(ConfigTest, UnsetEnvironmentVariableIsAnErrorNamingIt) {
  ASSERT_EQ(unsetenv("TERN_CFG_TEST_SURELY_UNSET"), 0);
  std::string path = write("c.lua", "thread = 1\n\nroot = \"$TERN_CFG_TEST_SURELY_UNSET/x\"\n");
  std::string e = error_of(path);
  EXPECT_TRUE(starts_with(e, path + ":3:")) << e;
  EXPECT_TRUE(contains(e, "TERN_CFG_TEST_SURELY_UNSET")) << e;
}

TEST_F(ConfigTest, IncludeResolvesRelativeToTheIncludingFile) {
  // Decoys: files with the same names in the wrong directories.
  write("b.lua", "b = 'wrong: top-level b.lua'\n");
  write("sub/c.lua", "c = 'wrong: sub/c.lua'\n");

  std::string main = write("main.lua",
                           "a = 1\n"
                           "include \"sub/a.lua\"\n"
                           "include 'c.lua'\n"  // back in main's directory
                           "after = b .. '!'\n");
  write("sub/a.lua", "from_a = a + 1\ninclude 'b.lua'\n");
  write("sub/b.lua", "b = 'sub/b.lua'\n");
  write("c.lua", "c = 'c.lua'\n");
  auto m = as_map(load_config(main));
  EXPECT_EQ(m["from_a"], "2");
  EXPECT_EQ(m["b"], "sub/b.lua");
  EXPECT_EQ(m["c"], "c.lua");
  EXPECT_EQ(m["after"], "sub/b.lua!");
  EXPECT_EQ(m.count("include"), 0u);
}

TEST_F(ConfigTest, IncludeAbsolutePathAndEnvSubstitutionInIncludedFile) {
  ASSERT_EQ(setenv("TERN_CFG_TEST_NAME", "bootstrap_x", 1), 0);
  std::string other = write("elsewhere/common.lua", "bootstrap = \"$TERN_CFG_TEST_NAME\"\n");
  std::string main = write("deep/dir/main.lua", "include \"" + other + "\"\n");
  EXPECT_EQ(as_map(load_config(main))["bootstrap"], "bootstrap_x");
}

TEST_F(ConfigTest, LoadFromStringIncludesRelativeToChunkname) {
  write("conf/common.lua", "thread = 3\n");
  auto m = as_map(load_config_string("include 'common.lua'\nstart = 'main'\n",
                                     dir_ + "/conf/inline.lua"));
  EXPECT_EQ(m["thread"], "3");
  EXPECT_EQ(m["start"], "main");

  try {
    load_config_string("a = 1\nb = = 2\n", "inline.lua");
    FAIL() << "expected a config_error";
  } catch (const config_error& e) {
    EXPECT_TRUE(starts_with(e.what(), "inline.lua:2:")) << e.what();
  }
}

TEST_F(ConfigTest, SyntaxErrorReportsFileAndLine) {
  std::string path = write("syntax.lua", "a = 1\nb = 2\nc = = 3\nd = 4\n");
  std::string e = error_of(path);
  EXPECT_TRUE(starts_with(e, path + ":3:")) << e;
}

TEST_F(ConfigTest, SyntaxErrorInIncludedFileNamesThatFile) {
  std::string main = write("main.lua", "include 'sub/bad.lua'\n");
  std::string bad = write("sub/bad.lua", "x = 1\ny = (\n");
  std::string e = error_of(main);
  EXPECT_TRUE(starts_with(e, bad + ":")) << e;
}

TEST_F(ConfigTest, RuntimeErrorReportsFileAndLine) {
  std::string path = write("runtime.lua", "thread = 2\nstart = no_such_function()\n");
  std::string e = error_of(path);
  EXPECT_TRUE(starts_with(e, path + ":2:")) << e;
  EXPECT_TRUE(contains(e, "nil")) << e;
}

// Lua itself would shorten such a name to "...<tail>" in its messages.
TEST_F(ConfigTest, LongPathIsReportedInFull) {
  std::string long_dir = "a_directory_name_long_enough_to_pass_lua_idsize_" + std::string(40, 'x');
  std::string runtime = write(long_dir + "/runtime.lua", "a = 1\nb = nope()\n");
  std::string e = error_of(runtime);
  EXPECT_TRUE(starts_with(e, runtime + ":2:")) << e;

  std::string syntax = write(long_dir + "/syntax.lua", "a = 1\n\nb = = 1\n");
  e = error_of(syntax);
  EXPECT_TRUE(starts_with(e, syntax + ":3:")) << e;

  std::string inc = write(long_dir + "/inc.lua", "include 'missing.lua'\n");
  e = error_of(inc);
  EXPECT_TRUE(starts_with(e, inc + ":1:")) << e;
}

TEST_F(ConfigTest, MissingFile) {
  std::string path = dir_ + "/does_not_exist.lua";
  std::string e = error_of(path);
  EXPECT_EQ(e, "cannot open config file '" + path + "': No such file or directory");
}

TEST_F(ConfigTest, MissingIncludedFileReportsTheIncludeLine) {
  std::string main = write("main.lua", "a = 1\ninclude 'missing.lua'\n");
  std::string e = error_of(main);
  EXPECT_TRUE(starts_with(e, main + ":2:")) << e;
  EXPECT_TRUE(contains(e, dir_ + "/missing.lua")) << e;
}

TEST_F(ConfigTest, IncludeCycleIsAnError) {
  std::string main = write("loop.lua", "include 'loop.lua'\n");
  EXPECT_TRUE(contains(error_of(main), "include")) << error_of(main);
}

TEST_F(ConfigTest, TableOrFunctionValueIsAnErrorNamingTheKey) {
  std::string t = write("t.lua", "thread = 1\ncluster = { 1, 2 }\n");
  std::string e = error_of(t);
  EXPECT_TRUE(contains(e, "'cluster'")) << e;
  EXPECT_TRUE(contains(e, "table")) << e;
  EXPECT_TRUE(contains(e, t)) << e;

  std::string f = write("f.lua", "preload = function() end\n");
  EXPECT_TRUE(contains(error_of(f), "'preload'")) << error_of(f);
}

TEST_F(ConfigTest, NonStringKeyIsAnError) {
  std::string path = write("k.lua", "_ENV[1] = 'x'\n");
  EXPECT_TRUE(contains(error_of(path), "key")) << error_of(path);
}

TEST_F(ConfigTest, UnknownKeysAreWarningsAndKept) {
  std::string path = write("c.lua", "thread = 2\nmy_port = 9000\nzz = 'z'\nworker_weights = '1,2'\n");
  std::vector<std::string> warnings;
  auto m = as_map(load_config(path, &warnings));
  std::vector<std::string> expected = {
      "unknown config key 'my_port' (kept, readable with getenv)",
      "unknown config key 'zz' (kept, readable with getenv)"};
  EXPECT_EQ(warnings, expected);
  EXPECT_EQ(m["my_port"], "9000");
  EXPECT_EQ(m["zz"], "z");
  EXPECT_NO_THROW(load_config(path));  // warnings pointer is optional
}

TEST_F(ConfigTest, ClusterKeysAreKnown) {
  std::string path = write("cl.lua",
                           "cluster = 'clustername.lua'\ncluster_secret = 's'\n"
                           "cluster_max_message = 1048576\n");
  std::vector<std::string> warnings;
  auto m = as_map(load_config(path, &warnings));
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(m["cluster_secret"], "s");
  EXPECT_EQ(m["cluster_max_message"], "1048576");
}

TEST_F(ConfigTest, ClusterRegistryKeysAreKnown) {
  std::string path = write("reg.lua",
                           "cluster_registry = 'etcd://127.0.0.1:2379,127.0.0.1:22379'\n"
                           "cluster_registry_prefix = '/p/'\ncluster_registry_ttl = 3\n");
  std::vector<std::string> warnings;
  auto m = as_map(load_config(path, &warnings));
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(m["cluster_registry"], "etcd://127.0.0.1:2379,127.0.0.1:22379");
  EXPECT_EQ(m["cluster_registry_prefix"], "/p/");
  EXPECT_EQ(m["cluster_registry_ttl"], "3");
}

TEST_F(ConfigTest, NonStringErrorObjectNamesTheFile) {
  std::string path = write("e.lua", "error({})\n");
  EXPECT_TRUE(contains(error_of(path), path)) << error_of(path);
}

}  // namespace
}  // namespace tern
