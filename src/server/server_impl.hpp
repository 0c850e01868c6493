// tern::server::server's insides, shared by server.cpp (the API, start(), the
// master's main thread and the manager), server_conn.cpp (connections: the
// master's reactor threads in PROCESS mode, a worker's loop in BASE mode) and
// server_worker.cpp (the worker processes). docs/server.md is the overview.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/socket_server.hpp"
#include "server/ipc.hpp"
#include "server/protocol.hpp"
#include "server/tls.hpp"
#include "tern/server/server.hpp"

namespace tern::server {

enum class role { none, master, manager, worker, task_worker, user_process };

// swoole's SWOOLE_LOG_* levels (settings.log_level).
namespace log_level {
inline constexpr int debug = 0, trace = 1, info = 2, notice = 3, warning = 4, error = 5;
}

// Shared memory (MAP_SHARED, made before the first fork): counters every
// process reads or bumps without a message. Lock-free atomics only.
struct shm_worker {
  std::atomic<int32_t> pid{0};
  std::atomic<uint64_t> dispatched{0};     // packets the master sent it (dispatch_mode 3/7: busy = dispatched > done)
  std::atomic<uint64_t> done{0};           // packets it handled
  std::atomic<uint64_t> taken{0};          // packets it took from its socketpair (a replacement
                                           // starts with done = taken: what its predecessor took
                                           // and did not finish is lost)
  std::atomic<uint64_t> request_count{0};  // on_receive calls of the current process
};

struct shm_state {
  std::atomic<int64_t> start_time{0};
  std::atomic<int32_t> master_pid{0}, manager_pid{0};
  std::atomic<int32_t> next_session{0};
  std::atomic<uint64_t> connection_num{0}, accept_count{0}, close_count{0};
  std::atomic<uint64_t> total_recv_bytes{0}, total_send_bytes{0};
  int worker_num = 0;
  shm_worker* workers() { return reinterpret_cast<shm_worker*>(this + 1); }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<int32_t>::is_always_lock_free,
              "shared-memory counters must be lock-free");

// One client connection, where its socket lives: in the master (PROCESS) or
// in the worker that accepted it (BASE).
struct connection {
  int session = 0;    // the fd callbacks see
  int reactor = 0;    // PROCESS: the reactor thread; BASE: the worker id
  int sid = -1;       // its socket_server id
  int port_index = 0;
  int server_fd = -1;
  int server_port = 0;
  std::string ip;
  int port = 0;
  uint32_t ip_hash = 0;
  int64_t connect_ms = 0;
  std::atomic<int64_t> last_recv_ms{0}, last_send_ms{0};
  std::atomic<uint64_t> recv_bytes{0}, send_bytes{0};
  std::atomic<uint32_t> uid{0};
  std::atomic<bool> closing{false};  // close() asked for; packets no longer delivered (BASE)
  std::atomic<bool> full{false};     // on_buffer_full reported, on_buffer_empty not yet
  std::atomic<bool> overflow{false}; // an overflow was logged since the last drain
  packet_splitter splitter;          // the reading thread's
  std::shared_ptr<tls::session> tls; // a TLS port's (server_io.cpp); its mu guards it
};
using connection_ptr = std::shared_ptr<connection>;

// Connections by session id; any thread.
class connection_table {
 public:
  void add(connection_ptr c);
  connection_ptr find(int session) const;
  connection_ptr remove(int session);
  [[nodiscard]] size_t size() const;
  std::vector<connection_ptr> all() const;
  std::vector<int> list(int start, int count) const;  // sessions > start, ascending
  void clear();

 private:
  static constexpr int kShards = 16;
  struct shard {
    mutable std::mutex mu;
    std::unordered_map<int, connection_ptr> map;
  };
  std::array<shard, kShards> shards_;
  shard& of(int session) { return shards_[unsigned(session) % kShards]; }
  const shard& of(int session) const { return shards_[unsigned(session) % kShards]; }
};

// socket_server owners: a client connection's is its session id (< 2^31).
inline constexpr uint32_t kPipeOwner = 0x80000000u;    // | worker id
inline constexpr uint32_t kListenOwner = 0xC0000000u;  // | listener index (BASE; UDP ports in PROCESS too)
inline constexpr uint32_t kSignalOwner = 0xFFFFFFFFu;   // the self-pipe (BASE)
inline constexpr uint32_t kInboxOwner = 0xFFFFFFFEu;    // the inbox doorbell (BASE, server_task.cpp)

struct child_spec;  // manager.hpp
struct task_state;  // server_task.cpp

int64_t now_ms();     // wall clock, ms since the epoch
int64_t steady_ms();  // monotonic ms (timers)

// Who a new connection is, for a protocol layer in the worker (http_server).
struct peer_info {
  std::string ip;
  int port = 0;
  int server_port = 0;
  int port_index = 0;
};

struct server::impl {
  explicit impl(server* s) : self(s) {}

