// tern::server TLS sessions over memory BIOs (see tls.hpp).
#include "server/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <climits>
#include <utility>

namespace tern::server::tls {

namespace {

// The reason of the oldest error on this thread's OpenSSL queue (and clears it).
std::string openssl_reason(std::string_view fallback) {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    const char* r = ERR_reason_error_string(code);
    if (r) {
      out = r;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      out = buf;
    }
  }
  ERR_clear_error();
  return out.empty() ? std::string(fallback) : out;
}

}  // namespace

// --- context -------------------------------------------------------------------

std::shared_ptr<context> context::load(const std::string& cert_file, const std::string& key_file,
                                       std::string* error) {
  ERR_clear_error();
  std::shared_ptr<context> c(new context());
  c->ctx_ = SSL_CTX_new(TLS_server_method());
  if (!c->ctx_) {
    *error = "SSL_CTX_new: " + openssl_reason("out of memory");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(c->ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c->ctx_, SSL_MODE_RELEASE_BUFFERS);  // idle connections keep no record buffers
  if (SSL_CTX_use_certificate_chain_file(c->ctx_, cert_file.c_str()) != 1) {
    *error = "ssl_cert_file " + cert_file + ": " + openssl_reason("cannot load the certificate");
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(c->ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "ssl_key_file " + key_file + ": " + openssl_reason("cannot load the private key");
    return nullptr;
  }
  if (SSL_CTX_check_private_key(c->ctx_) != 1) {
    *error = "ssl_key_file " + key_file + " does not match ssl_cert_file " + cert_file + ": " +
             openssl_reason("key mismatch");
    return nullptr;
  }
  return c;
}

context::~context() {
  if (ctx_) SSL_CTX_free(ctx_);
}

// --- session -------------------------------------------------------------------

session::session(std::shared_ptr<context> ctx) : ctx_(std::move(ctx)) {
  ssl_ = ctx_ ? SSL_new(ctx_->get()) : nullptr;
  if (ssl_) {
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
  }
  if (!ssl_ || !in_ || !out_) {
    if (in_) BIO_free(in_);
    if (out_) BIO_free(out_);
    in_ = out_ = nullptr;
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    failed_ = true;
    ERR_clear_error();
    return;
  }
  // An empty BIO means "try again later", not end of file.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both now
  SSL_set_accept_state(ssl_);
}

session::~session() {
  if (ssl_) SSL_free(ssl_);
}

void session::drain(std::string* out) {
  if (!out_) return;
  for (;;) {
    size_t n = BIO_ctrl_pending(out_);
    if (n == 0) return;
    if (n > INT_MAX) n = INT_MAX;
    size_t old = out->size();
    out->resize(old + n);
    int r = BIO_read(out_, out->data() + old, int(n));
    out->resize(old + size_t(r > 0 ? r : 0));
    if (r <= 0) return;
  }
}

std::string session::error_text(int ssl_error, int ret) const {
  switch (ssl_error) {
    case SSL_ERROR_SSL:
      return openssl_reason("protocol error");
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      return ret == 0 ? "unexpected end of stream" : "system error";
    default:
      ERR_clear_error();
      return "SSL error " + std::to_string(ssl_error);
  }
}

session::status session::feed(const char* data, size_t size, std::string* plain, std::string* out,
                              std::string* why) {
  if (failed_) {
    *why = ssl_ ? "the session failed earlier" : "cannot make a TLS session (out of memory?)";
    return status::failed;
  }
  ERR_clear_error();
  while (size > 0) {  // a memory BIO takes everything (it grows)
    int chunk = size > size_t(INT_MAX) ? INT_MAX : int(size);
    int w = BIO_write(in_, data, chunk);
    if (w <= 0) {
      failed_ = true;
      *why = "BIO_write failed";
      return status::failed;
    }
    data += w;
    size -= size_t(w);
  }
  bool became_ready = false;
  if (!ready_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      drain(out);  // the next handshake flight, or an alert
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return status::more;
      failed_ = true;
      *why = "TLS handshake failed: " + error_text(e, r);
      return status::failed;
    }
    ready_ = became_ready = true;
    if (!early_.empty()) {
      std::string pending;
      pending.swap(early_);
      if (!write(pending, out, why)) return status::failed;
    }
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, int(sizeof buf));
    if (n > 0) {
      plain->append(buf, size_t(n));
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    drain(out);
    if (e == SSL_ERROR_ZERO_RETURN) return status::closed;
    failed_ = true;
    *why = "TLS error: " + error_text(e, n);
    return status::failed;
  }
  drain(out);  // e.g. TLS 1.3 session tickets after the handshake
  return became_ready ? status::ready : status::more;
}

bool session::write(std::string_view plain, std::string* out, std::string* why) {
  if (failed_ || shut_) {
    *why = failed_ ? "the TLS session failed" : "the TLS session is shut down";
    return false;
  }
  if (!ready_) {
    early_.append(plain);
    return true;
  }
  ERR_clear_error();
  while (!plain.empty()) {
    int chunk = plain.size() > size_t(INT_MAX) ? INT_MAX : int(plain.size());
    int n = SSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) {
      int e = SSL_get_error(ssl_, n);
      failed_ = true;
      *why = "TLS write failed: " + error_text(e, n);
      drain(out);
      return false;
    }
    plain.remove_prefix(size_t(n));
  }
  drain(out);
  return true;
}

void session::shutdown(std::string* out) {
  if (!ready_ || failed_ || shut_ || !ssl_) return;
  shut_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's
  ERR_clear_error();
  drain(out);
}

std::string session::version() const { return ready_ && ssl_ ? SSL_get_version(ssl_) : ""; }

}  // namespace tern::server::tls
