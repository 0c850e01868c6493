// tern::server I/O beyond one TCP port: UDP (on_packet / sendto), several
// ports on one server (add_listener, per-port framing, server_port), TLS
// (OpenSSL; python3's ssl module is the client), sendfile, daemonize with
// pid_file and log_file, user/group. Each test forks a server and cleans up
// every process it made.
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>

#include <cstdio>
#include <memory>

#include "server_test_util.hpp"

using namespace server_test;
using tern::server::client_info;
using tern::server::sock_type;

namespace {

inline int free_udp_port() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// A UDP client bound to 127.0.0.1:<some port>.
class udp_client {
 public:
  udp_client() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~udp_client() { close(fd_); }
  int port() const { return port_; }

  void send(int to_port, std::string_view msg) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(to_port));
    sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // One datagram, or "" after the timeout. *from_port gets the sender's port.
  std::string receive(int timeout_ms = 5000, int* from_port = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return "";
    char buf[65536];
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), &len);
    if (from_port) *from_port = ntohs(a.sin_port);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
  }
  std::string ask(int to_port, std::string_view msg, int* from_port = nullptr) {
    send(to_port, msg);
    return receive(5000, from_port);
  }
  // Until the server answers (datagrams sent before it bound are lost), then
  // drops the extra answers.
  bool wait_ready(int to_port) {
    int64_t end = now_ms() + 5000;
    bool ok = false;
    while (!ok && now_ms() < end) {
      send(to_port, "ping");
      ok = !receive(100).empty();
    }
    std::this_thread::sleep_for(100ms);
    while (!receive(0).empty()) {
    }
    return ok;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Runs a shell command; its stdout (and stderr).
std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return "<popen failed>";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

// Bytes i % 251, i in [0, n): a file whose every offset is recognisable.
std::string pattern(size_t n, size_t from = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((from + i) % 251);
  return s;
}

void write_file(const std::string& path, const std::string& data) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) return;
  fwrite(data.data(), 1, data.size(), f);
  fclose(f);
}

std::string mode_name(const ::testing::TestParamInfo<mode>& p) { return p.param == mode::process ? "Process" : "Base"; }

class ServerIo : public ServerFixture, public ::testing::WithParamInterface<mode> {
 protected:
  // fork_server() with a socket type for the constructor's port.
  pid_t start_typed(sock_type type, const std::function<void(server&)>& setup, const std::string& error_file = {}) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int rc = 0;
      {
        server s("127.0.0.1", port, GetParam(), type);
        setup(s);
        if (!s.start()) {
          if (!error_file.empty()) append_file(error_file, s.error());
          fprintf(stderr, "start failed: %s\n", s.error().c_str());
          rc = 3;
        }
      }
      _exit(rc);
    }
    servers.push_back(pid);
    return pid;
  }

  // A self-signed certificate for 127.0.0.1 (cert.pem, key.pem in dir).
  bool make_certificate() {
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout '" + dir +
                      "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
    return system(cmd.c_str()) == 0;
  }

  // Runs a python3 script (given as text) with arguments; its output.
  std::string python(const std::string& script, const std::string& args) {
    std::string path = dir + "/client.py";
    write_file(path, script);
    return run("timeout 30 python3 '" + path + "' " + args);
  }
};

// --- UDP ---------------------------------------------------------------------------

// "<data>|<server_port>|<remote_port>" back to the sender, from the port it came to.
void udp_echo(server& s) {
  s.on_packet = [](server& srv, std::string_view data, const client_info& from) {
    if (data == "default") {  // server_socket -1: the first UDP port
      srv.sendto(from.remote_ip, from.remote_port, "via default");
      return;
    }
    if (data == "bad") {
      bool ok = srv.sendto("not-an-ip", from.remote_port, "x");
      srv.sendto(from.remote_ip, from.remote_port, ok ? std::string("ok") : "error: " + srv.error(), from.server_fd);
      return;
    }
    std::string reply = std::string(data) + "|" + std::to_string(from.server_port) + "|" +
                        std::to_string(from.remote_port) + "|" + from.remote_ip;
    srv.sendto(from.remote_ip, from.remote_port, reply, from.server_fd);
  };
}

