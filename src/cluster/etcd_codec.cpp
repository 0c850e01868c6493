#include "cluster/etcd_codec.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace tern::cluster::etcd {

using json = nlohmann::json;

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  if (text.empty()) return out;
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = 0;
  if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(size_t(n) - pad);
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::vector<std::string> parse_endpoints(std::string_view spec) {
  std::vector<std::string> out;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    for (std::string_view scheme : {"etcd://", "http://"})
      if (item.substr(0, scheme.size()) == scheme) item.remove_prefix(scheme.size());
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '/'))
      item.remove_suffix(1);
    if (!item.empty()) out.push_back("http://" + std::string(item));
  }
  return out;
}

namespace {

// 64-bit numbers go out as strings: JSON numbers past 2^53 lose precision in
// many parsers, and the gateway accepts both.
std::string num(int64_t v) { return std::to_string(v); }

int64_t get_int(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  return 0;
}

std::string get_b64(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_string()) return {};
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) throw std::runtime_error(std::string("bad base64 in ") + field);
  return *decoded;
}

kv parse_kv(const json& j) {
  kv out;
  out.key = get_b64(j, "key");
  out.value = get_b64(j, "value");
  out.lease = get_int(j, "lease");
  out.create_revision = get_int(j, "create_revision");
  out.mod_revision = get_int(j, "mod_revision");
  return out;
}

// {"error": "text", "message": "text", "code": n} (unary) or
// {"error": {"grpc_code": n, "message": "text", ...}} (streams).
std::string error_text(const json& err, const json& whole) {
  if (err.is_string()) return err.get<std::string>();
  if (err.is_object()) {
    auto m = err.find("message");
    if (m != err.end() && m->is_string()) return m->get<std::string>();
  }
  auto m = whole.find("message");
  if (m != whole.end() && m->is_string()) return m->get<std::string>();
  return err.dump();
}

void parse_header(const json& j, result& r) {
  auto h = j.find("header");
  if (h != j.end() && h->is_object()) r.revision = get_int(*h, "revision");
}

}  // namespace

std::string grant_body(int64_t ttl) { return json{{"TTL", num(ttl)}, {"ID", "0"}}.dump(); }
std::string revoke_body(int64_t lease) { return json{{"ID", num(lease)}}.dump(); }
std::string keepalive_body(int64_t lease) { return json{{"ID", num(lease)}}.dump(); }

std::string put_body(std::string_view key, std::string_view value, int64_t lease) {
  json j{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) j["lease"] = num(lease);
  return j.dump();
}

std::string range_body(std::string_view key, std::string_view range_end) {
  json j{{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  return j.dump();
}

std::string delete_body(std::string_view key, std::string_view range_end) {
  return range_body(key, range_end);
}

std::string watch_body(std::string_view key, std::string_view range_end, int64_t start_revision) {
  json req{{"key", base64_encode(key)}};
  if (!range_end.empty()) req["range_end"] = base64_encode(range_end);
  if (start_revision > 0) req["start_revision"] = num(start_revision);
  return json{{"create_request", req}}.dump();
}

const char* path(kind k) {
  switch (k) {
    case kind::grant:
      return "/v3/lease/grant";
    case kind::revoke:
      return "/v3/lease/revoke";
    case kind::keepalive:
      return "/v3/lease/keepalive";
    case kind::put:
      return "/v3/kv/put";
    case kind::range:
      return "/v3/kv/range";
    case kind::del:
      return "/v3/kv/deleterange";
    case kind::watch:
      return "/v3/watch";
  }
  return "";
}

result parse_response(kind k, long http_status, std::string_view body) {
  result r;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error = "HTTP " + std::to_string(http_status) + ": not a JSON object";
    return r;
  }
  if (auto e = j.find("error"); e != j.end()) {
    r.error = error_text(*e, j);
    return r;
  }
  if (http_status != 200) {
    r.error = "HTTP " + std::to_string(http_status);
    return r;
  }
  // A keepalive answer is a stream message: {"result": {...}}.
  const json* body_obj = &j;
  if (k == kind::keepalive) {
    auto res = j.find("result");
    if (res == j.end() || !res->is_object()) {
      r.error = "keepalive: no result";
      return r;
    }
    body_obj = &*res;
  }
  try {
    parse_header(*body_obj, r);
    switch (k) {
      case kind::grant:
      case kind::keepalive:
        r.lease = get_int(*body_obj, "ID");
        r.ttl = get_int(*body_obj, "TTL");
        break;
      case kind::range:
        if (auto kvs = body_obj->find("kvs"); kvs != body_obj->end() && kvs->is_array())
          for (const auto& item : *kvs) r.kvs.push_back(parse_kv(item));
        break;
      case kind::del:
        r.deleted = get_int(*body_obj, "deleted");
        break;
      case kind::revoke:
      case kind::put:
      case kind::watch:
        break;
    }
  } catch (const std::exception& ex) {
    r.error = ex.what();
    return r;
  }
  r.ok = true;
  return r;
}

result parse_watch_line(std::string_view line) {
  result r;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error = "watch: not a JSON object";
    return r;
  }
  if (auto e = j.find("error"); e != j.end()) {
    r.error = "watch: " + error_text(*e, j);
    return r;
  }
  auto res = j.find("result");
  if (res == j.end() || !res->is_object()) {
    r.error = "watch: no result";
    return r;
  }
  try {
    parse_header(*res, r);
    r.created = res->value("created", false);
    r.canceled = res->value("canceled", false);
    r.compact_revision = get_int(*res, "compact_revision");
    if (auto evs = res->find("events"); evs != res->end() && evs->is_array()) {
      for (const auto& ev : *evs) {
        event e;
        e.put = ev.value("type", std::string("PUT")) != "DELETE";
        if (auto kvj = ev.find("kv"); kvj != ev.end() && kvj->is_object()) e.kv = parse_kv(*kvj);
        r.events.push_back(std::move(e));
      }
    }
  } catch (const std::exception& ex) {
    r.error = std::string("watch: ") + ex.what();
    return r;
  }
  if (r.canceled) {
    r.error = "watch canceled";
    if (auto reason = res->find("cancel_reason"); reason != res->end() && reason->is_string())
      r.error += ": " + reason->get<std::string>();
    if (r.compact_revision) r.error += " (compacted at " + std::to_string(r.compact_revision) + ")";
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace tern::cluster::etcd