  server* self;
  mode run_mode = mode::process;
  std::deque<listener> listeners;  // [0]: the constructor's; a deque keeps add_listener's references
  struct settings cfg;
  std::vector<struct settings> port_cfg;  // per listener: cfg + its overrides (at start())
  std::string error;

  // --- every process -------------------------------------------------------
  role who = role::none;
  bool started = false;
  int my_worker_id = -1;
  pid_t my_master_pid = 0, my_manager_pid = 0;
  std::vector<int> listen_fds;                // per listener
  std::vector<std::array<int, 2>> pipes;      // per worker: [0] master's end, [1] worker's end
  shm_state* shm = nullptr;
  size_t shm_size = 0;
  int log_fd = 2;
  bool own_log_fd = false;
  std::string pid_file_written;

  void log(int level, std::string_view msg) const;
  bool fail(std::string msg);  // sets error, logs nothing; returns false
  std::string role_name() const;

  // --- server.cpp: start() and the master ----------------------------------
  bool prepare();  // checks, pid file, listen, shm, pipes
  bool open_listeners();
  void cleanup_master(bool remove_pid);
  bool master_loop();
  void manager_main();
  void accept_from(int index);
  void apply_socket_options(int fd, const struct settings& s) const;
  std::atomic<bool> stopping{false};  // the master is shutting down
  int spare_fd = -1;  // given up when accept() hits EMFILE
  int signal_fd = -1;

  // --- server_conn.cpp: connections ----------------------------------------
  // PROCESS master: one socket_server per reactor thread; worker pipes are
  // read by reactor (worker id % reactor_num).
  std::vector<std::unique_ptr<net::socket_server>> reactors;
  std::vector<int> pipe_sid;                     // per worker
  std::vector<ipc::stream_parser> pipe_parsers;  // per worker, used by its reactor thread
  std::atomic<uint64_t> round_robin{0};
  unsigned next_reactor = 0;
  connection_table conns;
  std::atomic<int64_t> overflow_log_ms{0};

  connection_ptr new_connection(int port_index, const std::string& ip, int port);
  net::socket_server& socket_of(const connection& c);
  void reactor_event(int reactor, uint32_t owner, net::socket_event& ev);
  void client_event(uint32_t session, net::socket_event& ev);
  void client_data(const connection_ptr& c, const char* data, size_t size);
  void deliver(connection& c, uint8_t type, std::string_view data = {});
  int pick_worker(connection& c, bool packet);
  bool hash_dispatch() const;
  void to_worker(int worker, uint8_t type, int fd, int reactor, std::string_view payload, uint32_t arg = 0);
  void pipe_event(int worker, net::socket_event& ev);
  void worker_command(int worker, const ipc::header& h, std::string_view payload);
  bool send_to_client(connection& c, std::string_view data, std::string* why = nullptr, bool unlimited = false);
  void close_connection(connection& c, bool reset);
  int heartbeat_check();
  void fill_info(const connection& c, client_info* out) const;
  std::pair<size_t, size_t> watermarks(const connection& c) const;

