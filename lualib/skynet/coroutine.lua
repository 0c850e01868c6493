-- skynet.coroutine: coroutines a service may create itself, inside which
-- skynet.call, skynet.sleep, ... still work. A user yield is tagged "USER";
-- any other yield comes from the framework (a call waiting for its answer),
-- so it is passed up to skynet's dispatcher and the user coroutine counts as
-- "blocked" until the framework resumes it.
local coroutine = coroutine
local coroutine_resume = coroutine.resume
local coroutine_yield = coroutine.yield
local coroutine_status = coroutine.status
local select = select

local skynetco = {}
skynetco.isyieldable = coroutine.isyieldable
skynetco.running = coroutine.running

local managed = setmetatable({}, { __mode = "kv" })  -- co -> true (runnable) / false (blocked)

function skynetco.create(f)
  local co = coroutine.create(f)
  managed[co] = true
  return co
end

local function unblock(co, ...)
  managed[co] = true
  return ...
end

-- The framework suspended co: yield the same values up, and resume co with
-- whatever the framework resumes us with.
local function pass_up(co, ...)
  managed[co] = false
  return unblock(co, coroutine_resume(co, coroutine_yield(...)))
end

local function after_resume(co, ok, ...)
  if not ok then
    return false, ...
  elseif coroutine_status(co) == "dead" then
    return true, ...
  elseif (...) == "USER" then
    return true, select(2, ...)
  end
  return after_resume(co, pass_up(co, ...))
end

function skynetco.resume(co, ...)
  local state = managed[co]
  if state == nil then
    return coroutine_resume(co, ...)  -- not ours: a plain coroutine
  elseif state == false then
    return false, "cannot resume a skynet coroutine suspended by the skynet framework"
  end
  if coroutine_status(co) == "dead" then
    return false, "cannot resume dead coroutine"
  end
  return after_resume(co, coroutine_resume(co, ...))
end

function skynetco.status(co)
  local status = coroutine_status(co)
  if status == "suspended" and managed[co] == false then
    return "blocked"
  end
  return status
end

function skynetco.yield(...)
  return coroutine_yield("USER", ...)
end

function skynetco.wrap(f)
  local co = skynetco.create(f)
  return function(...)
    local function check(ok, ...)
      if ok then return ... end
      error((...), 2)
    end
    return check(skynetco.resume(co, ...))
  end
end

function skynetco.close(co)
  managed[co] = nil
  return coroutine.close(co)
end

return skynetco
