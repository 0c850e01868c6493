/* A module written in plain C against the module ABI: echoes requests,
 * remembers its init argument, and names itself. */
#include <stdlib.h>
#include <string.h>

#include "tern/module_abi.h"

struct cecho {
  char* prefix;
};

void* cecho_create(void) { return calloc(1, sizeof(struct cecho)); }

void cecho_release(void* inst) {
  struct cecho* c = inst;
  free(c->prefix);
  free(c);
}

static int on_message(tern_context* ctx, void* ud, int type, int session, uint32_t source,
                      const void* msg, size_t sz) {
  struct cecho* c = ud;
  (void)type;
  if (session > 0) {
    size_t plen = strlen(c->prefix);
    char* out = tern_malloc(plen + sz);
    memcpy(out, c->prefix, plen);
    memcpy(out + plen, msg, sz);
    tern_send(ctx, 0, source, TERN_PTYPE_RESPONSE | TERN_PTYPE_TAG_DONTCOPY, session, out, plen + sz);
  }
  return 0;
}

int cecho_init(void* inst, tern_context* ctx, const char* args) {
  struct cecho* c = inst;
  if (strcmp(args, "fail") == 0) return 1;
  c->prefix = strdup(args);
  tern_command(ctx, "REG", ".cecho");
  tern_callback(ctx, c, on_message);
  return 0;
}

int cecho_abi_version(void) { return TERN_MODULE_ABI_VERSION; }
