// tern::server: task workers (task, taskwait, task_wait_multi, finish,
// task_max_request, a task worker killed, SIGUSR2), pipe messages
// (send_message / on_pipe_message) and user processes (add_process). Each
// test forks a server; a client drives it with one-line commands.
#include <algorithm>
#include <map>
#include <memory>

#include "server_test_util.hpp"

using namespace server_test;

namespace {

// Dead or a zombie (not reaped yet).
bool gone(pid_t pid) {
  if (!alive(pid)) return true;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

std::vector<std::string> split(std::string_view s, char sep, size_t max_parts = 0) {
  std::vector<std::string> out;
  while (true) {
    size_t at = s.find(sep);
    if (at == std::string_view::npos || (max_parts && out.size() + 1 == max_parts)) {
      out.emplace_back(s);
      return out;
    }
    out.emplace_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
}

// A 1 MiB payload with a pattern (so that a shifted or cut copy shows).
std::string big_payload() {
  std::string s(1 << 20, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = char('a' + (i * 7 + i / 4096) % 26);
  return s;
}

struct options {
  int workers = 1;
  int task_workers = 1;
  int ipc_mode = 1;
  int task_max_request = 0;
  std::string starts;  // a file: "worker_id pid" per on_worker_start
};

options opt(int workers = 1, int task_workers = 1, int ipc_mode = 1, int task_max_request = 0,
            std::string starts = {}) {
  options o;
  o.workers = workers;
  o.task_workers = task_workers;
  o.ipc_mode = ipc_mode;
  o.task_max_request = task_max_request;
  o.starts = std::move(starts);
  return o;
}

// The server of these tests. Commands (one per line) to a worker:
//   async DATA         task(DATA); on_finish sends "finish ID RESULT"
//   cb DATA            task(DATA, -1, on_done); on_done sends "cb ID RESULT"
//   wait TIMEOUT DATA  taskwait(DATA, TIMEOUT): "wait RESULT|none MS"
//   multi TIMEOUT A|B|C  task_wait_multi: "multi R1|R2|R3 MS" (none for a missing one)
//   big                a 1 MiB taskwait round trip: "big ok" or "big bad ..."
//   whoami             "me ID"
//   msg DST TEXT       send_message("FD|TEXT", DST): "sent" or "error ..."
// on_task's DATA: "sleep:MS:X" sleeps then returns X; "finish:X" calls
// finish(X); "pid" returns its pid; "none" returns nothing; anything else
// returns "echo:DATA@TASK_WORKER_ID" (after checking it is a task worker).
// on_pipe_message "FD|TEXT[|via]": a worker sends "pipe SRC>ME TEXT[ via]"
// to connection FD; a task worker sends the message back with " via ID".
void task_server(server& s, const options& o) {
  s.set({{"worker_num", int64_t(o.workers)},
         {"task_worker_num", int64_t(o.task_workers)},
         {"task_ipc_mode", int64_t(o.ipc_mode)},
         {"task_max_request", int64_t(o.task_max_request)},
         {"open_eof_split", true},
         {"package_eof", std::string("\n")},
         {"max_wait_time", 1.0}});
  std::string starts = o.starts;
  s.on_worker_start = [starts](server& srv, int id) {
    if (!starts.empty())
      append_file(starts, std::to_string(id) + " " + std::to_string(srv.worker_pid()) + "\n");
  };
  auto waiting = std::make_shared<std::map<int, int>>();  // task id -> fd (per worker process)
  s.on_receive = [waiting](server& srv, int fd, int, std::string_view data) {
    std::string line(data.substr(0, data.size() - 1));
    auto reply = [&](const std::string& text) { srv.send(fd, text + "\n"); };
    auto parts = split(line, ' ', 3);
    const std::string& cmd = parts[0];
    if (cmd == "async") {
      int id = srv.task(line.substr(6));
      if (id < 0) return reply("error " + srv.error());
      (*waiting)[id] = fd;
    } else if (cmd == "cb") {
      int id = srv.task(line.substr(3), -1, [fd](server& s2, int task_id, std::string_view r) {
        s2.send(fd, "cb " + std::to_string(task_id) + " " + std::string(r) + "\n");
      });
      if (id < 0) reply("error " + srv.error());
    } else if (cmd == "wait" && parts.size() == 3) {
      int64_t t0 = now_ms();
      auto r = srv.taskwait(parts[2], std::stod(parts[1]));
      reply("wait " + (r ? *r : "none") + " " + std::to_string(now_ms() - t0));
    } else if (cmd == "multi" && parts.size() == 3) {
      int64_t t0 = now_ms();
      auto rs = srv.task_wait_multi(split(parts[2], '|'), std::stod(parts[1]));
      std::string out;
      for (auto& r : rs) out += (out.empty() ? "" : "|") + (r ? *r : "none");
      reply("multi " + out + " " + std::to_string(now_ms() - t0));
    } else if (cmd == "big") {
      std::string payload = big_payload();
      auto r = srv.taskwait("big:" + payload, 5);
      if (!r) return reply("big bad: no result (" + srv.error() + ")");
      std::string expect = payload;
      std::reverse(expect.begin(), expect.end());
      reply(*r == expect ? "big ok" : "big bad: " + std::to_string(r->size()) + " bytes");
    } else if (cmd == "flood" && parts.size() == 2) {
      // N tasks of 4 KiB at once: far more than the inboxes hold, both ways.
      int n = std::stoi(parts[1]);
      auto left = std::make_shared<int>(n);
      auto bad = std::make_shared<int>(0);
      std::string payload(4096, 'f');
      for (int i = 0; i < n; ++i) {
        int id = srv.task(payload, -1, [fd, left, bad](server& s2, int, std::string_view r) {
          if (r.size() != 4096 + 7) ++*bad;  // "echo:" + data + "@1"
          if (--*left == 0) s2.send(fd, "flood done, " + std::to_string(*bad) + " bad\n");
        });
        if (id < 0) return reply("error " + srv.error());
      }
    } else if (cmd == "whoami") {
      reply("me " + std::to_string(srv.worker_id()));
    } else if (cmd == "msg" && parts.size() == 3) {
      bool ok = srv.send_message(std::to_string(fd) + "|" + parts[2], std::stoi(parts[1]));
      reply(ok ? "sent" : "error " + srv.error());
    } else {
      reply("unknown " + line);
    }
  };
  s.on_task = [](server& srv, int, int, std::string_view data) -> std::optional<std::string> {
    if (data.starts_with("sleep:")) {
      auto p = split(data.substr(6), ':', 2);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(p[0])));
      return p[1];
    }
    if (data.starts_with("finish:")) {
      srv.finish(data.substr(7));
      return std::string("this return value is ignored after finish()");
    }
    if (data.starts_with("big:")) {
      std::string r(data.substr(4));
      std::reverse(r.begin(), r.end());
      return r;
    }
    if (data == "pid") return std::to_string(getpid());
    if (data == "none") return std::nullopt;
    if (!srv.is_task_worker()) return "not a task worker";
    return "echo:" + std::string(data) + "@" + std::to_string(srv.worker_id());
  };
  s.on_finish = [waiting](server& srv, int task_id, std::string_view r) {
    auto it = waiting->find(task_id);
    if (it == waiting->end()) return;
    srv.send(it->second, "finish " + std::to_string(task_id) + " " + std::string(r) + "\n");
    waiting->erase(it);
  };
  s.on_pipe_message = [](server& srv, int src, std::string_view message) {
    if (srv.is_task_worker()) {  // back to where it came from
      srv.send_message(std::string(message) + " via " + std::to_string(srv.worker_id()), src);
      return;
    }
    auto p = split(message, '|', 2);
    srv.send(std::stoi(p[0]), "pipe " + std::to_string(src) + ">" +
                                  std::to_string(srv.worker_id()) + " " + p[1] + "\n");
  };
}

// The number at the end of a reply line ("wait x 12\n": 12).
int last_number(const std::string& line) {
  size_t end = line.find_last_not_of("\n");
  size_t sp = line.rfind(' ', end);
  return sp == std::string::npos ? -1 : std::atoi(line.c_str() + sp + 1);
}

// What on_pipe_message in worker `me` sends for a message from `src`.
std::string fmt_pipe(int src, int me, const std::string& text) {
  return "pipe " + std::to_string(src) + ">" + std::to_string(me) + " " + text + "\n";
}

// "id pid" lines of on_worker_start: the latest pid per id.
std::map<int, pid_t> started(const std::string& file) {
  std::map<int, pid_t> out;
  std::istringstream in(read_file(file));
  int id;
  long pid;
  while (in >> id >> pid) out[id] = pid_t(pid);
  return out;
}

int count_starts(const std::string& file, int id) {
  std::istringstream in(read_file(file));
  int k, n = 0;
  long pid;
  while (in >> k >> pid) n += k == id;
  return n;
}

using ServerTask = ServerFixture;

TEST_F(ServerTask, AsyncTaskCallsOnFinish) {
  start(mode::process, [](server& s) { task_server(s, opt(2, 2)); });
  int fd = client();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "async hello\nasync world\n"));
  std::set<std::string> results;
  std::set<int> ids;
  for (int i = 0; i < 2; ++i) {
    std::string line = recv_until(fd, "\n");
    auto p = split(line.substr(0, line.size() - (line.empty() ? 0 : 1)), ' ');
    ASSERT_EQ(p.size(), 3u) << line;
    EXPECT_EQ(p[0], "finish");
    ids.insert(std::stoi(p[1]));
    EXPECT_GE(std::stoi(p[1]), 0);
    results.insert(p[2].substr(0, p[2].find('@')));
    int tw = std::stoi(p[2].substr(p[2].find('@') + 1));
    EXPECT_TRUE(tw == 2 || tw == 3) << "task worker ids follow the workers: " << line;
  }
  EXPECT_EQ(ids.size(), 2u) << "task ids are unique";
  EXPECT_EQ(results, (std::set<std::string>{"echo:hello", "echo:world"}));
}

