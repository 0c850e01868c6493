// tern_load_client: a TCP echo load generator for the network benchmarks.
//
// What it measures: N connections each keep W messages outstanding against an
// echo server (closed loop: every fully echoed message sends the next one).
// Reported, over the measured window only (after --warmup): throughput in
// echoed messages per second, per-message round-trip latency (each message
// carries its send timestamp in its first 8 payload bytes; p50/p99 come from a
// log-linear histogram with < 1% relative error), and the CPU time per message
// of the server (--server-pid: utime+stime of the whole process, all threads,
// from /proc/PID/stat, 10 ms resolution) and of this client (getrusage).
// Every reply is checked byte for byte against what was sent.
//
// --websocket PATH: the same over WebSocket (RFC 6455). Each connection first
// upgrades with GET PATH; a message is then one masked text frame (the client
// must mask) whose payload is printable ASCII (text must be UTF-8): the
// sequence number in hex, then a per-connection pattern. The echo must come
// back as one unmasked text frame with the same payload. The latency of a reply
// is measured from the send time kept for its sequence number.
//
// Threading: the main thread opens all connections first (non-blocking
// connect, retried for up to 5 s while the server starts), then they are split
// round-robin across --threads T worker threads (default 1: the main thread is
// worker 0). Each worker has its own level-triggered epoll and touches only its
// own connections; the messages that become ready together on a connection go
// out in one send(). Phase changes (warmup -> measure -> done) go through one
// shared atomic; the first thread to see a boundary takes the CPU snapshot.
// After the window the workers stop sending and wait (<= 1 s) for the replies
// still in flight, so the server does not see connections reset mid-message.
//
// Output: exactly one JSON line on stdout; diagnostics on stderr. Exit status:
// 0 ok; 1 on a connect timeout, a connection closed by the server, a stall
// (no reply for 10 s) or a data mismatch (the JSON line is still printed then,
// with "errors" > 0); 2 on a usage error.
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proc_cpu.hpp"

namespace {

using bench::process_cpu_seconds;
using bench::tree_cpu_seconds;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kConnectTimeout = 5 * kSecond;
constexpr int64_t kConnectRetry = 50'000'000;  // 50 ms between attempts on one connection
constexpr int64_t kStallTimeout = 10 * kSecond;
constexpr int64_t kDrainTimeout = 1 * kSecond;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kSecond + ts.tv_nsec;
}

[[noreturn]] void die(int code, const std::string& msg) {
  fmt::print(stderr, "tern_load_client: {}\n", msg);
  std::exit(code);
}

std::string errno_text(int e) { return std::strerror(e); }

// ---------------------------------------------------------------- options

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 50;
  size_t size = 64;
  int window = 1;
  int header = 0;  // 0, 2 or 4 bytes of big-endian payload length
  double duration = 5;
  double warmup = 1;
  long server_pid = 0;  // 0: not measured
  bool server_tree = false;  // also count every descendant process of server_pid
  int threads = 1;
  std::string bench = "net.echo";
  std::string impl = "tern";
  uint64_t count = 0;  // 0: run for --duration
  std::string websocket;  // non-empty: WebSocket echo, upgrading with GET <websocket>
};

constexpr const char* kUsage =
    "usage: tern_load_client --port P [--host 127.0.0.1] [--connections 50] [--size 64]\n"
    "         [--window 1] [--header none|2|4] [--duration 5] [--warmup 1]\n"
    "         [--server-pid PID [--server-tree 1]] [--threads 1] [--bench net.echo] [--impl tern] [--count N]\n"
    "         [--websocket PATH]\n"
    "  --size    payload bytes per message (>= 8; the first 8 carry the send time)\n"
    "  --header  big-endian length prefix of the payload: none, 2 or 4 bytes\n"
    "  --count   stop after N measured messages instead of after --duration seconds\n"
    "  --websocket  upgrade with GET PATH, then echo text frames (masked, as a client must)\n"
    "Prints one JSON line on stdout; diagnostics go to stderr.\n";

[[noreturn]] void usage_error(const std::string& msg) {
  fmt::print(stderr, "tern_load_client: {}\n{}", msg, kUsage);
  std::exit(2);
}

long long parse_int(std::string_view flag, const std::string& v, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
    usage_error(fmt::format("{} wants an integer in [{}, {}], got '{}'", flag, lo, hi, v));
  return x;
}

