#include "lua/lua_pack.hpp"

#include <cstdint>
#include <cstring>

#include "tern/core/types.hpp"

namespace tern::lua {

namespace {

constexpr int kNil = 0, kBoolean = 1, kNumber = 2, kUserdata = 3, kShortString = 4,
              kLongString = 5, kTable = 6;
constexpr int kNumZero = 0, kNumByte = 1, kNumWord = 2, kNumDword = 4, kNumQword = 6,
              kNumReal = 8;
constexpr int kMaxCookie = 32;
constexpr int kMaxDepth = 32;

constexpr uint8_t tag(int type, int cookie) { return uint8_t(type | (cookie << 3)); }

// The output buffer lives in a Lua userdata so that a Lua error (longjmp)
// while packing cannot leak it: the garbage collector frees it. Each state
// keeps one in its registry and reuses it (packing is on every message's
// path); a pack nested inside another (a __pairs metamethod that packs) gets
// a fresh one.
struct writer {
  char* data;
  size_t size;
  size_t capacity;
  bool busy;
  char small[128];
};

const char kWriterKey = 0;  // registry key (its address) of the state's writer

int writer_gc(lua_State* L) {
  auto* w = static_cast<writer*>(lua_touserdata(L, 1));
  if (w->data != w->small) mem_free(w->data);
  w->data = w->small;
  return 0;
}

writer* new_writer(lua_State* L) {
  auto* w = static_cast<writer*>(lua_newuserdatauv(L, sizeof(writer), 0));
  w->data = w->small;
  w->size = 0;
  w->capacity = sizeof w->small;
  w->busy = false;
  if (luaL_newmetatable(L, "tern.pack.writer")) {
    lua_pushcfunction(L, writer_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return w;
}

void put(writer* w, const void* p, size_t n) {
  if (w->size + n > w->capacity) {
    size_t cap = w->capacity * 2;
    while (cap < w->size + n) cap *= 2;
    char* bigger = static_cast<char*>(mem_alloc(cap));
    std::memcpy(bigger, w->data, w->size);
    if (w->data != w->small) mem_free(w->data);
    w->data = bigger;
    w->capacity = cap;
  }
  std::memcpy(w->data + w->size, p, n);
  w->size += n;
}

void put_byte(writer* w, uint8_t b) { put(w, &b, 1); }

void put_integer(writer* w, lua_Integer v) {
  if (v == 0) {
    put_byte(w, tag(kNumber, kNumZero));
  } else if (v != lua_Integer(int32_t(v))) {
    put_byte(w, tag(kNumber, kNumQword));
    int64_t x = v;
    put(w, &x, 8);
  } else if (v < 0) {
    put_byte(w, tag(kNumber, kNumDword));
    int32_t x = int32_t(v);
    put(w, &x, 4);
  } else if (v < 0x100) {
    put_byte(w, tag(kNumber, kNumByte));
    put_byte(w, uint8_t(v));
  } else if (v < 0x10000) {
    put_byte(w, tag(kNumber, kNumWord));
    uint16_t x = uint16_t(v);
    put(w, &x, 2);
  } else {
    put_byte(w, tag(kNumber, kNumDword));
    uint32_t x = uint32_t(v);
    put(w, &x, 4);
  }
}

void put_string(writer* w, const char* s, size_t len) {
  if (len < kMaxCookie) {
    put_byte(w, tag(kShortString, int(len)));
  } else if (len < 0x10000) {
    put_byte(w, tag(kLongString, 2));
    uint16_t x = uint16_t(len);
    put(w, &x, 2);
  } else {
    put_byte(w, tag(kLongString, 4));
    uint32_t x = uint32_t(len);
    put(w, &x, 4);
  }
  put(w, s, len);
}

void put_value(lua_State* L, writer* w, int index, int depth);

// The table's __pairs function is on top of the stack.
void put_table_pairs_meta(lua_State* L, writer* w, int index, int depth) {
  put_byte(w, tag(kTable, 0));
  lua_pushvalue(L, index);
  lua_call(L, 1, 3);  // -> next, state, control
  for (;;) {
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_call(L, 2, 2);  // next(state, control) -> key, value
    if (lua_isnil(L, -2)) {
      lua_pop(L, 5);
      break;
    }
    put_value(L, w, -2, depth);
    put_value(L, w, -1, depth);
    lua_pop(L, 1);
    lua_replace(L, -2);  // the key is the next control value
  }
  put_byte(w, tag(kNil, 0));
}

void put_table(lua_State* L, writer* w, int index, int depth) {
  luaL_checkstack(L, 8, nullptr);
  if (index < 0) index = lua_gettop(L) + index + 1;
  if (luaL_getmetafield(L, index, "__pairs") != LUA_TNIL) {
    put_table_pairs_meta(L, w, index, depth);
    return;
  }
  lua_Integer n = lua_Integer(lua_rawlen(L, index));
  if (n >= kMaxCookie - 1) {
    put_byte(w, tag(kTable, kMaxCookie - 1));
    put_integer(w, n);
  } else {
    put_byte(w, tag(kTable, int(n)));
  }
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, index, i);
    put_value(L, w, -1, depth);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointeger(L, -2);
      if (k > 0 && k <= n) {
        lua_pop(L, 1);
        continue;
      }
    }
    put_value(L, w, -2, depth);
    put_value(L, w, -1, depth);
    lua_pop(L, 1);
  }
  put_byte(w, tag(kNil, 0));
}

void put_value(lua_State* L, writer* w, int index, int depth) {
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      put_byte(w, tag(kNil, 0));
      break;
    case LUA_TBOOLEAN:
      put_byte(w, tag(kBoolean, lua_toboolean(L, index) ? 1 : 0));
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        put_integer(w, lua_tointeger(L, index));
      } else {
        put_byte(w, tag(kNumber, kNumReal));
        double d = lua_tonumber(L, index);
        put(w, &d, 8);
      }
      break;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      put_string(w, s, len);
      break;
    }
    case LUA_TLIGHTUSERDATA: {
      put_byte(w, tag(kUserdata, 0));
      void* p = lua_touserdata(L, index);
      put(w, &p, sizeof p);
      break;
    }
    case LUA_TTABLE:
      if (depth >= kMaxDepth) {
        w->busy = false;
        luaL_error(L, "serialize can't pack too depth table");
      }
      put_table(L, w, index, depth + 1);
      break;
    default:
      w->busy = false;
      luaL_error(L, "Unsupport type %s to serialize", luaL_typename(L, index));
  }
}