TEST_F(ServerTask, TaskWithCallbackSkipsOnFinish) {
  start(mode::process, [](server& s) { task_server(s, opt()); });
  int fd = client();
  std::string line = ask(fd, "cb data\n");
  EXPECT_TRUE(line.starts_with("cb ")) << line;
  EXPECT_NE(line.find(" echo:data@1\n"), std::string::npos) << line;
}

TEST_F(ServerTask, TaskwaitReturnsTheResult) {
  start(mode::process, [](server& s) { task_server(s, opt()); });
  int fd = client();
  std::string line = ask(fd, "wait 2 x\n");
  EXPECT_TRUE(line.starts_with("wait echo:x@1 ")) << line;
  line = ask(fd, "wait 2 finish:from-finish\n");
  EXPECT_TRUE(line.starts_with("wait from-finish ")) << "finish() gives the result: " << line;
  line = ask(fd, "async finish:async-finish\n");
  EXPECT_TRUE(line.starts_with("finish ") && line.ends_with(" async-finish\n")) << line;
  // A task that returns nothing: taskwait gives up at once, not at the timeout.
  line = ask(fd, "wait 3 none\n");
  ASSERT_TRUE(line.starts_with("wait none ")) << line;
  EXPECT_LT(last_number(line), 2000) << line;
}