double parse_seconds(std::string_view flag, const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x) || x < 0 || x > 1e6)
    usage_error(fmt::format("{} wants a number of seconds >= 0, got '{}'", flag, v));
  return x;
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      fmt::print(stdout, "{}", kUsage);
      std::exit(0);
    }
    std::string value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error(fmt::format("{} needs a value", arg));
    }
    if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      o.port = int(parse_int(arg, value, 1, 65535));
      have_port = true;
    } else if (arg == "--connections") {
      o.connections = int(parse_int(arg, value, 1, 1'000'000));
    } else if (arg == "--size") {
      o.size = size_t(parse_int(arg, value, 8, 64 << 20));
    } else if (arg == "--window") {
      o.window = int(parse_int(arg, value, 1, 1'000'000));
    } else if (arg == "--header") {
      if (value == "none" || value == "0")
        o.header = 0;
      else if (value == "2")
        o.header = 2;
      else if (value == "4")
        o.header = 4;
      else
        usage_error(fmt::format("--header wants none, 2 or 4, got '{}'", value));
    } else if (arg == "--duration") {
      o.duration = parse_seconds(arg, value);
    } else if (arg == "--warmup") {
      o.warmup = parse_seconds(arg, value);
    } else if (arg == "--server-pid") {
      o.server_pid = long(parse_int(arg, value, 1, 1LL << 31));
    } else if (arg == "--server-tree") {
      // A multi-process server (master, manager, workers): PID and its descendants.
      o.server_tree = value == "1" || value == "yes" || value == "true";
    } else if (arg == "--threads") {
      o.threads = int(parse_int(arg, value, 1, 1024));
    } else if (arg == "--bench") {
      o.bench = value;
    } else if (arg == "--impl") {
      o.impl = value;
    } else if (arg == "--count") {
      o.count = uint64_t(parse_int(arg, value, 1, 1LL << 62));
    } else if (arg == "--websocket") {
      if (value.empty() || value[0] != '/') usage_error("--websocket wants a path starting with '/'");
      o.websocket = value;
    } else {
      usage_error(fmt::format("unknown option '{}'", arg));
    }
  }
  if (!have_port) usage_error("--port is required");
  if (o.header == 2 && o.size > 0xffff)
    usage_error(fmt::format("--size {} does not fit a 2-byte header (max 65535)", o.size));
  if (!o.websocket.empty() && o.header != 0) usage_error("--websocket frames the messages itself: no --header");
  if (o.count == 0 && o.duration <= 0) usage_error("--duration must be > 0 (or give --count)");
  o.threads = std::min(o.threads, o.connections);
  return o;
}

// ---------------------------------------------------------------- histogram

