// skynet.pack / skynet.unpack (format: see lua_pack.hpp).
//
// Error handling: Lua here is built as C, so its errors are longjmps. Nothing
// in this file holds a C++ object with a destructor across a call that can
// raise, and nothing throws: the one allocator that may throw (mem_alloc) is
// called inside a try block that is closed before any Lua error is raised.
#include "lua/lua_pack.hpp"

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tern/core/types.hpp"

namespace tern::lua {

namespace {

constexpr int kNil = 0, kBoolean = 1, kNumber = 2, kUserdata = 3, kShortString = 4,
              kLongString = 5, kTable = 6;
constexpr int kNumZero = 0, kNumByte = 1, kNumWord = 2, kNumDword = 4, kNumQword = 6,
              kNumReal = 8;
constexpr int kMaxCookie = 32;       // cookies are 5 bits; 31 means "size follows"
constexpr int kMaxPackDepth = 32;    // nested tables allowed when packing
// skynet itself packs up to 33 levels; a little more is accepted so that any
// message it sends unpacks, while C recursion stays bounded on hostile input.
constexpr int kMaxUnpackDepth = 128;
constexpr size_t kKeepCapacity = 64 * 1024;  // larger buffers are not kept for reuse

constexpr uint8_t tag(int type, int cookie) { return uint8_t(type | (cookie << 3)); }

// ---------------------------------------------------------------------------
// Packing

// The output buffer lives in a Lua userdata so that a Lua error (longjmp) in
// the middle of a pack cannot leak it: its __gc frees it. Each state keeps one
// writer in its registry and reuses it, since packing is on every message's
// path. A writer found busy is either in use by an outer pack (a __pairs
// metamethod that packs) or was left busy by an error; either way a fresh one
// takes its place in the registry, so the cache heals itself.
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
  if (w->data != w->small) std::free(w->data);
  w->data = w->small;
  w->capacity = sizeof w->small;
  return 0;
}

// Raises a Lua error after marking the writer free again (its buffer is kept).
[[noreturn]] void pack_fail(lua_State* L, writer* w, const char* msg) {
  w->busy = false;
  lua_pushstring(L, msg);
  lua_error(L);
  __builtin_unreachable();
}

[[gnu::noinline]] void grow(lua_State* L, writer* w, size_t n) {
  if (n > SIZE_MAX / 4 - w->size) pack_fail(L, w, "serialize: message too large");
  size_t cap = w->capacity * 2;
  while (cap < w->size + n) cap *= 2;
  char* bigger;
  if (w->data == w->small) {
    bigger = static_cast<char*>(std::malloc(cap));
    if (bigger) std::memcpy(bigger, w->data, w->size);
  } else {
    bigger = static_cast<char*>(std::realloc(w->data, cap));
  }
  if (!bigger) pack_fail(L, w, "serialize: not enough memory");
  w->data = bigger;
  w->capacity = cap;
}

// Room for n more bytes; returns where they go. The caller adds to w->size.
inline char* reserve(lua_State* L, writer* w, size_t n) {
  if (w->capacity - w->size < n) [[unlikely]] grow(L, w, n);
  return w->data + w->size;
}

inline void put_byte(lua_State* L, writer* w, uint8_t b) {
  *reserve(L, w, 1) = char(b);
  w->size += 1;
}

// A tag byte followed by n payload bytes copied from p.
inline void put_tagged(lua_State* L, writer* w, uint8_t t, const void* p, size_t n) {
  char* out = reserve(L, w, 1 + n);
  out[0] = char(t);
  std::memcpy(out + 1, p, n);
  w->size += 1 + n;
}

void put_integer(lua_State* L, writer* w, lua_Integer v) {
  if (v == 0) {
    put_byte(L, w, tag(kNumber, kNumZero));
  } else if (v != lua_Integer(int32_t(v))) {
    int64_t x = v;
    put_tagged(L, w, tag(kNumber, kNumQword), &x, 8);
  } else if (v < 0) {
    int32_t x = int32_t(v);
    put_tagged(L, w, tag(kNumber, kNumDword), &x, 4);
  } else if (v < 0x100) {
    uint8_t x = uint8_t(v);
    put_tagged(L, w, tag(kNumber, kNumByte), &x, 1);
  } else if (v < 0x10000) {
    uint16_t x = uint16_t(v);
    put_tagged(L, w, tag(kNumber, kNumWord), &x, 2);
  } else {
    uint32_t x = uint32_t(v);
    put_tagged(L, w, tag(kNumber, kNumDword), &x, 4);
  }
}

void put_string(lua_State* L, writer* w, const char* s, size_t len) {
  if (len < kMaxCookie) {
    put_tagged(L, w, tag(kShortString, int(len)), s, len);
    return;
  }
  if (len < 0x10000) {
    uint16_t x = uint16_t(len);
    put_tagged(L, w, tag(kLongString, 2), &x, 2);
  } else {
    if (len > UINT32_MAX) pack_fail(L, w, "serialize can't pack a string longer than 4 GiB");
    uint32_t x = uint32_t(len);
    put_tagged(L, w, tag(kLongString, 4), &x, 4);
  }
  std::memcpy(reserve(L, w, len), s, len);
  w->size += len;
}

void put_value(lua_State* L, writer* w, int index, int depth);

// The table's __pairs metamethod is on top of the stack: array size 0, then
// whatever pairs the iteration produces. User code runs here and may raise.
void put_table_by_pairs(lua_State* L, writer* w, int index, int depth) {
  put_byte(L, w, tag(kTable, 0));
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
  put_byte(L, w, tag(kNil, 0));
}

void put_table(lua_State* L, writer* w, int index, int depth) {
  if (!lua_checkstack(L, 8)) pack_fail(L, w, "serialize: Lua stack overflow");
  if (index < 0) index = lua_gettop(L) + index + 1;
  if (luaL_getmetafield(L, index, "__pairs") != LUA_TNIL) {
    put_table_by_pairs(L, w, index, depth);
    return;
  }
  lua_Integer n = lua_Integer(lua_rawlen(L, index));
  if (n >= kMaxCookie - 1) {
    put_byte(L, w, tag(kTable, kMaxCookie - 1));
    put_integer(L, w, n);
  } else {
    put_byte(L, w, tag(kTable, int(n)));
  }
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, index, i);
    put_value(L, w, -1, depth);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    if (n > 0 && lua_isinteger(L, -2)) {  // skip what the array part already wrote
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
  put_byte(L, w, tag(kNil, 0));
}

void put_value(lua_State* L, writer* w, int index, int depth) {
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      put_byte(L, w, tag(kNil, 0));
      break;
    case LUA_TBOOLEAN:
      put_byte(L, w, tag(kBoolean, lua_toboolean(L, index) ? 1 : 0));
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        put_integer(L, w, lua_tointeger(L, index));
      } else {
        double d = lua_tonumber(L, index);
        put_tagged(L, w, tag(kNumber, kNumReal), &d, 8);
      }
      break;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      put_string(L, w, s, len);
      break;
    }
    case LUA_TLIGHTUSERDATA: {
      void* p = lua_touserdata(L, index);
      put_tagged(L, w, tag(kUserdata, 0), &p, sizeof p);
      break;
    }
    case LUA_TTABLE:
      if (depth >= kMaxPackDepth) pack_fail(L, w, "serialize can't pack too depth table");
      put_table(L, w, index, depth + 1);
      break;
    default:
      w->busy = false;
      luaL_error(L, "Unsupport type %s to serialize", luaL_typename(L, index));
  }
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