// The state's reusable writer, or a fresh one if it is in use; pushed.
writer* acquire_writer(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kWriterKey);
  auto* w = static_cast<writer*>(lua_touserdata(L, -1));
  if (w && !w->busy) {
    w->size = 0;
    w->busy = true;
    return w;
  }
  bool first = w == nullptr;
  lua_pop(L, 1);
  w = new_writer(L);
  if (first) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kWriterKey);
  }
  w->busy = true;
  return w;
}

// Packs the stack's values into a writer pushed on top of the stack. The
// caller copies the bytes out, then calls release().
writer* pack_all(lua_State* L) {
  int n = lua_gettop(L);
  writer* w = acquire_writer(L);
  for (int i = 1; i <= n; ++i) put_value(L, w, i, 0);
  return w;
}

void release(writer* w) {
  w->busy = false;
  if (w->capacity > 64 * 1024 && w->data != w->small) {  // do not keep a huge buffer around
    mem_free(w->data);
    w->data = w->small;
    w->capacity = sizeof w->small;
  }
}

struct reader {
  const uint8_t* p;
  size_t left;
};

[[noreturn]] void invalid(lua_State* L, int line) {
  luaL_error(L, "Invalid serialize stream (line:%d)", line);
  __builtin_unreachable();
}

const uint8_t* take(lua_State* L, reader* r, size_t n, int line) {
  if (r->left < n) invalid(L, line);
  const uint8_t* p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

lua_Integer get_integer(lua_State* L, reader* r, int cookie) {
  switch (cookie) {
    case kNumZero:
      return 0;
    case kNumByte:
      return *take(L, r, 1, __LINE__);
    case kNumWord: {
      uint16_t x;
      std::memcpy(&x, take(L, r, 2, __LINE__), 2);
      return x;
    }
    case kNumDword: {
      int32_t x;
      std::memcpy(&x, take(L, r, 4, __LINE__), 4);
      return x;
    }
    case kNumQword: {
      int64_t x;
      std::memcpy(&x, take(L, r, 8, __LINE__), 8);
      return x;
    }
    default:
      invalid(L, __LINE__);
  }
}

void get_value(lua_State* L, reader* r, uint8_t type_byte, int depth);

void get_next(lua_State* L, reader* r, int depth) {
  get_value(L, r, *take(L, r, 1, __LINE__), depth);
}

void get_table(lua_State* L, reader* r, int cookie, int depth) {
  if (depth > kMaxDepth) invalid(L, __LINE__);
  lua_Integer n = cookie;
  if (cookie == kMaxCookie - 1) {
    uint8_t t = *take(L, r, 1, __LINE__);
    if ((t & 7) != kNumber || (t >> 3) == kNumReal) invalid(L, __LINE__);
    n = get_integer(L, r, t >> 3);
    if (n < 0 || size_t(n) > r->left) invalid(L, __LINE__);  // each item needs a byte
  }
  luaL_checkstack(L, 4, nullptr);
  lua_createtable(L, int(n), 0);
  for (lua_Integer i = 1; i <= n; ++i) {
    get_next(L, r, depth);
    lua_rawseti(L, -2, i);
  }
  for (;;) {
    uint8_t t = *take(L, r, 1, __LINE__);
    if (t == tag(kNil, 0)) return;
    get_value(L, r, t, depth);
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)))
      invalid(L, __LINE__);  // nil or NaN key
    get_next(L, r, depth);
    lua_rawset(L, -3);
  }
}