TEST_F(ServerTask, TaskwaitTimesOut) {
  start(mode::process, [](server& s) { task_server(s, opt(1, 2)); });
  int fd = client();
  std::string line = ask(fd, "wait 0.3 sleep:700:late\n");
  ASSERT_TRUE(line.starts_with("wait none ")) << line;
  int ms = last_number(line);
  EXPECT_GE(ms, 280) << line;
  EXPECT_LT(ms, 900) << line;
  // The late result is dropped; the next taskwait gets its own.
  line = ask(fd, "wait 3 sleep:600:second\n");
  EXPECT_TRUE(line.starts_with("wait second ")) << line;
  line = ask(fd, "wait 2 third\n");
  EXPECT_TRUE(line.starts_with("wait echo:third@")) << line;
}

TEST_F(ServerTask, TaskWaitMultiKeepsOrderAndMissesTheSlowOne) {
  start(mode::process, [](server& s) { task_server(s, opt(1, 3)); });
  int fd = client();
  std::string line = ask(fd, "multi 0.5 sleep:10:a|sleep:900:b|sleep:10:c\n");
  ASSERT_TRUE(line.starts_with("multi a|none|c ")) << line;
  int ms = last_number(line);
  EXPECT_GE(ms, 450) << line;
  EXPECT_LT(ms, 1200) << line;
}

TEST_F(ServerTask, OneMegabytePayloadRoundTrip) {
  start(mode::process, [](server& s) { task_server(s, opt()); });
  int fd = client();
  EXPECT_EQ(ask(fd, "big\n"), "big ok\n");
  EXPECT_EQ(ask(fd, "big\n"), "big ok\n");
}

TEST_F(ServerTask, ManyTasksAtOnceDoNotDeadlock) {
  start(mode::process, [](server& s) { task_server(s, opt()); });
  int fd = client();
  EXPECT_EQ(ask(fd, "flood 5000\n", "\n", 15000), "flood done, 0 bad\n");
}

