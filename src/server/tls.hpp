// tern::server TLS: OpenSSL server sessions over memory BIOs, so that the
// bytes move on tern's own sockets (socket_server DATA events in, send() out)
// and OpenSSL never touches a descriptor. One `context` per TLS port (the
// certificate and key, loaded by the master before anything is forked); one
// `session` per connection.
//
//   ciphertext from the socket -> session::feed -> plaintext (+ bytes to send:
//                                                 handshake, alerts, tickets)
//   plaintext from send()      -> session::write -> ciphertext to send
//
// Threading: a context is shared read-only by every thread of a process. A
// session is not thread-safe: its owner locks `mu` around each call and sends
// what the call produced before unlocking (so records go out in order).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tern::server::tls {

class context {
 public:
  // Loads a PEM certificate (chain) and its private key. nullptr with *error
  // (OpenSSL's reason) on failure.
  static std::shared_ptr<context> load(const std::string& cert_file, const std::string& key_file,
                                       std::string* error);
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;
  [[nodiscard]] SSL_CTX* get() const { return ctx_; }

 private:
  context() = default;
  SSL_CTX* ctx_ = nullptr;
};

class session {
 public:
  enum class status {
    more,      // fine; nothing special (the handshake may still be going on)
    ready,     // the handshake finished during this call
    closed,    // the peer sent close_notify
    failed,    // a handshake or protocol error: *why says what; close the connection
  };

  explicit session(std::shared_ptr<context> ctx);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Ciphertext read from the socket. Appends the decrypted application data to
  // *plain and the bytes to send to the peer to *out (even on failure: an alert).
  status feed(const char* data, size_t size, std::string* plain, std::string* out, std::string* why);
  // Encrypts application data into *out. Before the handshake has finished the
  // bytes are kept and go out (in *out of the feed() that finishes it).
  bool write(std::string_view plain, std::string* out, std::string* why);
  // close_notify into *out (once; nothing if the handshake never finished).
  void shutdown(std::string* out);

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] std::string version() const;  // "TLSv1.3", once ready

  std::mutex mu;

 private:
  void drain(std::string* out);
  std::string error_text(int ssl_error, int ret) const;

  std::shared_ptr<context> ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext for the peer (owned by ssl_)
  bool ready_ = false;
  bool failed_ = false;
  bool shut_ = false;
  std::string early_;  // write() before the handshake finished
};

}  // namespace tern::server::tls
