/* A module that claims another ABI version: the runtime must refuse it. */
#include "tern/module_abi.h"

int oldabi_init(void* inst, tern_context* ctx, const char* args) {
  (void)inst;
  (void)ctx;
  (void)args;
  return 0;
}
int oldabi_abi_version(void) { return TERN_MODULE_ABI_VERSION + 100; }