// Log-linear buckets over nanoseconds (HdrHistogram-like): values below 128
// are exact, above that each power of two is split into 128 linear buckets,
// so a bucket is at most 1/128 of its value wide.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t(1) << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

  // The value at quantile q in [0, 1] (the middle of its bucket), in ns.
  double quantile(double q) const {
    if (total_ == 0) return NAN;
    uint64_t rank = uint64_t(std::ceil(q * double(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(middle(i), double(max_));
    }
    return double(max_);
  }

 private:
  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    int shift = (63 - std::countl_zero(v)) - kSubBits;
    return size_t(shift + 1) * kSub + size_t((v >> shift) - kSub);
  }
  static double middle(size_t i) {
    if (i < kSub) return double(i);
    unsigned shift = unsigned(i / kSub - 1);
    uint64_t low = (kSub + i % kSub) << shift;
    return double(low) + double((uint64_t(1) << shift) - 1) / 2;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

// ---------------------------------------------------------------- CPU time

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

struct Snapshot {
  int64_t t_ns = 0;
  std::optional<double> server_cpu;
  double client_cpu = 0;
};

// ---------------------------------------------------------------- shared state

enum Phase : int { kWarmup = 0, kMeasure = 1, kDone = 2, kAbort = 3 };

struct Shared {
  const Options& opt;
  int64_t warm_end = 0;     // start of the measured window
  int64_t measure_end = 0;  // end of it (duration mode)
  std::atomic<int> phase{kWarmup};
  std::atomic<uint64_t> counted{0};  // count mode: measured messages so far
  std::atomic<uint64_t> mismatches{0};
  Snapshot start, end;  // written by the thread that changes the phase
  std::mutex mu;
  std::string failure;  // first fatal error

  explicit Shared(const Options& o) : opt(o) {}

  Snapshot snapshot(int64_t t) const {
    Snapshot s;
    s.t_ns = t;
    if (opt.server_pid)
      s.server_cpu = opt.server_tree ? tree_cpu_seconds(opt.server_pid) : process_cpu_seconds(opt.server_pid);
    s.client_cpu = self_cpu_seconds();
    return s;
  }
  // The phase changes under mu, and the snapshot is taken right at the change.
  void begin_measure(int64_t t) {
    int expected = kWarmup;
    std::lock_guard lock(mu);
    if (phase.compare_exchange_strong(expected, kMeasure)) start = snapshot(t);
  }
  void end_measure(int64_t t) {
    int expected = kMeasure;
    std::lock_guard lock(mu);
    if (phase.compare_exchange_strong(expected, kDone)) end = snapshot(t);
  }
  void fail(std::string msg) {
    std::lock_guard lock(mu);
    if (failure.empty()) failure = std::move(msg);
    if (phase.exchange(kAbort) == kMeasure)
      end = snapshot(now_ns());  // for the JSON line on a mismatch
  }
};

// ---------------------------------------------------------------- connections

// A message on the wire: [header][payload]; payload = send time (8 bytes),
// sequence number (8 bytes, when size >= 16), then a per-connection pattern.
struct Conn {
  int fd = -1;
  int id = 0;
  size_t msg_len = 0;         // bytes of one reply
  size_t tx_len = 0;          // bytes of one message sent (WebSocket: the masked frame)
  size_t fixed = 0;           // payload bytes that vary per message (time, seq)
  std::vector<uint8_t> tmpl;  // one reply with the varying bytes zeroed (WebSocket: '0')
  std::vector<uint8_t> tx;    // bytes to send, from tx_off
  size_t tx_off = 0;
  std::vector<uint8_t> rx;  // received bytes not yet processed: [0, rx_len)
  size_t rx_len = 0;
  std::vector<int64_t> sent;  // send times of the outstanding messages, ring of W
  uint64_t tx_seq = 0;        // messages queued so far
  uint64_t rx_seq = 0;        // replies checked so far
  bool want_out = false;      // EPOLLOUT registered
  bool closed = false;

  uint64_t outstanding() const { return tx_seq - rx_seq; }
};

// ---------------------------------------------------------------- websocket

size_t ws_header_len(size_t n, bool masked) {
  return 2 + (n < 126 ? 0 : n < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

// A final text frame's header for an n-byte payload; the mask key goes after it.
uint8_t* ws_put_header(uint8_t* p, size_t n, bool masked) {
  *p++ = 0x81;
  uint8_t m = masked ? 0x80 : 0;
  if (n < 126) {
    *p++ = uint8_t(m | n);
  } else if (n < 65536) {
    *p++ = uint8_t(m | 126);
    for (int i = 1; i >= 0; --i) *p++ = uint8_t(n >> (8 * i));
  } else {
    *p++ = uint8_t(m | 127);
    for (int i = 7; i >= 0; --i) *p++ = uint8_t(uint64_t(n) >> (8 * i));
  }
  return p;
}

// The sequence number as `width` hex digits (its low bits), into p.
void put_hex(uint8_t* p, size_t width, uint64_t seq) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = width; i-- > 0; seq >>= 4) p[i] = uint8_t(digits[seq & 15]);
}

void init_ws_conn(Conn& c, const Options& o) {
  const size_t h = ws_header_len(o.size, false);
  c.msg_len = h + o.size;
  c.tx_len = ws_header_len(o.size, true) + o.size;
  c.fixed = std::min<size_t>(o.size, 16);
  c.tmpl.resize(c.msg_len);
  ws_put_header(c.tmpl.data(), o.size, false);
  for (size_t i = 0; i < o.size; ++i) c.tmpl[h + i] = uint8_t('a' + (i * 7 + size_t(c.id)) % 26);
  std::memset(c.tmpl.data() + h, '0', c.fixed);
}

// n client frames for messages tx_seq.., each with its own mask key.
void ws_enqueue(Conn& c, uint8_t* p, uint64_t n, size_t size) {
  const size_t h = c.msg_len - size;  // the reply's header: the payload starts there in tmpl
  for (uint64_t k = 0; k < n; ++k) {
    p = ws_put_header(p, size, true);
    uint64_t x = (c.tx_seq + 1) * 0x9E3779B97F4A7C15ull ^ uint64_t(c.id);
    uint8_t mask[4] = {uint8_t(x >> 56), uint8_t(x >> 40), uint8_t(x >> 24), uint8_t(x >> 8)};
    std::memcpy(p, mask, 4);
    p += 4;
    std::memcpy(p, c.tmpl.data() + h, size);
    put_hex(p, c.fixed, c.tx_seq);
    for (size_t i = 0; i < size; ++i) p[i] ^= mask[i & 3];
    p += size;
    ++c.tx_seq;
  }
}

// Whether a reply frame is the echo of message rx_seq; else *where says what differs.
bool ws_check(const Conn& c, const uint8_t* m, size_t size, std::string* where) {
  const size_t h = c.msg_len - size;
  uint8_t seq[16];
  put_hex(seq, c.fixed, c.rx_seq);
  if (std::memcmp(m, c.tmpl.data(), h) != 0) {
    *where = fmt::format("frame header 0x{:02x} 0x{:02x}", m[0], m[1]);
    return false;
  }
  if (std::memcmp(m + h, seq, c.fixed) != 0) {
    *where = fmt::format("sequence number (got '{}')", std::string_view(reinterpret_cast<const char*>(m + h), c.fixed));
    return false;
  }
  for (size_t i = c.fixed; i < size; ++i) {
    if (m[h + i] != c.tmpl[h + i]) {
      *where = fmt::format("payload byte {} (got 0x{:02x}, want 0x{:02x})", i, m[h + i], c.tmpl[h + i]);
      return false;
    }
  }
  return true;
}

void init_conn(Conn& c, int fd, int id, const Options& o) {
  c.fd = fd;
  c.id = id;
  if (!o.websocket.empty()) {
    init_ws_conn(c, o);
    size_t window_bytes = size_t(o.window) * c.tx_len;
    c.tx.reserve(std::min<size_t>(window_bytes, 1 << 20));
    c.rx.resize(std::max(c.msg_len, std::min<size_t>(size_t(o.window) * c.msg_len, 64 << 10)));
    c.sent.resize(size_t(o.window));
    return;
  }
  c.msg_len = size_t(o.header) + o.size;
  c.tx_len = c.msg_len;
  c.fixed = o.size >= 16 ? 16 : 8;
  c.tmpl.resize(c.msg_len);
  uint64_t len = o.size;
  for (int i = 0; i < o.header; ++i) c.tmpl[size_t(i)] = uint8_t(len >> (8 * (o.header - 1 - i)));
  for (size_t i = 0; i < o.size; ++i)
    c.tmpl[size_t(o.header) + i] = uint8_t(i * 131 + size_t(id) * 29 + 7);
  std::memset(c.tmpl.data() + o.header, 0, c.fixed);
  size_t window_bytes = size_t(o.window) * c.msg_len;
  c.tx.reserve(std::min<size_t>(window_bytes, 1 << 20));
  c.rx.resize(std::max(c.msg_len, std::min<size_t>(window_bytes, 64 << 10)));
  c.sent.resize(size_t(o.window));
}

// ---------------------------------------------------------------- worker

class Worker {
 public:
  Worker(Shared& sh, int index) : sh_(sh), opt_(sh.opt), index_(index) {}

  std::vector<Conn> conns;
  Histogram hist;
  uint64_t measured = 0;

  void run();

 private:
  void loop();
  void enqueue(Conn& c, uint64_t n, int64_t t);
  bool flush(Conn& c);
  bool on_readable(Conn& c, int phase);
  bool check(Conn& c, const uint8_t* m);
  void set_out(Conn& c, bool on);
  void fail(std::string msg) { sh_.fail(std::move(msg)); }

  Shared& sh_;
  const Options& opt_;
  int index_;
  int ep_ = -1;
  int64_t last_rx_ = 0;
  uint64_t reported_mismatches_ = 0;
};

void Worker::enqueue(Conn& c, uint64_t n, int64_t t) {
  if (c.tx_off == c.tx.size()) {
    c.tx.clear();
    c.tx_off = 0;
  } else if (c.tx_off > 0) {
    c.tx.erase(c.tx.begin(), c.tx.begin() + ptrdiff_t(c.tx_off));
    c.tx_off = 0;
  }
  size_t at = c.tx.size();
  c.tx.resize(at + n * c.tx_len);
  uint8_t* p = c.tx.data() + at;
  if (!opt_.websocket.empty()) {
    for (uint64_t k = 0; k < n; ++k) c.sent[(c.tx_seq + k) % c.sent.size()] = t;
    ws_enqueue(c, p, n, opt_.size);
    return;
  }
  const size_t payload = size_t(opt_.header);
  for (uint64_t k = 0; k < n; ++k, p += c.msg_len) {
    std::memcpy(p, c.tmpl.data(), c.msg_len);
    std::memcpy(p + payload, &t, 8);
    if (c.fixed == 16) std::memcpy(p + payload + 8, &c.tx_seq, 8);
    c.sent[c.tx_seq % c.sent.size()] = t;
    ++c.tx_seq;
  }
}

void Worker::set_out(Conn& c, bool on) {
  if (c.want_out == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_out = on;
}

// Sends what is queued, in one send() unless the socket buffer fills up.
bool Worker::flush(Conn& c) {
  while (c.tx_off < c.tx.size()) {
    ssize_t n = ::send(c.fd, c.tx.data() + c.tx_off, c.tx.size() - c.tx_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.tx_off += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_out(c, true);
      return true;
    } else {
      c.closed = true;
      if (sh_.phase.load() >= kDone) return false;  // draining: the server may go first
      fail(fmt::format("connection #{}: send failed after {} replies: {}", c.id, c.rx_seq,
                       errno_text(errno)));
      return false;
    }
  }
  set_out(c, false);
  return true;
}

// Checks one echoed message against the one sent with the same sequence number.
bool Worker::check(Conn& c, const uint8_t* m) {
  if (!opt_.websocket.empty()) {
    std::string where;
    if (ws_check(c, m, opt_.size, &where)) return true;
    sh_.mismatches.fetch_add(1);
    if (reported_mismatches_++ < 5)
      fmt::print(stderr, "tern_load_client: data mismatch on connection #{}, message {}: {}\n", c.id,
                 c.rx_seq, where);
    return false;
  }
  const size_t h = size_t(opt_.header);
  int64_t ts = 0;
  uint64_t seq = c.rx_seq;
  std::memcpy(&ts, m + h, 8);
  if (c.fixed == 16) std::memcpy(&seq, m + h + 8, 8);
  bool ok = ts == c.sent[c.rx_seq % c.sent.size()] && seq == c.rx_seq &&
            std::memcmp(m, c.tmpl.data(), h) == 0 &&
            std::memcmp(m + h + c.fixed, c.tmpl.data() + h + c.fixed, c.msg_len - h - c.fixed) == 0;
  if (ok) return true;
  sh_.mismatches.fetch_add(1);
  if (reported_mismatches_++ < 5) {
    size_t at = 0;
    while (at < h && m[at] == c.tmpl[at]) ++at;
    std::string where = at < h                                   ? fmt::format("header byte {}", at)
                        : ts != c.sent[c.rx_seq % c.sent.size()] ? std::string("timestamp")
                        : seq != c.rx_seq ? fmt::format("sequence number (got {})", seq)
                                          : std::string("payload");
    if (where == "payload") {
      at = c.fixed;
      while (at < opt_.size && m[h + at] == c.tmpl[h + at]) ++at;
      where = fmt::format("payload byte {} (got 0x{:02x}, want 0x{:02x})", at, m[h + at],
                          c.tmpl[h + at]);
    }
    fmt::print(stderr, "tern_load_client: data mismatch on connection #{}, message {}: {}\n", c.id,
               c.rx_seq, where);
  }
  return false;
}

bool Worker::on_readable(Conn& c, int phase) {
  ssize_t n;
  do {
    n = ::recv(c.fd, c.rx.data() + c.rx_len, c.rx.size() - c.rx_len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  if (n <= 0) {
    c.closed = true;
    if (phase >= kDone) return true;  // draining: the server may go first
    std::string why = n == 0 ? std::string("closed by the server") : errno_text(errno);
    fail(fmt::format("connection #{}: {} after {} replies ({} outstanding)", c.id, why, c.rx_seq,
                     c.outstanding()));
    return false;
  }
  int64_t t = now_ns();
  last_rx_ = t;
  c.rx_len += size_t(n);
  size_t off = 0;
  uint64_t replies = 0;
  while (c.rx_len - off >= c.msg_len) {
    const uint8_t* m = c.rx.data() + off;
    if (c.outstanding() == 0) {
      sh_.mismatches.fetch_add(1);
      fail(fmt::format("connection #{}: the server sent more bytes than were sent to it", c.id));
      return false;
    }
    if (!check(c, m)) {
      fail("data mismatch");
      return false;
    }
    if (phase == kMeasure) {
      int64_t sent_at = c.sent[c.rx_seq % c.sent.size()];  // check() matched it to the payload's
      bool count_it = true;
      if (opt_.count) {
        uint64_t k = sh_.counted.fetch_add(1, std::memory_order_relaxed);
        count_it = k < opt_.count;
        if (k + 1 == opt_.count) sh_.end_measure(t);
      }
      if (count_it) {
        hist.record(uint64_t(std::max<int64_t>(0, t - sent_at)));
        ++measured;
      }
    }
    ++c.rx_seq;
    ++replies;
    off += c.msg_len;
  }
  if (off > 0) {
    std::memmove(c.rx.data(), c.rx.data() + off, c.rx_len - off);
    c.rx_len -= off;
  }
  if (replies > 0 && phase < kDone && sh_.phase.load(std::memory_order_relaxed) < kDone) {
    enqueue(c, replies, t);
    return flush(c);
  }
  return true;
}

void Worker::run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) return fail(fmt::format("epoll_create1: {}", errno_text(errno)));
  loop();
  close(ep_);
}

void Worker::loop() {
  int64_t t = now_ns();
  last_rx_ = t;
  for (Conn& c : conns) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0)
      return fail(fmt::format("epoll_ctl: {}", errno_text(errno)));
  }
  for (Conn& c : conns) {
    enqueue(c, uint64_t(opt_.window), now_ns());
    if (!flush(c)) break;
  }

  std::vector<epoll_event> events(std::min<size_t>(conns.size(), 1024));
  int64_t drain_until = 0;
  for (;;) {
    t = now_ns();
    int phase = sh_.phase.load();
    if (phase == kWarmup && t >= sh_.warm_end) {
      sh_.begin_measure(t);
      phase = sh_.phase.load();
    }
    if (phase == kMeasure && opt_.count == 0 && t >= sh_.measure_end) {
      sh_.end_measure(t);
      phase = sh_.phase.load();
    }
    if (phase == kAbort) break;
    if (phase == kDone) {
      if (drain_until == 0) drain_until = t + kDrainTimeout;
      bool idle = std::all_of(conns.begin(), conns.end(),
                              [](const Conn& c) { return c.closed || c.outstanding() == 0; });
      if (idle || t >= drain_until) break;
    } else if (t - last_rx_ > kStallTimeout) {
      return fail(fmt::format("no reply from the server for {} s (thread {})",
                              kStallTimeout / kSecond, index_));
    }

    int64_t next = phase == kWarmup                       ? sh_.warm_end
                   : phase == kMeasure && opt_.count == 0 ? sh_.measure_end
                   : phase == kDone                       ? drain_until
                                                          : t + kSecond;
    int64_t wait_ns = std::clamp<int64_t>(next - t, 0, 50'000'000);
    int timeout_ms = int((wait_ns + 999'999) / 1'000'000);
    int n = epoll_wait(ep_, events.data(), int(events.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(fmt::format("epoll_wait: {}", errno_text(errno)));
    }
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[i].data.ptr);
      if (c.closed) continue;
      uint32_t e = events[i].events;
      if ((e & EPOLLOUT) && !flush(c) && phase < kDone) break;
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (!on_readable(c, phase) && phase < kDone) break;
        if (c.closed) epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      }
    }
  }
}

// ---------------------------------------------------------------- connect

std::vector<int> connect_all(const Options& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(o.port);
  if (int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    die(1, fmt::format("cannot resolve '{}': {}", o.host, gai_strerror(rc)));
  std::vector<addrinfo> addrs;
  for (addrinfo* a = res; a; a = a->ai_next) addrs.push_back(*a);

  struct Pending {
    int fd = -1;
    int attempts = 0;
    int64_t retry_at = 0;
    bool done = false;
  };
  const size_t n = size_t(o.connections);
  std::vector<Pending> conns(n);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(1, fmt::format("epoll_create1: {}", errno_text(errno)));
  const int64_t deadline = now_ns() + kConnectTimeout;
  const size_t max_in_flight = 1000;  // stay below a listen backlog
  size_t done = 0, in_flight = 0;
  std::string last_error = "no attempt";
  std::vector<epoll_event> events(256);

  auto failed = [&](Pending& p, int err, int64_t t) {
    if (err == EMFILE || err == ENFILE)
      die(1, fmt::format("out of file descriptors opening {} connections: {}", n, errno_text(err)));
    last_error = errno_text(err);
    close(p.fd);
    p.fd = -1;
    p.retry_at = t + kConnectRetry;
  };

  while (done < n) {
    int64_t t = now_ns();
    if (t > deadline) {
      die(1,
          fmt::format(
              "could not connect to {}:{} within {} s ({} of {} connections open; last error: {})",
              o.host, o.port, kConnectTimeout / kSecond, done, n, last_error));
    }
    for (size_t i = 0; i < n && in_flight < max_in_flight; ++i) {
      Pending& p = conns[i];
      if (p.done || p.fd >= 0 || p.retry_at > t) continue;
      const addrinfo& a = addrs[size_t(p.attempts++) % addrs.size()];
      p.fd = socket(a.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (p.fd < 0) die(1, fmt::format("socket: {}", errno_text(errno)));
      int one = 1;
      setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(p.fd, a.ai_addr, a.ai_addrlen) == 0) {
        p.done = true;
        ++done;
      } else if (errno == EINPROGRESS) {
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, p.fd, &ev);
        ++in_flight;
      } else {
        failed(p, errno, t);
      }
    }
    if (done == n) break;
    int k = epoll_wait(ep, events.data(), int(events.size()), 10);
    t = now_ns();
    for (int j = 0; j < k; ++j) {
      Pending& p = conns[events[j].data.u64];
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      epoll_ctl(ep, EPOLL_CTL_DEL, p.fd, nullptr);
      --in_flight;
      if (err == 0) {
        p.done = true;
        ++done;
      } else {
        failed(p, err, t);
      }
    }
  }
  close(ep);
  freeaddrinfo(res);
  std::vector<int> fds;
  for (const Pending& p : conns) fds.push_back(p.fd);
  return fds;
}

// Upgrades every connection (GET path, Upgrade: websocket) and waits up to
// kConnectTimeout for each 101 answer; returns, per connection, the bytes that
// came after the answer's head.
std::vector<std::string> ws_handshake_all(const std::vector<int>& fds, const Options& o) {
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      o.websocket, o.host, o.port);
  const int64_t deadline = now_ns() + kConnectTimeout;
  std::vector<pollfd> pfds;
  for (int fd : fds) {
    size_t off = 0;
    while (off < request.size()) {  // a few hundred bytes into an empty socket: at once, in practice
      ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += size_t(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd w{fd, POLLOUT, 0};
        poll(&w, 1, 10);
        if (now_ns() > deadline) die(1, "websocket handshake: could not send the request");
      } else {
        die(1, fmt::format("websocket handshake: send: {}", errno_text(errno)));
      }
    }
    pfds.push_back(pollfd{fd, POLLIN, 0});
  }
  std::vector<std::string> got(fds.size()), rest(fds.size());
  size_t left = fds.size();
  while (left > 0) {
    if (now_ns() > deadline)
      die(1, fmt::format("websocket handshake: {} of {} connections had no answer within {} s", left,
                         fds.size(), kConnectTimeout / kSecond));
    int k = poll(pfds.data(), pfds.size(), 50);
    if (k < 0 && errno != EINTR) die(1, fmt::format("poll: {}", errno_text(errno)));
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (pfds[i].fd < 0 || !(pfds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = ::recv(pfds[i].fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) die(1, fmt::format("websocket handshake: connection #{} closed by the server", i));
      got[i].append(buf, size_t(n));
      size_t end = got[i].find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (got[i].rfind("HTTP/1.1 101", 0) != 0)
        die(1, fmt::format("websocket handshake refused: {}", got[i].substr(0, got[i].find("\r\n"))));
      rest[i] = got[i].substr(end + 4);
      pfds[i].fd = -1;  // poll skips it
      --left;
    }
  }
  return rest;
}

// ---------------------------------------------------------------- output

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", unsigned(u));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_number(double x, int decimals) {
  return std::isfinite(x) ? fmt::format("{:.{}f}", x, decimals) : std::string("null");
}