TEST_P(ServerIo, UdpEchoViaOnPacketAndSendto) {
  port = free_udp_port();
  start_typed(sock_type::udp, [](server& s) {
    s.set({{"worker_num", int64_t(2)}});
    udp_echo(s);
  });
  udp_client a, b;
  ASSERT_TRUE(a.wait_ready(port));
  ASSERT_TRUE(b.wait_ready(port));
  for (int i = 0; i < 5; ++i) {
    std::string msg = "hello " + std::to_string(i);
    int from = 0;
    EXPECT_EQ(a.ask(port, msg, &from), msg + "|" + std::to_string(port) + "|" + std::to_string(a.port()) + "|127.0.0.1");
    EXPECT_EQ(from, port);  // the reply leaves from the server's port
    EXPECT_EQ(b.ask(port, msg), msg + "|" + std::to_string(port) + "|" + std::to_string(b.port()) + "|127.0.0.1");
  }
  EXPECT_EQ(a.ask(port, "default"), "via default");
  EXPECT_EQ(a.ask(port, "bad"), "error: sendto: 'not-an-ip' is not an IP address");
  // A big datagram (several frames on a PROCESS worker's socketpair).
  std::string big = pattern(60000);
  std::string got = a.ask(port, big);
  EXPECT_EQ(got.substr(0, big.size()), big);
}

TEST_P(ServerIo, Udp6Port) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 me{};
  me.sin6_family = AF_INET6;
  me.sin6_addr = in6addr_loopback;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me) != 0) {
    if (fd >= 0) close(fd);
    GTEST_SKIP() << "no IPv6 loopback";
  }
  int udp6 = free_udp_port();
  start(GetParam(), [udp6](server& s) {
    s.set({{"worker_num", int64_t(1)}});
    s.add_listener("::1", udp6, sock_type::udp6);
    udp_echo(s);
  });
  sockaddr_in6 to = me;
  to.sin6_port = htons(uint16_t(udp6));
  std::string reply;
  for (int i = 0; i < 50 && reply.empty(); ++i) {
    sendto(fd, "six", 3, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[256];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) reply.assign(buf, size_t(n));
    }
  }
  socklen_t len = sizeof me;
  getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
  close(fd);
  EXPECT_EQ(reply, "six|" + std::to_string(udp6) + "|" + std::to_string(ntohs(me.sin6_port)) + "|::1");
}

TEST_P(ServerIo, UdpPortNeedsOnPacket) {
  port = free_udp_port();
  std::string err = dir + "/error";
  pid_t pid = start_typed(sock_type::udp, [](server& s) { s.set({{"worker_num", int64_t(1)}}); }, err);
  int status = 0;
  waitpid(pid, &status, 0);
  servers.clear();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  EXPECT_EQ(read_file(err), "a UDP port needs on_packet");
}

TEST_P(ServerIo, TcpAndUdpOnOneServer) {
  int udp_port = free_udp_port();
  start(GetParam(), [udp_port](server& s) {
    s.set({{"worker_num", int64_t(2)}});
    s.add_listener("127.0.0.1", udp_port, sock_type::udp);
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      auto info = srv.get_client_info(fd);
      srv.send(fd, "tcp:" + std::to_string(info ? info->server_port : -1) + ":" + std::string(data));
    };
    s.on_packet = [](server& srv, std::string_view data, const client_info& from) {
      srv.sendto(from.remote_ip, from.remote_port, "udp:" + std::to_string(from.server_port) + ":" + std::string(data));
    };
  });
  int fd = client();
  ASSERT_GE(fd, 0);
  udp_client u;
  ASSERT_TRUE(u.wait_ready(udp_port));
  for (int i = 0; i < 3; ++i) {
    std::string msg = "m" + std::to_string(i) + "\n";
    EXPECT_EQ(ask(fd, msg), "tcp:" + std::to_string(port) + ":" + msg);
    EXPECT_EQ(u.ask(udp_port, msg), "udp:" + std::to_string(udp_port) + ":" + msg);
  }
}

// --- several TCP ports ---------------------------------------------------------------