// Pushes the state's writer, marked busy and empty.
writer* acquire_writer(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kWriterKey);
  auto* w = static_cast<writer*>(lua_touserdata(L, -1));
  if (!w || w->busy) {
    lua_pop(L, 1);
    w = new_writer(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kWriterKey);
  }
  w->size = 0;
  w->busy = true;
  return w;
}

// Packs arguments 1..top into the state's writer, left pushed on the stack.
// The caller copies the bytes out, then calls release().
writer* pack_all(lua_State* L) {
  int n = lua_gettop(L);
  writer* w = acquire_writer(L);
  for (int i = 1; i <= n; ++i) put_value(L, w, i, 0);
  return w;
}

void release(writer* w) {
  w->busy = false;
  if (w->capacity > kKeepCapacity) {  // one huge message should not pin its buffer
    std::free(w->data);
    w->data = w->small;
    w->capacity = sizeof w->small;
  }
}

// ---------------------------------------------------------------------------
// Unpacking

struct reader {
  lua_State* L;
  const uint8_t* begin;
  const uint8_t* p;
  size_t left;
};

// The number is the offset of the byte being read; line says which check failed.
[[noreturn]] void invalid(reader* r, int line) {
  luaL_error(r->L, "Invalid serialize stream %d (line:%d)", int(r->p - r->begin), line);
  __builtin_unreachable();
}