void get_value(lua_State* L, reader* r, uint8_t type_byte, int depth) {
  int type = type_byte & 7;
  int cookie = type_byte >> 3;
  luaL_checkstack(L, 2, nullptr);
  switch (type) {
    case kNil:
      lua_pushnil(L);
      break;
    case kBoolean:
      lua_pushboolean(L, cookie);
      break;
    case kNumber:
      if (cookie == kNumReal) {
        double d;
        std::memcpy(&d, take(L, r, 8, __LINE__), 8);
        lua_pushnumber(L, d);
      } else {
        lua_pushinteger(L, get_integer(L, r, cookie));
      }
      break;
    case kUserdata: {
      void* p;
      std::memcpy(&p, take(L, r, sizeof p, __LINE__), sizeof p);
      lua_pushlightuserdata(L, p);
      break;
    }
    case kShortString: {
      const uint8_t* s = take(L, r, size_t(cookie), __LINE__);
      lua_pushlstring(L, reinterpret_cast<const char*>(s), size_t(cookie));
      break;
    }
    case kLongString: {
      size_t len;
      if (cookie == 2) {
        uint16_t x;
        std::memcpy(&x, take(L, r, 2, __LINE__), 2);
        len = x;
      } else if (cookie == 4) {
        uint32_t x;
        std::memcpy(&x, take(L, r, 4, __LINE__), 4);
        len = x;
      } else {
        invalid(L, __LINE__);
      }
      const uint8_t* s = take(L, r, len, __LINE__);
      lua_pushlstring(L, reinterpret_cast<const char*>(s), len);
      break;
    }
    case kTable:
      get_table(L, r, cookie, depth + 1);
      break;
    default:
      invalid(L, __LINE__);
  }
}

}  // namespace

int pack(lua_State* L) {
  writer* w = pack_all(L);
  void* out = mem_alloc(w->size);
  std::memcpy(out, w->data, w->size);
  lua_Integer size = lua_Integer(w->size);
  release(w);
  lua_pushlightuserdata(L, out);
  lua_pushinteger(L, size);
  return 2;
}

int packstring(lua_State* L) {
  writer* w = pack_all(L);
  lua_pushlstring(L, w->data, w->size);  // may raise (memory): then the writer stays busy
  release(w);
  return 1;
}

int unpack(lua_State* L) {
  if (lua_isnoneornil(L, 1)) return 0;
  reader r{};
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len = 0;
    r.p = reinterpret_cast<const uint8_t*>(lua_tolstring(L, 1, &len));
    r.left = len;
  } else {
    r.p = static_cast<const uint8_t*>(lua_touserdata(L, 1));
    lua_Integer sz = luaL_checkinteger(L, 2);
    if (sz < 0) return luaL_error(L, "unpack: negative size");
    r.left = size_t(sz);
  }
  if (r.left == 0) return 0;
  if (!r.p) return luaL_error(L, "unpack: null buffer");
  lua_settop(L, 1);
  int n = 0;
  while (r.left > 0) {
    if (n % 8 == 0) luaL_checkstack(L, 8, "unpack: too many values");
    get_next(L, &r, 0);
    ++n;
  }
  return n;
}

int trash(lua_State* L) {
  if (lua_type(L, 1) == LUA_TLIGHTUSERDATA) mem_free(lua_touserdata(L, 1));
  return 0;
}

}  // namespace tern::lua