TEST_P(ServerIo, ListenerOverridesFramingAndTellsItsPort) {
  int port2 = free_port();
  start(GetParam(), [port2](server& s) {
    s.set({{"worker_num", int64_t(1)}});
    auto& l = s.add_listener("127.0.0.1", port2);
    l.overrides = {{"open_length_check", true},
                   {"package_length_type", std::string("N")},
                   {"package_body_offset", int64_t(4)},
                   {"package_max_length", int64_t(1000)}};
    s.on_receive = [](server& srv, int fd, int, std::string_view data) {
      auto info = srv.get_client_info(fd);
      srv.send(fd, "[" + std::to_string(info ? info->server_port : -1) + ":" + std::to_string(data.size()) + "]");
    };
  });
  int plain = client();
  int framed = connect_to(port2);
  ASSERT_GE(plain, 0);
  ASSERT_GE(framed, 0);
  clients.push_back(framed);
  // The framed port: two packets in one write are two callbacks.
  ASSERT_TRUE(send_all(framed, length_packet("abc") + length_packet("defgh")));
  std::string p2 = std::to_string(port2);
  EXPECT_EQ(recv_n(framed, 2 * (p2.size() + 4)), "[" + p2 + ":7][" + p2 + ":9]");
  // The main port keeps the server's settings (unframed: a read is a packet).
  ASSERT_TRUE(send_all(plain, "hello"));
  std::string p1 = std::to_string(port);
  EXPECT_EQ(recv_n(plain, p1.size() + 4), "[" + p1 + ":5]");
  // The port's package_max_length: over it closes that connection only.
  ASSERT_TRUE(send_all(framed, length_packet(std::string(2000, 'x'))));
  EXPECT_TRUE(wait_eof(framed));
  ASSERT_TRUE(send_all(plain, "again"));
  EXPECT_EQ(recv_n(plain, p1.size() + 4), "[" + p1 + ":5]");
}

// --- TLS -------------------------------------------------------------------------------

const char* kTlsClient = R"PY(
import socket, ssl, sys
port = int(sys.argv[1]); plain_port = int(sys.argv[2]); file_size = int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def readline(s):
    buf = b''
    while not buf.endswith(b'\n'):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf
def readn(s, n):
    buf = b''
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf
a = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10))
a.sendall(b'one\n'); print(readline(a).decode().strip())
# A plaintext client on the TLS port: closed, the TLS one goes on.
b = socket.create_connection(('127.0.0.1', plain_port), timeout=10)
b.sendall(b'GET / HTTP/1.0\r\n\r\n')
try:
    while b.recv(4096):
        pass
    print('plain closed')
except ConnectionResetError:
    print('plain closed')
except socket.timeout:
    print('plain not closed')
a.sendall(b'big\n'); print(len(readline(a)))
a.sendall(b'file\n')
data = readn(a, file_size)
print('file ok' if data == bytes(i % 251 for i in range(file_size)) else 'file bad %d' % len(data))
a.sendall(b'two\n'); print(readline(a).decode().strip())
print(a.version())
c = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10))
c.sendall(b'three\n'); print(readline(c).decode().strip())
c.close(); a.close()
)PY";

void tls_echo(server& s, const std::string& file) {
  s.on_receive = [file](server& srv, int fd, int, std::string_view data) {
    if (data == "big\n")
      srv.send(fd, std::string(200000, 'x') + "\n");
    else if (data == "file\n")
      srv.sendfile(fd, file);
    else
      srv.send(fd, "tls:" + std::string(data));
  };
}

TEST_P(ServerIo, TlsEchoAndAPlaintextClientIsClosedAlone) {
  ASSERT_TRUE(make_certificate());
  std::string log = dir + "/server.log", file = dir + "/file.bin";
  const size_t file_size = 300000;
  write_file(file, pattern(file_size));
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  int plain_port = free_port();
  start(GetParam(), [&](server& s) {
    s.set({{"worker_num", int64_t(2)}, {"ssl_cert_file", cert}, {"ssl_key_file", key}, {"log_file", log}});
    // A listener inherits the server's TLS settings unless its overrides clear them.
    s.add_listener("127.0.0.1", plain_port).overrides = {{"ssl_cert_file", std::string()},
                                                         {"ssl_key_file", std::string()}};
    tls_echo(s, file);
  });
  ASSERT_GE(connect_to(port), 0);  // up
  int plain = connect_to(plain_port);
  ASSERT_GE(plain, 0);
  clients.push_back(plain);
  EXPECT_EQ(ask(plain, "clear\n"), "tls:clear\n");
  std::string out = python(kTlsClient, std::to_string(port) + " " + std::to_string(port) + " " +
                                           std::to_string(file_size));
  EXPECT_EQ(out, "tls:one\nplain closed\n200001\nfile ok\ntls:two\nTLSv1.3\ntls:three\n") << read_file(log);
  EXPECT_TRUE(eventually([&] { return read_file(log).find("TLS handshake failed") != std::string::npos; }))
      << read_file(log);
  EXPECT_EQ(ask(plain, "clear again\n"), "tls:clear again\n");
}

