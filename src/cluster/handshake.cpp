#include "cluster/handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace tern::cluster {

namespace {

constexpr uint8_t kFlagSecret = 1;

mac hmac_of(std::string_view secret, std::string_view label, const nonce& server,
            const nonce& client) {
  std::string data;
  data.reserve(label.size() + 2 * kNonceBytes);
  data.append(label);
  data.append(reinterpret_cast<const char*>(server.data()), server.size());
  data.append(reinterpret_cast<const char*>(client.data()), client.size());
  mac out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len) ||
      len != out.size())
    throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

template <size_t N>
void put(std::string& s, const std::array<uint8_t, N>& a) {
  s.append(reinterpret_cast<const char*>(a.data()), N);
}

template <size_t N>
bool take(std::string_view& s, std::array<uint8_t, N>& a) {
  if (s.size() < N) return false;
  for (size_t i = 0; i < N; ++i) a[i] = uint8_t(s[i]);
  s.remove_prefix(N);
  return true;
}

bool take_byte(std::string_view& s, uint8_t& b) {
  if (s.empty()) return false;
  b = uint8_t(s[0]);
  s.remove_prefix(1);
  return true;
}

bool take_magic(std::string_view& s, std::string* why) {
  if (s.substr(0, kMagic.size()) != kMagic) {
    if (why) *why = "not a tern cluster node (bad magic)";
    return false;
  }
  s.remove_prefix(kMagic.size());
  return true;
}

bool cut(std::string* why, const char* what) {
  if (why) *why = std::string(what) + " is cut short";
  return false;
}

}  // namespace

nonce random_nonce() {
  nonce n{};
  if (RAND_bytes(n.data(), int(n.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return n;
}

mac join_mac(std::string_view secret, const nonce& server, const nonce& client) {
  return hmac_of(secret, "tern-cluster-1 join", server, client);
}

mac welcome_mac(std::string_view secret, const nonce& server, const nonce& client) {
  return hmac_of(secret, "tern-cluster-1 welcome", server, client);
}

bool same_mac(const mac& a, const mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string encode(const hello& h) {
  std::string s(kMagic);
  s.push_back(char(h.version));
  s.push_back(char(h.auth ? kFlagSecret : 0));
  put(s, h.server_nonce);
  return s;
}

std::string encode(const join& j) {
  std::string s(kMagic);
  s.push_back(char(j.version));
  s.push_back(char(j.has_mac ? kFlagSecret : 0));
  put(s, j.client_nonce);
  if (j.has_mac) put(s, j.proof);
  std::string_view name = std::string_view(j.name).substr(0, 255);
  s.push_back(char(uint8_t(name.size())));
  s.append(name);
  return s;
}

std::string encode(const welcome& w) {
  std::string s;
  s.push_back(char(w.has_mac ? kFlagSecret : 0));
  if (w.has_mac) put(s, w.proof);
  return s;
}

bool decode(std::string_view s, hello& h, std::string* why) {
  if (!take_magic(s, why)) return false;
  uint8_t flags = 0;
  if (!take_byte(s, h.version) || !take_byte(s, flags) || !take(s, h.server_nonce))
    return cut(why, "HELLO");
  h.auth = flags & kFlagSecret;
  return true;
}

bool decode(std::string_view s, join& j, std::string* why) {
  if (!take_magic(s, why)) return false;
  uint8_t flags = 0;
  if (!take_byte(s, j.version) || !take_byte(s, flags) || !take(s, j.client_nonce))
    return cut(why, "JOIN");
  j.has_mac = flags & kFlagSecret;
  if (j.has_mac && !take(s, j.proof)) return cut(why, "JOIN");
  uint8_t len = 0;
  if (!take_byte(s, len) || s.size() != len) return cut(why, "JOIN");
  j.name.assign(s.data(), len);
  return true;
}

bool decode(std::string_view s, welcome& w, std::string* why) {
  uint8_t flags = 0;
  if (!take_byte(s, flags)) return cut(why, "WELCOME");
  w.has_mac = flags & kFlagSecret;
  if (w.has_mac && !take(s, w.proof)) return cut(why, "WELCOME");
  return true;
}

std::optional<std::string> check_join(const join& j, const nonce& server_nonce,
                                      std::string_view secret) {
  if (j.version != kVersion) return "unsupported protocol version " + std::to_string(j.version);
  if (secret.empty()) {
    if (j.has_mac) return std::string("the peer has a cluster secret and this node has none");
    return std::nullopt;
  }
  if (!j.has_mac) return std::string("authentication required (the peer has no cluster secret)");
  if (!same_mac(j.proof, join_mac(secret, server_nonce, j.client_nonce)))
    return std::string("authentication failed (cluster secrets differ)");
  return std::nullopt;
}

}  // namespace tern::cluster
