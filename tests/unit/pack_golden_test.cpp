// skynet.pack's byte format, checked against vectors written from the format
// description (type | cookie << 3, little-endian payloads).
#include <gtest/gtest.h>

#include <lua.hpp>
#include <string>

#include "lua/lua_pack.hpp"

namespace tern {
namespace {

class PackGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "packstring", lua::packstring);
    lua_register(L, "unpack", lua::unpack);
  }
  void TearDown() override { lua_close(L); }

  // Packs the values of a Lua expression list and returns the bytes.
  std::string pack(const std::string& values) {
    std::string code = "return packstring(" + values + ")";
    EXPECT_EQ(luaL_dostring(L, code.c_str()), LUA_OK) << lua_tostring(L, -1);
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    std::string out(s, len);
    lua_settop(L, 0);
    return out;
  }
  // Unpacks bytes and returns Lua's view of the values, comma separated.
  std::string unpack(const std::string& bytes) {
    luaL_dostring(L, "return function(s) local t = table.pack(unpack(s)) local o = {} "
                     "for i = 1, t.n do local v = t[i] o[i] = type(v) == 'table' and 'table' or "
                     "math.type(v) == 'float' and string.format('%.17g', v) or tostring(v) end "
                     "return table.concat(o, ',') end");
    lua_pushlstring(L, bytes.data(), bytes.size());
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      std::string err = std::string("error: ") + lua_tostring(L, -1);
      lua_settop(L, 0);
      return err;
    }
    std::string out = lua_tostring(L, -1);
    lua_settop(L, 0);
    return out;
  }

  lua_State* L = nullptr;
};

std::string b(std::initializer_list<int> bytes) {
  std::string s;
  for (int x : bytes) s.push_back(char(x));
  return s;
}

TEST_F(PackGolden, Scalars) {
  EXPECT_EQ(pack("nil"), b({0x00}));
  EXPECT_EQ(pack("false, true"), b({0x01, 0x09}));
  EXPECT_EQ(pack("0"), b({0x02}));
  EXPECT_EQ(pack("1"), b({0x0a, 0x01}));
  EXPECT_EQ(pack("255"), b({0x0a, 0xff}));
  EXPECT_EQ(pack("256"), b({0x12, 0x00, 0x01}));
  EXPECT_EQ(pack("65535"), b({0x12, 0xff, 0xff}));
  EXPECT_EQ(pack("65536"), b({0x22, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(pack("-1"), b({0x22, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(pack("math.tointeger(-2^31)"), b({0x22, 0x00, 0x00, 0x00, 0x80}));
  EXPECT_EQ(pack("2^31 // 1 | 0"), b({0x32, 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0}));
  EXPECT_EQ(pack("math.maxinteger"), b({0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}));
  EXPECT_EQ(pack("0.5"), b({0x42, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}));
}

TEST_F(PackGolden, Strings) {
  EXPECT_EQ(pack("''"), b({0x04}));
  EXPECT_EQ(pack("'abc'"), b({0x1c, 'a', 'b', 'c'}));
  EXPECT_EQ(pack("string.rep('x', 31)"), std::string(1, char(0xfc)) + std::string(31, 'x'));
  EXPECT_EQ(pack("string.rep('x', 32)"), b({0x15, 32, 0}) + std::string(32, 'x'));
  EXPECT_EQ(pack("string.rep('x', 70000)"), b({0x25, 0x70, 0x11, 0x01, 0x00}) + std::string(70000, 'x'));
}

TEST_F(PackGolden, Tables) {
  EXPECT_EQ(pack("{}"), b({0x06, 0x00}));
  EXPECT_EQ(pack("{1, 2, 3}"), b({0x1e, 0x0a, 1, 0x0a, 2, 0x0a, 3, 0x00}));
  EXPECT_EQ(pack("{x = 1}"), b({0x06, 0x0c, 'x', 0x0a, 1, 0x00}));
  EXPECT_EQ(pack("{{}}"), b({0x0e, 0x06, 0x00, 0x00}));
  std::string forty = pack("(function() local t = {} for i = 1, 40 do t[i] = 0 end return t end)()");
  EXPECT_EQ(forty.substr(0, 3), b({0xfe, 0x0a, 40}));  // cookie 31, then the size as a number
  EXPECT_EQ(forty.size(), 3u + 40u + 1u);
}

TEST_F(PackGolden, PairsMetamethodAndNestedPacking) {
  // __pairs decides what is packed (array size 0, then the pairs), and a
  // __pairs that itself packs must not disturb the outer pack's buffer.
  std::string bytes = pack(
      "setmetatable({}, {__pairs = function(t) local inner = packstring('nested', {1, 2}) "
      "local done = false return function() if done then return nil end done = true "
      "return 'k', #inner end, t, nil end})");
  EXPECT_EQ(bytes, b({0x06, 0x0c, 'k', 0x0a, 13, 0x00}));
  // After an error in the middle of a pack, packing still works.
  EXPECT_NE(luaL_dostring(L, "return packstring({1, function() end})"), LUA_OK);
  lua_settop(L, 0);
  EXPECT_EQ(pack("1"), b({0x0a, 0x01}));
}

TEST_F(PackGolden, UnpackReadsTheSameVectors) {
  EXPECT_EQ(unpack(b({0x00, 0x01, 0x09})), "nil,false,true");
  EXPECT_EQ(unpack(b({0x12, 0x00, 0x01, 0x22, 0xff, 0xff, 0xff, 0xff})), "256,-1");
  EXPECT_EQ(unpack(b({0x42, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f})), "0.5");
  EXPECT_EQ(unpack(b({0x1c, 'a', 'b', 'c'})), "abc");
  EXPECT_EQ(unpack(b({0x1e, 0x0a, 1, 0x0a, 2, 0x0a, 3, 0x00})), "table");
}

TEST_F(PackGolden, TruncatedInputIsALuaError) {
  std::string full = pack("'hello', {1, 2, x = {y = 'z'}}, 2^40 // 1 | 0, 1.5");
  EXPECT_EQ(unpack(full), "hello,table,1099511627776,1.5");
  for (size_t n = 1; n < full.size(); ++n) {
    std::string r = unpack(full.substr(0, n));
    // A prefix may end on a value boundary (then it is valid); otherwise it is an error.
    if (r.rfind("error:", 0) == 0) {
      EXPECT_NE(r.find("Invalid serialize stream"), std::string::npos) << r;
    }
  }
  EXPECT_NE(unpack(b({0x07})).find("error:"), std::string::npos);       // unknown type 7
  // A NaN key cannot go into a table: an error, not a crash.
  EXPECT_NE(unpack(b({0x06, 0x42, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0x0a, 1, 0x00})).find("error:"),
            std::string::npos);
}

}  // namespace
}  // namespace tern
