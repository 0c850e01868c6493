// skynet.pack / skynet.unpack: golden byte vectors written from the format
// description (type | cookie << 3, little-endian payloads), round trips,
// error cases, and hostile input (every truncation of a valid message).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>
#include <string>
#include <vector>

#include "lua/lua_pack.hpp"

namespace tern {
namespace {

// A light userdata with a recognisable pointer value, for golden vectors.
int push_test_pointer(lua_State* L) {
  lua_pushlightuserdata(L, reinterpret_cast<void*>(uintptr_t(0x0102030405060708ull)));
  return 1;
}

// Lua helpers used by the tests: a deep comparison that also tells integers
// from floats, and a nest(n) that builds n nested tables.
const char* kLuaHelpers = R"(
function deep_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == 'number' then
    if math.type(a) ~= math.type(b) then return false end
    return a == b or (a ~= a and b ~= b)
  end
  if type(a) ~= 'table' then return a == b end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function roundtrip(...)
  local before = table.pack(...)
  local s = packstring(...)
  local after = table.pack(unpack(s))
  local p, n = pack(...)
  local via_pointer = table.pack(unpack(p, n))
  trash(p, n)
  return deep_eq(before, after) and deep_eq(before, via_pointer)
end
function nest(n)
  local t = {}
  for _ = 2, n do t = {t} end
  return t
end
)";

class LuaPack : public ::testing::Test {
 protected:
  void SetUp() override {
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "pack", lua::pack);
    lua_register(L, "unpack", lua::unpack);
    lua_register(L, "packstring", lua::packstring);
    lua_register(L, "trash", lua::trash);
    lua_register(L, "test_pointer", push_test_pointer);
    ASSERT_EQ(luaL_dostring(L, kLuaHelpers), LUA_OK) << lua_tostring(L, -1);
  }
  void TearDown() override { lua_close(L); }

  // Runs code; returns "" on success (results left on the stack) or the error.
  std::string run(const std::string& code) {
    lua_settop(L, 0);
    if (luaL_dostring(L, code.c_str()) == LUA_OK) return "";
    std::string err = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(non-string error)";
    return err.empty() ? "(empty error)" : err;
  }

  // The bytes of packstring(values); also checks pack() gives the same bytes.
  std::string pack(const std::string& values) {
    std::string err = run("return packstring(" + values + ")");
    EXPECT_EQ(err, "") << values;
    if (!err.empty()) return "";
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    std::string out(s, len);

    err = run("return pack(" + values + ")");
    EXPECT_EQ(err, "") << values;
    if (err.empty()) {
      EXPECT_EQ(lua_type(L, 1), LUA_TLIGHTUSERDATA);
      auto* p = static_cast<const char*>(lua_touserdata(L, 1));
      auto n = size_t(lua_tointeger(L, 2));
      EXPECT_NE(p, nullptr);
      EXPECT_EQ(std::string(p, n), out) << values;
      lua_pushcfunction(L, lua::trash);
      lua_insert(L, 1);
      EXPECT_EQ(lua_pcall(L, 2, 0, 0), LUA_OK);
    }
    lua_settop(L, 0);
    return out;
  }

  // Unpacks exactly `bytes` from a heap block of that size (so ASan sees any
  // read past the end); returns "" or the error message.
  std::string unpack_error(const std::string& bytes) {
    lua_settop(L, 0);
    void* block = std::malloc(bytes.size() ? bytes.size() : 1);
    if (!bytes.empty()) std::memcpy(block, bytes.data(), bytes.size());
    lua_pushcfunction(L, lua::unpack);
    lua_pushlightuserdata(L, block);
    lua_pushinteger(L, lua_Integer(bytes.size()));
    int rc = lua_pcall(L, 2, LUA_MULTRET, 0);
    std::free(block);
    std::string err = rc == LUA_OK ? "" : lua_tostring(L, -1);
    lua_settop(L, 0);
    return err;
  }

