// skynet.pack / skynet.unpack: Lua values <-> skynet's byte format.
//
// Each value starts with a byte: type | (cookie << 3).
//   0 nil; 1 boolean (cookie 0/1); 2 number: cookie 0 zero, 1 uint8, 2 uint16,
//   4 int32, 6 int64, 8 double; 3 light userdata (pointer bytes);
//   4 short string (cookie = length < 32); 5 long string (cookie 2: uint16
//   length, 4: uint32 length); 6 table: cookie = array size (31: the size
//   follows as a number), then the array, then key/value pairs, then nil.
// Multi-byte values are little-endian (the native order on our targets).
#pragma once

#include <lua.hpp>

namespace tern::lua {

int pack(lua_State* L);        // (...) -> lightuserdata, size (mem_alloc'd; the receiver frees)
int packstring(lua_State* L);  // (...) -> string
int unpack(lua_State* L);      // (lightuserdata, size) or (string) -> ...
int trash(lua_State* L);       // (lightuserdata, size): frees a packed buffer

}  // namespace tern::lua