void raise_fd_limit(size_t need) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, need + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit(size_t(opt.connections));
  if (opt.server_pid && !process_cpu_seconds(opt.server_pid))
    die(1, fmt::format("cannot read /proc/{}/stat (is --server-pid right?)", opt.server_pid));

  std::vector<int> fds = connect_all(opt);
  std::vector<std::string> early;  // WebSocket: bytes that came with the 101 answer
  if (!opt.websocket.empty()) early = ws_handshake_all(fds, opt);

  Shared sh(opt);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < opt.threads; ++i) workers.push_back(std::make_unique<Worker>(sh, i));
  for (size_t i = 0; i < fds.size(); ++i) workers[i % workers.size()]->conns.emplace_back();
  for (size_t i = 0; i < fds.size(); ++i) {
    Worker& w = *workers[i % workers.size()];
    Conn& c = w.conns[i / workers.size()];
    init_conn(c, fds[i], int(i), opt);
    if (i < early.size() && !early[i].empty()) {
      if (early[i].size() > c.rx.size()) die(1, "websocket: the server sent frames before any message");
      std::memcpy(c.rx.data(), early[i].data(), early[i].size());
      c.rx_len = early[i].size();
    }
  }

  const int64_t t0 = now_ns();
  sh.warm_end = t0 + int64_t(opt.warmup * double(kSecond));
  sh.measure_end = sh.warm_end + int64_t(opt.duration * double(kSecond));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers.size(); ++i) threads.emplace_back([&w = *workers[i]] { w.run(); });
  workers[0]->run();
  for (std::thread& th : threads) th.join();
  if (sh.phase.load() == kMeasure)
    sh.end_measure(now_ns());  // only if every worker bailed out early
  for (int fd : fds) close(fd);

  const uint64_t mismatches = sh.mismatches.load();
  if (!sh.failure.empty() && mismatches == 0) die(1, sh.failure);

  Histogram hist;
  uint64_t messages = 0;
  for (const auto& w : workers) {
    hist.merge(w->hist);
    messages += w->measured;
  }
  const bool measured = sh.start.t_ns != 0 && sh.end.t_ns != 0;
  const double elapsed = measured ? double(sh.end.t_ns - sh.start.t_ns) / 1e9 : 0;
  const double rate = elapsed > 0 ? double(messages) / elapsed : 0;
  const double per_msg = messages > 0 ? 1e6 / double(messages) : NAN;
  double server_us = NAN;
  if (measured && sh.start.server_cpu && sh.end.server_cpu)
    server_us = (*sh.end.server_cpu - *sh.start.server_cpu) * per_msg;
  const double client_us = measured ? (sh.end.client_cpu - sh.start.client_cpu) * per_msg : NAN;
  if (opt.server_pid && measured && !sh.end.server_cpu)
    fmt::print(stderr, "tern_load_client: /proc/{}/stat unreadable at the end of the run\n",
               opt.server_pid);

  fmt::print(
      stdout,
      "{{\"bench\": {}, \"impl\": {}, \"value\": {}, \"unit\": \"msgs/s\", \"p50_us\": {}, "
      "\"p99_us\": {}, \"server_cpu_us_per_msg\": {}, \"client_cpu_us_per_msg\": {}, "
      "\"connections\": {}, \"size\": {}, \"window\": {}, \"messages\": {}, \"errors\": {}, "
      "\"header\": {}, \"threads\": {}, \"p999_us\": {}, \"max_us\": {}, \"elapsed_s\": {}}}\n",
      json_string(opt.bench), json_string(opt.impl), json_number(rate, 1),
      json_number(hist.quantile(0.50) / 1e3, 2), json_number(hist.quantile(0.99) / 1e3, 2),
      json_number(server_us, 3), json_number(client_us, 3), opt.connections, opt.size, opt.window,
      messages, mismatches, opt.header, opt.threads, json_number(hist.quantile(0.999) / 1e3, 2),
      json_number(hist.total() ? double(hist.max()) / 1e3 : NAN, 2), json_number(elapsed, 3));
  std::fflush(stdout);
  auto text = [](double x, int decimals) {
    return std::isfinite(x) ? fmt::format("{:.{}f}", x, decimals) : std::string("n/a");
  };
  fmt::print(
      stderr,
      "tern_load_client: {} conns x window {}, {} B payload, header {}: {:.0f} msgs/s, p50 {} us, "
      "p99 {} us, server {} us/msg, client {} us/msg ({} msgs in {:.2f} s)\n",
      opt.connections, opt.window, opt.size, opt.header, rate, text(hist.quantile(0.50) / 1e3, 1),
      text(hist.quantile(0.99) / 1e3, 1), text(server_us, 2), text(client_us, 2), messages,
      elapsed);
  if (mismatches > 0) {
    fmt::print(stderr, "tern_load_client: FAILED: {} mismatched message(s)\n", mismatches);
    return 1;
  }
  return 0;
}