  // --- server_worker.cpp: worker processes ----------------------------------
  int worker_main(int id);          // PROCESS
  int base_worker_main(int id);     // BASE
  void enter_worker(int id);
  bool write_frames(uint8_t type, int fd, uint32_t arg, std::string_view payload);
  bool flush_outbox();   // frames collected while batching, in one write
  void send_frames(int worker, std::string& frames);  // master: whole frames in one write
  std::string outbox;    // PROCESS worker: frames to the master not yet written
  bool batching = false;  // a batch of events is running: replies wait in the outbox
  int take_frames(std::vector<char>& into, int timeout_ms);  // bytes taken, 0 none, -1 EOF/error
  void handle_event(const ipc::header& h, std::string_view payload);
  std::optional<std::string> query(uint8_t type, int fd, std::string_view params);
  void run_callback(const char* name, const std::function<void()>& fn);
  void count_request();
  int pipe_fd = -1;           // the worker's end
  int sig_rfd = -1, sig_wfd = -1;
  std::vector<char> batch;
  std::deque<std::string> later;  // frames taken while waiting for a reply
  std::unordered_map<int, std::string> partial;  // fd -> a packet arriving in pieces
  uint32_t next_request = 0;
  uint64_t requests = 0;
  bool stop_self = false;  // stop(): leave after the current callback
  bool recycle = false;    // max_request reached
  // BASE worker
  std::unique_ptr<net::socket_server> base_ss;
  std::vector<int> base_listener_sids;
  void base_event(uint32_t owner, net::socket_event& ev);
  void base_accept(int index, int sid, const std::string& peer);

  // --- server_io.cpp: UDP, TLS, sendfile, daemonize, user/group -------------
  std::vector<std::shared_ptr<tls::context>> port_tls;  // per listener; null: plain (or UDP)
  std::vector<int> udp_sids;                            // PROCESS master: per listener, -1 if TCP
  std::unordered_map<int, std::string> packet_parts;    // worker: a datagram arriving in pieces
  bool is_udp(size_t index) const;
  bool prepare_io();          // prepare(): UDP needs on_packet, the TLS contexts
  bool daemonize_now();       // prepare(): detach (after bind, before anything is forked)
  void drop_privileges();     // a worker: user/group when root
  void start_udp();           // PROCESS master: the UDP sockets into the reactors
  void udp_event(int index, net::socket_event& ev);  // a datagram (master reactor / BASE worker)
  void handle_packet(const ipc::header& h, std::string_view payload);  // PROCESS worker
  bool tls_data(const connection_ptr& c, const char* data, size_t size);  // false: not TLS
  bool tls_send(connection& c, std::string_view data, std::string* why);
  void tls_goodbye(connection& c);  // close_notify before a graceful close
  void client_plain(const connection_ptr& c, const char* data, size_t size);

  // --- server_timer.cpp: tick / after in workers and task workers -----------
  struct timer {
    int64_t due = 0;   // steady_ms()
    int interval = 0;  // ms; 0: once (after)
    std::shared_ptr<std::function<void(server&, int)>> fn;
  };
  std::unordered_map<int, timer> timers;
  std::set<std::pair<int64_t, int>> timer_queue;  // (due, id), soonest first
  int last_timer_id = 0;
  int add_timer(int ms, bool repeat, std::function<void(server&, int)> fn);
  // The poll timeout that wakes the loop for the next timer: `cap` (-1: no
  // limit) or less.
  int timer_timeout(int cap) const;
  void run_timers();    // those due, on the process's main thread
  void clear_timers();  // a forked child: its parent's timers are not its own

  // --- a protocol layer over the connection callbacks (http_server) ---------
  // Called in the worker before on_connect with the connection's peer
  // (PROCESS: carried in the ev_connect frame).
  std::function<void(int fd, const peer_info&)> on_peer;
  // Set by a layer that keeps per-connection state in the worker (its name,
  // for the log): prepare() then turns dispatch modes 1, 3 and 7, which
  // spread one connection's packets over workers, into 2.
  const char* connection_affine = nullptr;

  // --- server_task.cpp: task workers, pipe messages, user processes ----------
  std::vector<std::function<void(server&)>> user_bodies;  // add_process()
  std::shared_ptr<task_state> tstate;  // inboxes, the task queue, shared counters (made in prepare())
  bool check_tasks();              // prepare(): on_task is set if there are task workers
  bool prepare_tasks();            // prepare(): the channels and counters
  void tasks_in_master();          // the master, after forking the manager: closes the channels
  void cleanup_tasks();            // cleanup_master()
  void add_task_children(std::vector<child_spec>& children) const;  // the manager's list
  void task_child_exited(int id);  // the manager
  void enter_channels(int id);     // a child: keeps its own ends
  int task_worker_main(int id);
  int user_process_main(int id);
  int inbox_fd() const;            // a worker's inbox (-1: none)
  int inbox_bell_fd() const;       // BASE: its doorbell (read through base_ss)
  bool inbox_pending() const;      // messages kept while waiting, to handle
  void inbox_ready();              // handles what came, from the worker's loop only
  uint64_t tasking_num() const;
};

}  // namespace tern::server
