-- Throughput script: prepared requests, no response callback (so wrk parses no headers).
-- Arguments: see _common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "_common.lua")

local next_request

function init(args)
  next_request = common.make_request(common.parse_args(args))
end

function request()
  return next_request()
end

function done(summary, latency, _)
  common.report(summary, latency)
end