TEST_F(ServerTask, TaskMaxRequestRecyclesTheTaskWorker) {
  start(mode::process, [](server& s) { task_server(s, opt(1, 1, 1, 2)); });
  int fd = client();
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    std::string line = ask(fd, "wait 3 pid\n");
    ASSERT_TRUE(line.starts_with("wait ")) << line;
    pids.push_back(pid_t(std::stol(line.substr(5))));
  }
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_NE(pids[1], pids[2]) << "the task worker leaves after task_max_request tasks";
  EXPECT_TRUE(eventually([&] { return gone(pids[0]); }));
}

TEST_F(ServerTask, KilledTaskWorkerIsRestartedAndItsQueueServed) {
  std::string starts = dir + "/starts";
  start(mode::process, [starts](server& s) { task_server(s, opt(1, 1, 1, 0, starts)); });
  int fd = client();
  ASSERT_TRUE(eventually([&] { return started(starts).count(1) == 1; }));
  pid_t tw = started(starts)[1];
  // The task worker sleeps on the first; the second waits in its inbox.
  ASSERT_TRUE(send_all(fd, "async sleep:800:first\nasync second\n"));
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(kill(tw, SIGKILL), 0);
  std::string line = recv_until(fd, "\n", 5000);
  EXPECT_TRUE(line.starts_with("finish ") && line.ends_with(" echo:second@1\n")) << line;
  EXPECT_TRUE(gone(tw));
  line = ask(fd, "wait 3 pid\n");
  ASSERT_TRUE(line.starts_with("wait ")) << line;
  pid_t now = pid_t(std::stol(line.substr(5)));
  EXPECT_NE(now, tw);
  EXPECT_EQ(started(starts)[1], now);
}

TEST_F(ServerTask, Sigusr2ReloadsOnlyTheTaskWorkers) {
  std::string starts = dir + "/starts";
  pid_t master =
      start(mode::process, [starts](server& s) { task_server(s, opt(2, 2, 1, 0, starts)); });
  ASSERT_TRUE(eventually([&] { return started(starts).size() == 4; }));
  auto before = started(starts);
  ASSERT_EQ(kill(master, SIGUSR2), 0);
  ASSERT_TRUE(eventually([&] {
    return count_starts(starts, 2) == 2 && count_starts(starts, 3) == 2;
  })) << read_file(starts);
  auto after = started(starts);
  EXPECT_NE(after[2], before[2]);
  EXPECT_NE(after[3], before[3]);
  EXPECT_EQ(count_starts(starts, 0), 1);
  EXPECT_EQ(count_starts(starts, 1), 1);
  EXPECT_TRUE(alive(before[0]) && alive(before[1]));
  int fd = client();
  std::string line = ask(fd, "wait 3 pid\n");
  ASSERT_TRUE(line.starts_with("wait ")) << line;
  pid_t served_by = pid_t(std::stol(line.substr(5)));
  EXPECT_TRUE(served_by == after[2] || served_by == after[3]) << line;
}

TEST_F(ServerTask, SendMessageBetweenWorkersAndTaskWorkers) {
  start(mode::process, [](server& s) { task_server(s, opt(2, 1)); });
  int fd = client();
  std::string me_line = ask(fd, "whoami\n");
  ASSERT_TRUE(me_line.starts_with("me ")) << me_line;
  int me = std::stoi(me_line.substr(3)), other = 1 - me;
  // Worker -> worker: the other worker answers the client (PROCESS: any worker may send to any
  // connection). (Two workers write to the connection: either line may come first.)
  std::set<std::string> lines{ask(fd, "msg " + std::to_string(other) + " hi\n"),
                              recv_until(fd, "\n")};
  EXPECT_EQ(lines, (std::set<std::string>{"sent\n", fmt_pipe(me, other, "hi")}));
  // Worker -> task worker #2 -> back to this worker.
  EXPECT_EQ(ask(fd, "msg 2 there\n"), "sent\n");
  EXPECT_EQ(recv_until(fd, "\n"), fmt_pipe(2, me, "there via 2"));
  std::string line = ask(fd, "msg " + std::to_string(me) + " x\n");
  EXPECT_NE(line.find("cannot send a message to itself"), std::string::npos) << line;
  line = ask(fd, "msg 3 x\n");
  EXPECT_NE(line.find("no worker #3"), std::string::npos) << line;
}

