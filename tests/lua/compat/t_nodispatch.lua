-- A service that never sets a "lua" dispatch function.
local skynet = require "skynet"
skynet.start(function() end)
