// tern::server protocol: the packet splitter's setup (feed() is in the header).
#include "server/protocol.hpp"

namespace tern::server {

void packet_splitter::configure(const settings* s) {
  s_ = s;
  if (s->open_length_check)
    kind_ = kind::length;
  else if (s->open_eof_split && !s->package_eof.empty())
    kind_ = kind::eof_split;
  else if (s->open_eof_check && !s->package_eof.empty())
    kind_ = kind::eof_check;
  else
    kind_ = kind::none;
  buf_.clear();
  scanned_ = 0;
}

bool packet_splitter::fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

}  // namespace tern::server
