-- Checks the standard libraries in a fresh service (nothing here touched them
-- before): the lazily opened ones behave as if opened at start.
local skynet = require "skynet"

local function check()
  local lazy_before = rawget(_G, "os") == nil and rawget(_G, "math") == nil
  assert(type(os.time()) == "number", "os.time")
  assert(require "math" == math, "require math returns the global table")
  assert(package.loaded.math == math and package.loaded.os == os, "package.loaded")
  assert(require "utf8" == utf8 and utf8.char(72, 105) == "Hi", "utf8")
  assert(type(io.write) == "function", "io")
  assert(("x"):rep(3) == "xxx", "string methods")
  -- A strict-mode metatable on _G (as strict.lua installs) still sees every library.
  setmetatable(_G, { __index = function(_, k) error("undeclared global " .. tostring(k), 2) end })
  assert(type(debug.traceback) == "function", "debug after strict")
  assert(math.floor(2.5) == 2, "math after strict")
  assert(not pcall(function() return undeclared_thing end), "strict still applies")
  return lazy_before
end

skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.ret(skynet.pack(pcall(check)))
  end)
end)