TEST_P(ServerIo, TlsOnlyOnTheListenerThatSetsIt) {
  ASSERT_TRUE(make_certificate());
  int tls_port = free_port();
  std::string file = dir + "/file.bin";
  write_file(file, pattern(1000));
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  start(GetParam(), [&](server& s) {
    s.set({{"worker_num", int64_t(1)}});
    s.add_listener("127.0.0.1", tls_port).overrides = {{"ssl_cert_file", cert}, {"ssl_key_file", key}};
    tls_echo(s, file);
  });
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ask(fd, "plain\n"), "tls:plain\n");  // the main port stays plaintext
  std::string out = python(kTlsClient, std::to_string(tls_port) + " " + std::to_string(tls_port) + " 1000");
  EXPECT_EQ(out, "tls:one\nplain closed\n200001\nfile ok\ntls:two\nTLSv1.3\ntls:three\n");
  EXPECT_EQ(ask(fd, "still\n"), "tls:still\n");
}

TEST_P(ServerIo, TlsBadKeyFailsAtStart) {
  ASSERT_TRUE(make_certificate());
  std::string err = dir + "/error", bad = dir + "/bad.pem";
  write_file(bad, "not a key\n");
  std::string cert = dir + "/cert.pem";
  pid_t pid = start(GetParam(), [&](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"ssl_cert_file", cert}, {"ssl_key_file", bad}});
    s.on_receive = [](server&, int, int, std::string_view) {};
  }, 0, err);
  int status = 0;
  waitpid(pid, &status, 0);
  servers.clear();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  EXPECT_NE(read_file(err).find("ssl_key_file " + bad), std::string::npos) << read_file(err);
}

// --- sendfile --------------------------------------------------------------------------

TEST_P(ServerIo, SendfileOfAOneMebibyteFile) {
  std::string file = dir + "/file.bin";
  const size_t size = 1 << 20;
  write_file(file, pattern(size));
  std::string missing = dir + "/missing.bin";
  start(GetParam(), [&](server& s) {
    s.set({{"worker_num", int64_t(1)}});
    s.on_receive = [file, missing](server& srv, int fd, int, std::string_view data) {
      if (data == "file\n") {
        srv.sendfile(fd, file);
      } else if (data == "part\n") {
        srv.sendfile(fd, file, 1000, 5000);
      } else if (data == "missing\n") {
        bool ok = srv.sendfile(fd, missing);
        srv.send(fd, ok ? std::string("ok\n") : "error: " + srv.error() + "\n");
      } else if (data == "past\n") {
        bool ok = srv.sendfile(fd, file, 1 << 20, 0);
        srv.send(fd, ok ? std::string("ok\n") : "error\n");
      }
    };
  });
  int fd = client();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "file\n"));
  std::string got = recv_n(fd, size);
  ASSERT_EQ(got.size(), size);
  EXPECT_TRUE(got == pattern(size));
  ASSERT_TRUE(send_all(fd, "part\n"));
  EXPECT_TRUE(recv_n(fd, 5000) == pattern(5000, 1000));
  EXPECT_EQ(ask(fd, "missing\n"), "error: sendfile: " + missing + ": No such file or directory\n");
  EXPECT_EQ(ask(fd, "past\n"), "error\n");
}

// --- daemonize ---------------------------------------------------------------------------