TEST_F(ServerTask, UserProcessRunsIsRestartedAndStopped) {
  std::string procs = dir + "/procs", pipes = dir + "/pipes", starts = dir + "/starts";
  pid_t master = start(mode::process, [=](server& s) {
    task_server(s, opt(1, 1, 1, 0, starts));
    s.on_pipe_message = [pipes](server& srv, int src, std::string_view m) {
      append_file(pipes, std::to_string(srv.worker_id()) + " " + std::to_string(src) + " " +
                             std::string(m) + "\n");
    };
    int index = s.add_process([procs](server& srv) {
      append_file(procs, std::to_string(getpid()) + " " + std::to_string(srv.worker_id()) + "\n");
      srv.send_message("from the user process", 0);
      for (;;) std::this_thread::sleep_for(50ms);
    });
    if (index != 0) append_file(procs, "add_process failed\n");
  });
  auto proc_pids = [&] {
    std::vector<pid_t> out;
    std::istringstream in(read_file(procs));
    long pid;
    int id;
    while (in >> pid >> id) {
      EXPECT_EQ(id, 2) << "a user process's id follows the task workers";
      out.push_back(pid_t(pid));
    }
    return out;
  };
  ASSERT_TRUE(eventually([&] { return proc_pids().size() == 1; }));
  pid_t first = proc_pids()[0];
  EXPECT_TRUE(eventually([&] {
    return read_file(pipes).find("0 2 from the user process\n") != std::string::npos;
  })) << read_file(pipes);
  // Not reloaded by SIGUSR1 (the worker and the task worker are).
  ASSERT_TRUE(eventually([&] { return started(starts).size() == 2; }));
  ASSERT_EQ(kill(master, SIGUSR1), 0);
  ASSERT_TRUE(
      eventually([&] { return count_starts(starts, 0) == 2 && count_starts(starts, 1) == 2; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(proc_pids().size(), 1u);
  EXPECT_TRUE(alive(first));
  // Killed: restarted.
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return proc_pids().size() == 2; }));
  pid_t second = proc_pids()[1];
  EXPECT_NE(second, first);
  EXPECT_TRUE(alive(second));
  // Shutdown stops it: nothing is left once the master has returned.
  ASSERT_EQ(kill(master, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(master, &status, 0), master);
  servers.clear();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(alive(second));
  kill(-master, SIGKILL);  // in case
}

TEST_F(ServerTask, TaskWithoutTaskWorkersFailsCleanly) {
  start(mode::process, [](server& s) { task_server(s, opt(1, 0)); });
  int fd = client();
  std::string line = ask(fd, "async x\n");
  EXPECT_TRUE(line.starts_with("error task: no task workers (task_worker_num is 0)")) << line;
  line = ask(fd, "wait 1 x\n");
  EXPECT_TRUE(line.starts_with("wait none ")) << line;
  EXPECT_EQ(ask(fd, "whoami\n"), "me 0\n") << "the worker goes on";

  // task_worker_num without on_task: start() refuses.
  server s("127.0.0.1", port);
  ASSERT_TRUE(s.set({{"task_worker_num", int64_t(2)}}));
  EXPECT_FALSE(s.start());
  EXPECT_NE(s.error().find("on_task"), std::string::npos) << s.error();
}

TEST_F(ServerTask, BaseModeRoundTrip) {
  start(mode::base, [](server& s) { task_server(s, opt(2, 1)); });
  int fd = client();
  std::string line = ask(fd, "wait 2 x\n");
  EXPECT_TRUE(line.starts_with("wait echo:x@2 ")) << line;
  line = ask(fd, "async y\n");
  EXPECT_TRUE(line.starts_with("finish ") && line.ends_with(" echo:y@2\n")) << line;
  line = ask(fd, "cb z\n");
  EXPECT_TRUE(line.starts_with("cb ") && line.ends_with(" echo:z@2\n")) << line;
  EXPECT_EQ(ask(fd, "big\n"), "big ok\n");
  std::string me_line = ask(fd, "whoami\n");
  ASSERT_TRUE(me_line.starts_with("me ")) << me_line;
  int me = std::stoi(me_line.substr(3));
  EXPECT_EQ(ask(fd, "msg 2 ping\n"), "sent\n");
  EXPECT_EQ(recv_until(fd, "\n"), fmt_pipe(2, me, "ping via 2"));
}

TEST_F(ServerTask, SharedQueueMode) {
  start(mode::process, [](server& s) { task_server(s, opt(1, 2, 3)); });
  int fd = client();
  std::string line = ask(fd, "multi 2 sleep:300:a|sleep:300:b\n");
  ASSERT_TRUE(line.starts_with("multi a|b ")) << line;
  EXPECT_LT(last_number(line), 590) << "two idle task workers take one each: " << line;
  EXPECT_EQ(ask(fd, "big\n"), "big ok\n");
  line = ask(fd, "async q\n");
  EXPECT_TRUE(line.starts_with("finish ") && line.find(" echo:q@") != std::string::npos) << line;
}

}  // namespace
