// tern::server::server: swoole's Server in C++. One master process accepts and
// does the I/O; a manager process forks and supervises worker processes that
// run the callbacks (PROCESS mode), or every worker accepts and does its own
// I/O (BASE mode). docs/server.md describes the processes and threads.
//
//   tern::server::server s("127.0.0.1", 9501);
//   s.set({{"worker_num", int64_t(2)}, {"open_length_check", true}});
//   s.on_receive = [](tern::server::server& s, int fd, int reactor_id, std::string_view data) {
//     s.send(fd, data);
//   };
//   return s.start() ? 0 : 1;   // blocks until shutdown
//
// Threading: callbacks run on a worker process's main thread (task callbacks
// on a task worker's); methods are for use inside callbacks of that process,
// except start() (the master, before anything runs).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/server/settings.hpp"

namespace tern::server {

enum class mode { process = 1, base = 2 };  // SWOOLE_PROCESS, SWOOLE_BASE
enum class sock_type { tcp = 1, udp = 2, tcp6 = 3, udp6 = 4 };

struct client_info {
  int server_port = 0;
  int server_fd = 0;
  int socket_fd = 0;
  int reactor_id = 0;
  std::string remote_ip;
  int remote_port = 0;
  int64_t connect_time = 0;       // seconds since the epoch
  int64_t last_time = 0;          // last data received
  int64_t last_recv_time = 0;
  int64_t last_send_time = 0;
  uint32_t uid = 0;               // bind()
  uint64_t recv_bytes = 0, send_bytes = 0;
};

struct server_stats {
  int64_t start_time = 0;
  uint64_t connection_num = 0, accept_count = 0, close_count = 0;
  int worker_num = 0, task_worker_num = 0, idle_worker_num = 0;
  uint64_t request_count = 0;     // this worker's
  uint64_t total_recv_bytes = 0, total_send_bytes = 0;
  uint64_t tasking_num = 0;
};

class server;

struct listener {
  std::string host;
  int port = 0;
  sock_type type = sock_type::tcp;
  setting_map overrides;  // per-port protocol settings (set() on the port)
};

class server {
 public:
  server(std::string host, int port, mode m = mode::process, sock_type type = sock_type::tcp);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Settings (checked at once for type and range, as a whole at start()).
  bool set(const setting_map& values);
  [[nodiscard]] const struct settings& settings() const;
  [[nodiscard]] const std::string& error() const;  // why set/start/... failed

  // Another port, served by the same workers.
  listener& add_listener(std::string host, int port, sock_type type = sock_type::tcp);
  // A user process, supervised like a worker; its function runs in that process.
  int add_process(std::function<void(server&)> body);

  // Callbacks (swoole's event names: onStart is on_start, ...).
  std::function<void(server&)> on_start, on_shutdown, on_manager_start, on_manager_stop;
  std::function<void(server&, int worker_id)> on_worker_start, on_worker_stop, on_worker_exit;
  std::function<void(server&, int worker_id, pid_t pid, int exit_code, int signal)> on_worker_error;
  std::function<void(server&, int fd, int reactor_id)> on_connect, on_close;
  std::function<void(server&, int fd, int reactor_id, std::string_view data)> on_receive;
  std::function<void(server&, std::string_view data, const client_info& from)> on_packet;
  // Runs in a task worker; what it returns (if anything) goes to on_finish / taskwait.
  std::function<std::optional<std::string>(server&, int task_id, int src_worker_id, std::string_view data)> on_task;
  std::function<void(server&, int task_id, std::string_view data)> on_finish;
  std::function<void(server&, int src_worker_id, std::string_view message)> on_pipe_message;
  std::function<void(server&, int fd)> on_buffer_full, on_buffer_empty;

  // Runs the server: validates, forks, serves; returns when it has shut down.
  // False (with error()) if it could not start: bad settings, port in use, pid
  // file held by a running server.
  bool start();

  // Connections (in a worker).
  bool send(int fd, std::string_view data, int server_socket = -1);
  bool sendto(std::string_view ip, int port, std::string_view data, int server_socket = -1);
  bool sendfile(int fd, const std::string& path, int64_t offset = 0, int64_t length = 0);
  bool close(int fd, bool reset = false);
  [[nodiscard]] bool exists(int fd) const;
  bool pause(int fd);
  bool resume(int fd);
  [[nodiscard]] std::optional<client_info> get_client_info(int fd) const;
  [[nodiscard]] std::vector<int> get_client_list(int start_fd = 0, int count = 10) const;
  bool bind(int fd, uint32_t uid);
  [[nodiscard]] server_stats stats() const;

  // Processes.
  bool reload(bool only_task_workers = false);
  bool shutdown();
  bool stop(int worker_id = -1, bool wait_event = false);
  bool heartbeat(bool close_idle = true);
  [[nodiscard]] int worker_id() const;
  [[nodiscard]] pid_t worker_pid() const;
  [[nodiscard]] bool is_task_worker() const;
  [[nodiscard]] pid_t master_pid() const;
  [[nodiscard]] pid_t manager_pid() const;

  // Timers of this process (swoole's Server->tick / after / clearTimer): run on
  // the process's main thread between events, in millisecond resolution.
  // Return a timer id (> 0); clear_timer() cancels it (false if unknown).
  int tick(int ms, std::function<void(server&, int timer_id)> fn);
  int after(int ms, std::function<void(server&, int timer_id)> fn);
  bool clear_timer(int timer_id);

  // Tasks (from a worker) and results (from a task worker).
  int task(std::string_view data, int dst_task_worker = -1,
           std::function<void(server&, int task_id, std::string_view)> on_done = nullptr);
  std::optional<std::string> taskwait(std::string_view data, double timeout = 0.5, int dst_task_worker = -1);
  std::vector<std::optional<std::string>> task_wait_multi(const std::vector<std::string>& tasks,
                                                          double timeout = 0.5);
  bool finish(std::string_view data);
  bool send_message(std::string_view message, int dst_worker_id);

  struct impl;

 protected:
  // For protocol layers built on the Server (http_server): its insides.
  impl& internals() const { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace tern::server