bool zombie_or_gone(pid_t pid) {
  if (!alive(pid)) return true;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

TEST_P(ServerIo, DaemonizeWithPidFileAndLogFile) {
  // Orphans (the daemon) become this process's children, so it can reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string log = dir + "/daemon.log", pid_file = dir + "/server.pid";
  fflush(stdout);
  fflush(stderr);
  pid_t launcher = fork();
  if (launcher == 0) {
    if (chdir(dir.c_str()) != 0) _exit(5);  // a relative pid_file: the daemon changes to /
    int rc = 0;
    {
      server s("127.0.0.1", port, GetParam());
      s.set({{"worker_num", int64_t(2)}, {"daemonize", true}, {"pid_file", std::string("server.pid")},
             {"log_file", log}});
      s.on_worker_start = [](server&, int id) {
        printf("worker %d says hi on stdout\n", id);
        fflush(stdout);
        fprintf(stderr, "worker %d says hi on stderr\n", id);
      };
      s.on_receive = [](server& srv, int fd, int, std::string_view data) { srv.send(fd, data); };
      rc = s.start() ? 0 : 3;
    }
    _exit(rc);
  }
  // The launching process returns at once (exits 0: it has handed over to the daemon).
  int status = -1;
  int64_t t0 = now_ms();
  waitpid(launcher, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_LT(now_ms() - t0, 3000);

  pid_t daemon = 0;
  ASSERT_TRUE(eventually([&] {
    daemon = pid_t(atoi(read_file(pid_file).c_str()));
    return daemon > 0;
  })) << read_file(log);
  std::vector<pid_t> all = {daemon};
  auto cleanup = [&] {
    for (pid_t p : all) kill(p, SIGKILL);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  };
  EXPECT_NE(daemon, launcher);
  EXPECT_TRUE(alive(daemon));
  EXPECT_NE(getsid(daemon), getsid(0));  // its own session
  char cwd[256] = {};
  ssize_t n = readlink(("/proc/" + std::to_string(daemon) + "/cwd").c_str(), cwd, sizeof cwd - 1);
  EXPECT_EQ(std::string(cwd, size_t(std::max<ssize_t>(n, 0))), "/");

  int fd = client();
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ask(fd, "hello daemon\n"), "hello daemon\n");
  pid_t manager = manager_of(daemon);
  std::vector<pid_t> workers = workers_of(daemon, 2);
  EXPECT_GT(manager, 0);
  EXPECT_EQ(workers.size(), 2u);
  all.push_back(manager);
  all.insert(all.end(), workers.begin(), workers.end());

  // SIGTERM: a clean stop, the pid file removed, every process gone.
  kill(daemon, SIGTERM);
  int dstatus = -1;
  bool reaped = eventually([&] { return waitpid(daemon, &dstatus, WNOHANG) == daemon; }, 8000ms);
  EXPECT_TRUE(reaped);
  EXPECT_TRUE(WIFEXITED(dstatus) && WEXITSTATUS(dstatus) == 0);
  EXPECT_FALSE(access(pid_file.c_str(), F_OK) == 0);
  for (pid_t p : all) EXPECT_TRUE(eventually([&] { return zombie_or_gone(p); })) << p;
  std::string text = read_file(log);
  for (const char* line : {"daemonized: pid", "started: ", "SIGTERM: shutting down", "stopped",
                           "worker 0 says hi on stdout", "worker 1 says hi on stderr"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  cleanup();
}

// --- user/group ---------------------------------------------------------------------------

TEST_P(ServerIo, WorkersRunAsUserAndGroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  passwd* pw = getpwnam("nobody");
  group* gr = getgrnam("nogroup");
  if (!pw || !gr) GTEST_SKIP() << "no nobody/nogroup";
  uid_t uid = pw->pw_uid;
  gid_t gid = gr->gr_gid;
  pid_t master = start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"user", std::string("nobody")}, {"group", std::string("nogroup")}});
    s.on_receive = [](server& srv, int fd, int, std::string_view) {
      srv.send(fd, std::to_string(getuid()) + ":" + std::to_string(getgid()) + "\n");
    };
  });
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ask(fd, "who\n"), std::to_string(uid) + ":" + std::to_string(gid) + "\n");
  // The master (and manager) keep root.
  EXPECT_NE(read_file("/proc/" + std::to_string(master) + "/status").find("Uid:\t0\t"), std::string::npos);
}

TEST_P(ServerIo, UnknownUserFailsAtStart) {
  std::string err = dir + "/error";
  pid_t pid = start(GetParam(), [](server& s) {
    s.set({{"worker_num", int64_t(1)}, {"user", std::string("no_such_user_tern")}});
    s.on_receive = [](server&, int, int, std::string_view) {};
  }, 0, err);
  int status = 0;
  waitpid(pid, &status, 0);
  servers.clear();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  EXPECT_NE(read_file(err).find("no such user"), std::string::npos) << read_file(err);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerIo, ::testing::Values(mode::process, mode::base), mode_name);

}  // namespace