  // Checks the bytes of a value list, and that those bytes unpack to it.
  void golden(const std::string& values, const std::string& bytes) {
    EXPECT_EQ(hex(pack(values)), hex(bytes)) << values;
    lua_pushlstring(L, bytes.data(), bytes.size());
    lua_setglobal(L, "B");
    EXPECT_EQ(run("return deep_eq(table.pack(" + values + "), table.pack(unpack(B)))"), "");
    EXPECT_TRUE(lua_toboolean(L, -1)) << "unpacking " << hex(bytes) << " gives not " << values;
    lua_settop(L, 0);
  }

  void expect_roundtrip(const std::string& values) {
    ASSERT_EQ(run("return roundtrip(" + values + ")"), "") << values;
    EXPECT_TRUE(lua_toboolean(L, -1)) << values;
    lua_settop(L, 0);
  }

  static std::string hex(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
      out += digits[c >> 4];
      out += digits[c & 15];
      out += ' ';
    }
    return out;
  }

  lua_State* L = nullptr;
};

std::string b(std::initializer_list<int> bytes) {
  std::string s;
  for (int x : bytes) s.push_back(char(x));
  return s;
}

TEST_F(LuaPack, GoldenNilBooleansIntegers) {
  golden("nil", b({0x00}));
  golden("true", b({0x09}));
  golden("false", b({0x01}));
  golden("0", b({0x02}));
  golden("1", b({0x0a, 0x01}));
  golden("255", b({0x0a, 0xff}));
  golden("256", b({0x12, 0x00, 0x01}));
  golden("65535", b({0x12, 0xff, 0xff}));
  golden("65536", b({0x22, 0x00, 0x00, 0x01, 0x00}));
  golden("2147483647", b({0x22, 0xff, 0xff, 0xff, 0x7f}));
  golden("-1", b({0x22, 0xff, 0xff, 0xff, 0xff}));
  golden("-2147483648", b({0x22, 0x00, 0x00, 0x00, 0x80}));
  golden("2147483648", b({0x32, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00}));
  golden("-2147483649", b({0x32, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff}));
  golden("math.maxinteger", b({0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}));
  golden("math.mininteger", b({0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80}));
}

