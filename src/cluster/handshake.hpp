// tern::cluster handshake: how a link is set up and, with a shared secret,
// how each end proves it knows the secret without sending it.
//
//   server -> client  HELLO    "TRNC" version:u8 flags:u8 server_nonce[32]
//   client -> server  JOIN     "TRNC" version:u8 flags:u8 client_nonce[32] [mac[32]]
//                              name_len:u8 name
//   server -> client  WELCOME  flags:u8 [mac[32]]      (or REFUSE reason, then close)
//
// flags bit 0: a secret is in use (HELLO: the server requires one; JOIN,
// WELCOME: a mac follows). The macs are HMAC-SHA256 keyed with the secret:
//   JOIN    mac = HMAC(secret, "tern-cluster-1 join"    | server_nonce | client_nonce)
//   WELCOME mac = HMAC(secret, "tern-cluster-1 welcome" | server_nonce | client_nonce)
// Distinct labels keep one side's proof from being replayed as the other's;
// fresh nonces on both sides keep an old exchange from being replayed.
//
// Threading: none (pure functions; OpenSSL's RAND_bytes and HMAC are
// thread-safe).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::cluster {

inline constexpr uint8_t kVersion = 1;
inline constexpr std::string_view kMagic = "TRNC";
inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;

using nonce = std::array<uint8_t, kNonceBytes>;
using mac = std::array<uint8_t, kMacBytes>;

// Random bytes from OpenSSL; throws std::runtime_error if it cannot.
nonce random_nonce();

mac join_mac(std::string_view secret, const nonce& server, const nonce& client);
mac welcome_mac(std::string_view secret, const nonce& server, const nonce& client);
// Constant-time comparison.
bool same_mac(const mac& a, const mac& b);

struct hello {
  uint8_t version = kVersion;
  bool auth = false;
  nonce server_nonce{};
};

struct join {
  uint8_t version = kVersion;
  bool has_mac = false;
  nonce client_nonce{};
  mac proof{};
  std::string name;  // the connecting node, for logs (at most 255 bytes)
};

struct welcome {
  bool has_mac = false;
  mac proof{};
};

// Bodies (frame.hpp's control_frame adds the header). decode_* return false
// and say why in *why for a body that is not well formed.
std::string encode(const hello& h);
std::string encode(const join& j);
std::string encode(const welcome& w);
bool decode(std::string_view body, hello& h, std::string* why);
bool decode(std::string_view body, join& j, std::string* why);
bool decode(std::string_view body, welcome& w, std::string* why);

// The server's decision on a JOIN: nullopt = accepted, else the reason to refuse.
std::optional<std::string> check_join(const join& j, const nonce& server_nonce,
                                      std::string_view secret);

}  // namespace tern::cluster
