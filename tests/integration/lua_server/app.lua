-- A tern-server script exercising the Lua API; driven by lua_server_test.sh.
-- arg[1]: port, arg[2]: mode ("process" or "base").
local server = require "tern.server"

local port = tonumber(arg[1])
local pending = {}  -- task id -> fd waiting for its onFinish (per worker)
local s = server.new("127.0.0.1", port, arg[2] == "base" and server.BASE or server.PROCESS)
s:set {
  worker_num = 2,
  task_worker_num = 1,
  open_eof_split = true,
  package_eof = "\n",
}

s:on("WorkerStart", function(s, worker_id)
  print(string.format("worker start %d taskworker=%s", worker_id, tostring(s.taskworker)))
end)

s:on("Connect", function(s, fd, reactor_id)
  local info = s:getClientInfo(fd)
  print(string.format("connect %d from %s", fd, info and info.remote_ip or "?"))
end)

s:on("Receive", function(s, fd, reactor_id, data)
  local line = data:gsub("\n$", "")
  if line == "boom" then
    error("boom requested")  -- logged with a traceback; the worker keeps serving
  elseif line == "whoami" then
    s:send(fd, "worker " .. s.worker_id .. " pid " .. s.worker_pid .. "\n")
  elseif line == "exists" then
    s:send(fd, tostring(s:exists(fd)) .. " " .. tostring(s:exists(fd + 100000)) .. "\n")
  elseif line == "stats" then
    local st = s:stats()
    s:send(fd, "connections " .. st.connection_num .. "\n")
  elseif line:match("^upper ") then
    local r = s:taskwait(line:sub(7), 2)
    s:send(fd, tostring(r) .. "\n")
  elseif line:match("^later ") then
    local id = s:task(line:sub(7))
    pending[id] = fd
  elseif line == "pipe" then
    s:send(fd, tostring(s:sendMessage("hi from " .. s.worker_id, 1 - s.worker_id)) .. "\n")
  elseif line == "bye" then
    s:send(fd, "bye\n")
    s:close(fd)
  else
    s:send(fd, "echo " .. line .. "\n")
  end
end)

s:on("Close", function(s, fd) print("close " .. fd) end)

-- Tasks: "upper X" runs in the task worker and comes back through taskwait;
-- "later X" goes through task() and onFinish.
s:on("Task", function(s, task_id, src_worker_id, data)
  return string.upper(data) .. " (task worker " .. s.worker_id .. ")"
end)

s:on("Finish", function(s, task_id, data)
  local fd = pending[task_id]
  pending[task_id] = nil
  if fd then s:send(fd, "finished " .. data .. "\n") end
end)

s:on("PipeMessage", function(s, src, message)
  print("pipe message from " .. src .. ": " .. message)
end)

s:start()
