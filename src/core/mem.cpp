// Payload memory. Every buffer that travels in a message comes from here, so a
// different allocator can be swapped in at one place.
#include <cstdlib>
#include <new>

#include "tern/core/types.hpp"

namespace tern {

void* mem_alloc(size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  return p;
}

void mem_free(void* p) { std::free(p); }

}  // namespace tern
