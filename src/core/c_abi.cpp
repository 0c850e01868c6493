// The C ABI of include/tern/module_abi.h, for modules in shared libraries.
#include <fmt/format.h>

#include <cstdarg>
#include <cstring>

#include "core/context.hpp"
#include "core/node_impl.hpp"

using tern::node_impl;

extern "C" {

void tern_callback(tern_context* ctx, void* ud, tern_cb cb) {
  ctx->cb_ud = ud;
  ctx->cb = cb;
}

int tern_send(tern_context* ctx, uint32_t source, uint32_t destination, int type, int session,
              void* data, size_t sz) {
  return ctx->node->send(ctx, source, destination, type, session, data, sz);
}

int tern_sendname(tern_context* ctx, uint32_t source, const char* destination, int type,
                  int session, void* data, size_t sz) {
  return ctx->node->send_name(ctx, source, destination, type, session, data, sz);
}

const char* tern_command(tern_context* ctx, const char* cmd, const char* param) {
  return ctx->node->command(ctx, cmd, param ? param : "");
}

void tern_error(tern_context* ctx, const char* fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  std::string text;
  if (size_t(n) < sizeof small) {
    text.assign(small, size_t(n));
  } else {
    text.resize(size_t(n) + 1);
    va_start(ap, fmt);
    vsnprintf(text.data(), text.size(), fmt, ap);
    va_end(ap);
    text.resize(size_t(n));
  }
  ctx->node->log(ctx->handle, text);
}

void* tern_take_message(tern_context* ctx) {
  tern::message* m = ctx->current;
  if (!m || ctx->current_taken) return nullptr;
  ctx->current_taken = true;
  // An empty message has nothing to own: NULL, not a 1-byte buffer that a
  // forwarding Lua service (a timer's wake-up, say) would never free.
  if (m->size == 0) return nullptr;
  if (!m->is_inline()) return m->payload.ptr;
  void* copy = tern::mem_alloc(m->size);
  std::memcpy(copy, m->payload.bytes, m->size);
  return copy;
}

uint32_t tern_context_handle(tern_context* ctx) { return ctx->handle; }
void* tern_malloc(size_t sz) { return tern::mem_alloc(sz); }
void tern_free(void* p) { tern::mem_free(p); }
uint64_t tern_now(tern_context* ctx) { return ctx->node->now(); }

}  // extern "C"