inline const uint8_t* take(reader* r, size_t n, int line) {
  if (r->left < n) [[unlikely]] invalid(r, line);
  const uint8_t* p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

// Fixed-size little-endian field; memcpy because the stream has no alignment.
template <typename T>
inline T take_as(reader* r, int line) {
  T x;
  std::memcpy(&x, take(r, sizeof x, line), sizeof x);
  return x;
}

lua_Integer get_integer(reader* r, int cookie) {
  switch (cookie) {
    case kNumZero:
      return 0;
    case kNumByte:
      return take_as<uint8_t>(r, __LINE__);
    case kNumWord:
      return take_as<uint16_t>(r, __LINE__);
    case kNumDword:
      return take_as<int32_t>(r, __LINE__);
    case kNumQword:
      return take_as<int64_t>(r, __LINE__);
    default:
      invalid(r, __LINE__);
  }
}

void get_value(reader* r, uint8_t type_byte, int depth);

inline void get_next(reader* r, int depth) { get_value(r, *take(r, 1, __LINE__), depth); }

void get_table(reader* r, int cookie, int depth) {
  lua_State* L = r->L;
  if (depth > kMaxUnpackDepth) invalid(r, __LINE__);
  lua_Integer n = cookie;
  if (cookie == kMaxCookie - 1) {
    uint8_t t = *take(r, 1, __LINE__);
    if ((t & 7) != kNumber || (t >> 3) == kNumReal) invalid(r, __LINE__);
    n = get_integer(r, t >> 3);
    // Each element takes at least a byte: this bounds the preallocation.
    if (n < 0 || uint64_t(n) > r->left || n > INT_MAX) invalid(r, __LINE__);
  }
  luaL_checkstack(L, 4, "unpack: tables nested too deep");
  lua_createtable(L, int(n), 0);
  for (lua_Integer i = 1; i <= n; ++i) {
    get_next(r, depth);
    lua_rawseti(L, -2, i);
  }
  for (;;) {
    uint8_t t = *take(r, 1, __LINE__);
    if (t == tag(kNil, 0)) return;                 // the terminator
    if ((t & 7) == kNil) invalid(r, __LINE__);     // a nil key: rawset would raise
    get_value(r, t, depth);
    if (t == tag(kNumber, kNumReal) && std::isnan(lua_tonumber(L, -1)))
      invalid(r, __LINE__);                        // a NaN key: rawset would raise
    get_next(r, depth);
    lua_rawset(L, -3);
  }
}

void get_value(reader* r, uint8_t type_byte, int depth) {
  lua_State* L = r->L;
  int cookie = type_byte >> 3;
  switch (type_byte & 7) {
    case kNil:
      lua_pushnil(L);
      break;
    case kBoolean:
      lua_pushboolean(L, cookie);
      break;
    case kNumber:
      if (cookie == kNumReal)
        lua_pushnumber(L, take_as<double>(r, __LINE__));
      else
        lua_pushinteger(L, get_integer(r, cookie));
      break;
    case kUserdata:
      lua_pushlightuserdata(L, take_as<void*>(r, __LINE__));
      break;
    case kShortString: {
      const uint8_t* s = take(r, size_t(cookie), __LINE__);
      lua_pushlstring(L, reinterpret_cast<const char*>(s), size_t(cookie));
      break;
    }
    case kLongString: {
      size_t len;
      if (cookie == 2)
        len = take_as<uint16_t>(r, __LINE__);
      else if (cookie == 4)
        len = take_as<uint32_t>(r, __LINE__);
      else
        invalid(r, __LINE__);
      const uint8_t* s = take(r, len, __LINE__);
      lua_pushlstring(L, reinterpret_cast<const char*>(s), len);
      break;
    }
    case kTable:
      get_table(r, cookie, depth + 1);
      break;
    default:
      invalid(r, __LINE__);
  }
}

// mem_alloc reports failure by throwing; that must not cross Lua frames.
void* try_mem_alloc(size_t n) noexcept {
  try {
    return mem_alloc(n);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

int pack(lua_State* L) {
  writer* w = pack_all(L);
  void* out = try_mem_alloc(w->size);
  if (!out) pack_fail(L, w, "serialize: not enough memory");
  std::memcpy(out, w->data, w->size);
  lua_Integer size = lua_Integer(w->size);
  release(w);
  lua_pushlightuserdata(L, out);
  lua_pushinteger(L, size);
  return 2;
}

int packstring(lua_State* L) {
  writer* w = pack_all(L);
  lua_pushlstring(L, w->data, w->size);  // a memory error here leaves w busy: replaced next time
  release(w);
  return 1;
}

int unpack(lua_State* L) {
  if (lua_isnoneornil(L, 1)) return 0;
  reader r{L, nullptr, nullptr, 0};
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len = 0;
    r.p = reinterpret_cast<const uint8_t*>(lua_tolstring(L, 1, &len));
    r.left = len;
  } else {
    r.p = static_cast<const uint8_t*>(lua_touserdata(L, 1));
    lua_Integer size = luaL_checkinteger(L, 2);
    if (size < 0) return luaL_error(L, "unpack: negative size %d", int(size));
    r.left = size_t(size);
    if (r.left > 0 && !r.p) return luaL_argerror(L, 1, "userdata or string expected");
  }
  r.begin = r.p;
  lua_settop(L, 1);  // keeps a string argument (the bytes being read) alive
  int n = 0;
  while (r.left > 0) {
    if (n % 16 == 0) luaL_checkstack(L, 16, "unpack: too many values");
    get_next(&r, 0);
    ++n;
  }
  return n;
}

int trash(lua_State* L) {
  if (lua_type(L, 1) == LUA_TLIGHTUSERDATA) mem_free(lua_touserdata(L, 1));
  return 0;
}

}  // namespace tern::lua
