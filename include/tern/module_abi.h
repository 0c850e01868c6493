/* The C ABI between the tern runtime and service modules in shared libraries.
 *
 * A module named NAME is a shared library NAME.so found on the `cpath` config
 * patterns ("./cservice/?.so"). It exports:
 *
 *   void* NAME_create(void);                       optional: instance (NULL is allowed)
 *   int   NAME_init(void* inst, tern_context* ctx, const char* args);   0 = success
 *   void  NAME_release(void* inst);                optional
 *   void  NAME_signal(void* inst, int signal);     optional; may run on another thread
 *   int   NAME_abi_version(void);                  optional; must return TERN_MODULE_ABI_VERSION
 *
 * init usually calls tern_callback() to install the message handler. The
 * runtime frees each message's data after the handler returns; a handler that
 * wants to keep the data calls tern_take_message() during the call.
 */
#ifndef TERN_MODULE_ABI_H
#define TERN_MODULE_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_MODULE_ABI_VERSION 1

typedef struct tern_context tern_context;

/* Message types (skynet's PTYPE_* numbers) and send() flags. */
#define TERN_PTYPE_TEXT 0
#define TERN_PTYPE_RESPONSE 1
#define TERN_PTYPE_CLIENT 3
#define TERN_PTYPE_SYSTEM 4
#define TERN_PTYPE_SOCKET 6
#define TERN_PTYPE_ERROR 7
#define TERN_PTYPE_LUA 10
#define TERN_PTYPE_TAG_DONTCOPY 0x10000
#define TERN_PTYPE_TAG_ALLOCSESSION 0x20000

/* Return value is ignored (see tern_take_message). Never runs concurrently for one service. */
typedef int (*tern_cb)(tern_context* ctx, void* ud, int type, int session, uint32_t source,
                       const void* msg, size_t sz);

void tern_callback(tern_context* ctx, void* ud, tern_cb cb);

/* Sends a message. source 0 means the sender itself. Without TAG_DONTCOPY the
 * data is copied; with it, ownership of data (from tern_malloc) passes to the
 * runtime, also on failure. Returns the session (>= 0), or -1 if the
 * destination does not exist (data is freed, the drop is logged). */
int tern_send(tern_context* ctx, uint32_t source, uint32_t destination, int type, int session,
              void* data, size_t sz);
int tern_sendname(tern_context* ctx, uint32_t source, const char* destination, int type,
                  int session, void* data, size_t sz);

/* skynet_command's string interface: TIMEOUT REG QUERY NAME EXIT KILL LAUNCH
 * GETENV SETENV STARTTIME ABORT MONITOR STAT LOGON LOGOFF SIGNAL. The result
 * stays valid until the next command on the same context; NULL means none. */
const char* tern_command(tern_context* ctx, const char* cmd, const char* param);

/* Logs a line through the logger service, with ctx's handle as the source. */
void tern_error(tern_context* ctx, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

/* During a callback: takes ownership of the current message's data. Returns a
 * buffer to release with tern_free (a copy for small inline messages), or NULL
 * for an empty message. */
void* tern_take_message(tern_context* ctx);

uint32_t tern_context_handle(tern_context* ctx);
void* tern_malloc(size_t sz);
void tern_free(void* p);
/* Centiseconds since ctx's node started (skynet.now). */
uint64_t tern_now(tern_context* ctx);

#ifdef __cplusplus
}
#endif

#endif
