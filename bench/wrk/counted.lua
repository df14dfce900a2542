-- Like load.lua, plus a count of responses by status, an optional stop after `limit=N`
-- responses per thread, and optional collection of Set-Cookie values into `collect=FILE`
-- (use one thread when collecting). Arguments: see _common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "_common.lua")

local threads = {}
local next_request
local limit
local collect_file
local marker
statuses = {}
responses = 0
logins = 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local options = common.parse_args(args)
  next_request = common.make_request(options)
  limit = tonumber(options.limit or "")
  marker = options.marker
  if options.collect then
    collect_file = assert(io.open(options.collect, "a"))
    collect_file:setvbuf("line")
  end
end

function request()
  return next_request()
end

function response(status, headers, _)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  responses = responses + 1
  if collect_file then
    local cookie = headers["Set-Cookie"] or headers["set-cookie"]
    if cookie then collect_file:write((cookie:match("^([^;]*)")), "\n") end
  end
  if limit and responses >= limit then
    if collect_file then
      collect_file:close()
      collect_file = nil
    end
    -- wrk's main thread sleeps for the whole -d; the runner interrupts it when this appears.
    if marker then
      local file = io.open(marker, "w")
      if file then file:close() end
      marker = nil
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, _)
  local totals = {}
  local login_total = 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      totals[status] = (totals[status] or 0) + count
    end
    login_total = login_total + (thread:get("logins") or 0)
  end
  local parts = {}
  for status, count in pairs(totals) do parts[#parts + 1] = '"' .. status .. '":' .. count end
  common.report(summary, latency,
    '"statuses":{' .. table.concat(parts, ",") .. '},"logins_sent":' .. login_total)
end
