local skynet = require "skynet"
skynet.info_func(function() return "info from t_info" end)
skynet.start(function() end)