TEST_F(LuaPack, GoldenReals) {
  golden("0.5", b({0x42, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}));
  golden("-1.25", b({0x42, 0, 0, 0, 0, 0, 0, 0xf4, 0xbf}));
  golden("1.0", b({0x42, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));  // a float stays a float
  golden("0.0", b({0x42, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_F(LuaPack, GoldenStrings) {
  golden("''", b({0x04}));
  golden("'abc'", b({0x1c, 'a', 'b', 'c'}));
  golden("'a\\0b'", b({0x1c, 'a', 0, 'b'}));
  golden("string.rep('x', 31)", b({0xfc}) + std::string(31, 'x'));
  golden("string.rep('y', 32)", b({0x15, 0x20, 0x00}) + std::string(32, 'y'));
  golden("string.rep('z', 65535)", b({0x15, 0xff, 0xff}) + std::string(65535, 'z'));
  golden("string.rep('w', 65536)", b({0x25, 0x00, 0x00, 0x01, 0x00}) + std::string(65536, 'w'));
  golden("string.rep('v', 70000)", b({0x25, 0x70, 0x11, 0x01, 0x00}) + std::string(70000, 'v'));
}

TEST_F(LuaPack, GoldenTables) {
  golden("{}", b({0x06, 0x00}));
  golden("{1, 2, 3}", b({0x1e, 0x0a, 1, 0x0a, 2, 0x0a, 3, 0x00}));
  golden("{x = 1}", b({0x06, 0x0c, 'x', 0x0a, 1, 0x00}));
  golden("{10, 20, k = 'v'}", b({0x16, 0x0a, 10, 0x0a, 20, 0x0c, 'k', 0x0c, 'v', 0x00}));
  golden("{[0] = true}", b({0x06, 0x02, 0x09, 0x00}));
  golden("{{}}", b({0x0e, 0x06, 0x00, 0x00}));
  golden("{{1}, {}, {a = {}}}",
         b({0x1e, 0x0e, 0x0a, 1, 0x00, 0x06, 0x00, 0x06, 0x0c, 'a', 0x06, 0x00, 0x00, 0x00}));

  // Array sizes up to 30 fit the cookie; 31 and more are cookie 31 + a number.
  std::string thirty = b({0xf6});
  for (int i = 1; i <= 30; ++i) thirty += b({0x0a, i});
  golden("(function() local t = {} for i = 1, 30 do t[i] = i end return t end)()", thirty + b({0}));
  std::string thirty_one = b({0xfe, 0x0a, 31});
  for (int i = 1; i <= 31; ++i) thirty_one += b({0x0a, i});
  golden("(function() local t = {} for i = 1, 31 do t[i] = i end return t end)()",
         thirty_one + b({0}));
  std::string forty = b({0xfe, 0x0a, 40});
  for (int i = 1; i <= 40; ++i) forty += b({0x0a, i});
  golden("(function() local t = {} for i = 1, 40 do t[i] = i end return t end)()", forty + b({0}));
  std::string big = b({0xfe, 0x12, 0x2c, 0x01});  // 300 elements: the size is a uint16
  for (int i = 0; i < 300; ++i) big += b({0x02});
  golden("(function() local t = {} for i = 1, 300 do t[i] = 0 end return t end)()", big + b({0}));
}

TEST_F(LuaPack, GoldenLightUserdataAndSeveralValues) {
  golden("test_pointer()", b({0x03, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  golden("1, 'a', nil, true, {}", b({0x0a, 1, 0x0c, 'a', 0x00, 0x09, 0x06, 0x00}));
  golden("nil, nil", b({0x00, 0x00}));
}

TEST_F(LuaPack, RoundTrips) {
  expect_roundtrip("nil, true, false, 0, 1, -1, 255, 256, 65535, 65536, 2^31 // 1 | 0");
  expect_roundtrip("math.maxinteger, math.mininteger, -2147483648, -2147483649, 4294967296");
  expect_roundtrip("0.5, -0.0, 1e300, -1e-300, math.huge, -math.huge, 0/0, 3.0");
  expect_roundtrip("'', 'abc', string.rep('\\0', 31), string.rep('q', 32), string.rep('r', 100000)");
  expect_roundtrip("test_pointer(), {p = test_pointer()}");
  expect_roundtrip("{1, 2, 3, x = 1, y = {z = {1, 2, {}}}, [-1] = 'neg', [1.5] = 'f', [true] = false}");
  expect_roundtrip("{[100] = 1, [2^40 // 1 | 0] = 2, [-2^63 // 1 | 0] = 3}");
  // A table key unpacks as a new table with the same contents.
  ASSERT_EQ(run("local k, v = next(unpack(packstring({[{1, 2}] = 'v'}))) return deep_eq(k, {1, 2}), v"), "");
  EXPECT_TRUE(lua_toboolean(L, 1));
  EXPECT_STREQ(lua_tostring(L, 2), "v");
  expect_roundtrip("(function() local t = {} for i = 1, 1000 do t[i] = {i, tostring(i)} end return t end)()");
  expect_roundtrip("table.unpack((function() local t = {} for i = 1, 200 do t[i] = i * 3 end return t end)())");
  expect_roundtrip("");  // no values at all
}

TEST_F(LuaPack, ArgumentForms) {
  // No values: pack gives a real pointer and size 0; unpack gives nothing.
  ASSERT_EQ(run("local p, n = pack() local r = select('#', unpack(p, n)) trash(p, n) return p, n, r"), "");
  EXPECT_EQ(lua_type(L, 1), LUA_TLIGHTUSERDATA);
  EXPECT_NE(lua_touserdata(L, 1), nullptr);
  EXPECT_EQ(lua_tointeger(L, 2), 0);
  EXPECT_EQ(lua_tointeger(L, 3), 0);
  ASSERT_EQ(run("return select('#', unpack('')), select('#', unpack(nil)), packstring()"), "");
  EXPECT_EQ(lua_tointeger(L, 1), 0);
  EXPECT_EQ(lua_tointeger(L, 2), 0);
  EXPECT_EQ(lua_rawlen(L, 3), 0u);
  // A string is read whole; a size after it is ignored. trash ignores strings.
  ASSERT_EQ(run("local s = packstring(1, 2, 3) trash(s) return select('#', unpack(s, 1))"), "");
  EXPECT_EQ(lua_tointeger(L, 1), 3);
  // A pointer is read for exactly the given size.
  ASSERT_EQ(run("local p, n = pack(7, 8) local a, b = unpack(p, 2) trash(p, n) return a, b, n"), "");
  EXPECT_EQ(lua_tointeger(L, 1), 7);
  EXPECT_TRUE(lua_isnil(L, 2));
  EXPECT_EQ(lua_tointeger(L, 3), 4);
  EXPECT_NE(run("return unpack(test_pointer(), -1)"), "");
}

TEST_F(LuaPack, NestingLimitAndCycles) {
  expect_roundtrip("nest(32)");  // 32 nested tables are fine...
  std::string err = run("return packstring(nest(33))");  // ...33 are too many
  EXPECT_NE(err.find("serialize can't pack too depth table"), std::string::npos) << err;
  err = run("return pack({1, nest(40)})");
  EXPECT_NE(err.find("serialize can't pack too depth table"), std::string::npos) << err;
  err = run("local t = {} t.self = t return packstring(t)");
  EXPECT_NE(err.find("serialize can't pack too depth table"), std::string::npos) << err;
  err = run("local t = {} t[1] = t return pack(t)");
  EXPECT_NE(err.find("serialize can't pack too depth table"), std::string::npos) << err;
  // After errors in the middle of packs, packing still works.
  golden("{1}", b({0x0e, 0x0a, 1, 0x00}));
  // What skynet packs (up to 33 levels) still unpacks.
  std::string deep(32, char(0x0e));  // array size 1, holding the next table
  deep += b({0x06}) + std::string(33, char(0x00));
  EXPECT_EQ(unpack_error(deep), "");
}

TEST_F(LuaPack, UnsupportedTypes) {
  std::string err = run("return packstring(function() end)");
  EXPECT_NE(err.find("Unsupport type function to serialize"), std::string::npos) << err;
  err = run("return pack({1, {x = coroutine.create(print)}})");
  EXPECT_NE(err.find("Unsupport type thread to serialize"), std::string::npos) << err;
  err = run("return packstring(1, io.stdout)");
  EXPECT_NE(err.find("Unsupport type userdata to serialize"), std::string::npos) << err;
  err = run("return packstring({[print] = 1})");
  EXPECT_NE(err.find("Unsupport type function to serialize"), std::string::npos) << err;
  golden("'still fine'", b({0x54}) + "still fine");
}

TEST_F(LuaPack, PairsMetamethod) {
  // __pairs decides what is packed: array size 0, then its pairs, then nil.
  EXPECT_EQ(hex(pack("setmetatable({}, {__pairs = function() return next, {a = 1}, nil end})")),
            hex(b({0x06, 0x0c, 'a', 0x0a, 1, 0x00})));
  // The raw contents of the proxy are not packed, only what __pairs yields;
  // array-like pairs go into the hash part and unpack as an array.
  EXPECT_EQ(hex(pack("setmetatable({9, 9, 9}, {__pairs = function() return ipairs({5, 6}) end})")),
            hex(b({0x06, 0x0a, 1, 0x0a, 5, 0x0a, 2, 0x0a, 6, 0x00})));
  ASSERT_EQ(run("local t = unpack(packstring(setmetatable({}, {__pairs = function() "
                "return ipairs({5, 6}) end}))) return deep_eq(t, {5, 6})"),
            "");
  EXPECT_TRUE(lua_toboolean(L, 1));
  // A metatable without __pairs is ignored.
  golden("setmetatable({7}, {__index = function() return 1 end})", b({0x0e, 0x0a, 7, 0x00}));
  // A __pairs that packs (a nested pack) does not disturb the outer buffer.
  EXPECT_EQ(hex(pack("{1, setmetatable({}, {__pairs = function(t) local inner = packstring('nested', "
                     "{1, 2}) return next, {k = #inner}, nil end}), 2}")),
            hex(b({0x1e, 0x0a, 1, 0x06, 0x0c, 'k', 0x0a, 13, 0x00, 0x0a, 2, 0x00})));
  // An error raised by __pairs propagates, and packing works afterwards.
  std::string err = run("return packstring(setmetatable({}, {__pairs = function() error('boom') end}))");
  EXPECT_NE(err.find("boom"), std::string::npos) << err;
  golden("{x = 'y'}", b({0x06, 0x0c, 'x', 0x0c, 'y', 0x00}));
}

TEST_F(LuaPack, EveryTruncationIsALuaError) {
  // One top-level table, so every proper prefix ends inside a value.
  std::string full = pack(
      "{'hello', 2.5, -7, 70000, 2^40 // 1 | 0, true, false, test_pointer(), string.rep('s', 40),"
      " {1, 2, x = {y = 'z', [3.5] = {}}}, k = 'v', [-3] = nest(5),"
      " arr = (function() local t = {} for i = 1, 35 do t[i] = i * 1000 end return t end)()}");
  ASSERT_GT(full.size(), 100u);
  EXPECT_EQ(unpack_error(full), "");
  for (size_t n = 1; n < full.size(); ++n) {
    std::string err = unpack_error(full.substr(0, n));
    EXPECT_NE(err.find("Invalid serialize stream"), std::string::npos) << "prefix " << n << ": " << err;
  }
  // With several values, a prefix may end between values (then it is valid),
  // but it never crashes and an error is always the invalid stream error.
  std::string several = pack("'a', {b = 'c'}, 1.5, string.rep('d', 300), {1, {2, {3}}}");
  for (size_t n = 0; n <= several.size(); ++n) {
    std::string err = unpack_error(several.substr(0, n));
    if (!err.empty()) {
      EXPECT_NE(err.find("Invalid serialize stream"), std::string::npos) << err;
    }
  }
}

TEST_F(LuaPack, InvalidStreams) {
  const std::vector<std::string> bad = {
      b({0x07}),                                         // unknown type 7
      b({0x1a}), b({0x2a}), b({0x3a}), b({0x4a + 8}),    // number cookies 3, 5, 7, 9
      b({0x0d, 0x20}), b({0x1d, 0, 0, 0}),               // long string cookies 1 and 3
      b({0x15, 0x10}),                                   // uint16 length cut short
      b({0x25, 0xff, 0xff, 0xff, 0xff, 'a'}),            // length past the end
      b({0x06, 0x42, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0x0a, 1, 0x00}),  // NaN key
      b({0x06, 0x08, 0x0a, 1, 0x00}),                    // a nil key (nil with a cookie)
      b({0xfe, 0x42, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}),    // array size given as a real
      b({0xfe, 0x22, 0xff, 0xff, 0xff, 0xff, 0x00}),     // negative array size
      b({0xfe, 0x22, 0xff, 0xff, 0xff, 0x7f, 0x00}),     // array size far past the end
      b({0xfe, 0x0c, 'a', 0x00}),                        // array size given as a string
      b({0x06, 0x0c, 'k'}),                              // key without a value
      b({0x06}),                                         // no terminator
      b({0x03, 1, 2, 3}),                                // pointer cut short
  };
  for (const std::string& s : bad) {
    std::string err = unpack_error(s);
    EXPECT_NE(err.find("Invalid serialize stream"), std::string::npos) << hex(s) << ": " << err;
  }
  // Hostile nesting is refused, not a C stack overflow.
  std::string deep(1000000, char(0x06));
  EXPECT_NE(unpack_error(deep).find("Invalid serialize stream"), std::string::npos);
  std::string in_hash;
  for (int i = 0; i < 100000; ++i) in_hash += b({0x06, 0x06});
  EXPECT_NE(unpack_error(in_hash).find("Invalid serialize stream"), std::string::npos);
  // Something valid after all that.
  EXPECT_EQ(unpack_error(b({0x0a, 1})), "");
}

TEST_F(LuaPack, LargeMessageThenSmall) {
  // A large pack grows the reused buffer; later small packs are unaffected.
  expect_roundtrip("string.rep('L', 200000), {string.rep('M', 100000)}");
  golden("1, 2", b({0x0a, 1, 0x0a, 2}));
}

}  // namespace
}  // namespace tern
