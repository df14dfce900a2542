-- Shared by load.lua and counted.lua (loaded with dofile from this folder).
--
-- Script arguments (after wrk's "--"), as key=value:
--   mode=get|cart-add|login|mixed   what each request is (default get)
--   cookies=FILE                    one Cookie header value per line, spread over requests
--   products=a,b,c                  product ids for cart-add and mixed (JSON {"productId","quantity":1})
--   user=NAME password=SECRET       form fields for login and mixed
--   origin=URL                      sent as Origin on unsafe methods (Sec-Fetch-Site is sent too)
--   login_every=SECONDS             mixed: one login per thread at most this often (default 1)
--   limit=N                         counted.lua: stop the thread after N responses
--   collect=FILE                    counted.lua: append each Set-Cookie name=value to FILE
--   marker=FILE                     counted.lua: create FILE once `limit` is reached

local common = {}

function common.parse_args(args)
  local options = {}
  for _, arg in ipairs(args or {}) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    if key then options[key] = value end
  end
  return options
end

function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  file:close()
  return lines
end

local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text or "", "([^" .. separator .. "]+)") do parts[#parts + 1] = part end
  return parts
end

local function unsafe_headers(options, content_type)
  local headers = { ["Content-Type"] = content_type, ["Sec-Fetch-Site"] = "same-origin" }
  if options.origin then headers["Origin"] = options.origin end
  return headers
end

local function login_request(options)
  local body = "username=" .. (options.user or "bench") .. "&password=" .. (options.password or "")
  return wrk.format("POST", "/login", unsafe_headers(options, "application/x-www-form-urlencoded"), body)
end

local function cart_request(options, cookie, product)
  local headers = unsafe_headers(options, "application/json")
  if cookie then headers["Cookie"] = cookie end
  local body = '{"productId":"' .. product .. '","quantity":1}'
  return wrk.format("POST", "/api/cart", headers, body)
end

local function get_request(path, cookie)
  local headers = {}
  if cookie then headers["Cookie"] = cookie end
  return wrk.format("GET", path, headers)
end

-- Every request this thread will send, formatted once (request() then costs a table lookup).
function common.build(options)
  local mode = options.mode or "get"
  local cookies = options.cookies and options.cookies ~= "-" and common.read_lines(options.cookies) or {}
  local products = split(options.products, ",")
  local count = math.max(#cookies, 1)
  local requests = {}
  if mode == "login" then
    requests[1] = login_request(options)
    return requests
  end
  for i = 1, count do
    local cookie = cookies[i]
    local product = products[((i - 1) % math.max(#products, 1)) + 1] or "none"
    if mode == "get" then
      requests[i] = get_request(wrk.path, cookie)
    elseif mode == "cart-add" then
      requests[i] = cart_request(options, cookie, product)
    elseif mode == "mixed" then
      -- 60 % GET /dashboard, 20 % GET /api/cart, 20 % POST /api/cart.
      local slot = (i - 1) % 10
      if slot < 6 then
        requests[i] = get_request("/dashboard", cookie)
      elseif slot < 8 then
        requests[i] = get_request("/api/cart", cookie)
      else
        requests[i] = cart_request(options, cookie, product)
      end
    else
      error("unknown mode " .. mode)
    end
  end
  return requests
end

-- request() for a thread: round robin over the prepared requests from a random start, and in
-- mixed mode one login per `login_every` seconds (time-based, so the rate is bounded).
function common.make_request(options)
  local requests = common.build(options)
  local n = #requests
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local index = math.random(n)
  local login = options.mode == "mixed" and options.user and login_request(options) or nil
  local every = tonumber(options.login_every or "1")
  local last_login = os.time()
  return function()
    if login then
      local now = os.time()
      if now - last_login >= every then
        last_login = now
        logins = (logins or 0) + 1
        return login
      end
    end
    index = index % n + 1
    return requests[index]
  end
end

local function json_number(value)
  if value ~= value or value == math.huge or value == -math.huge then return "null" end
  return string.format("%.3f", value)
end

-- One line the runner parses: "BENCH_JSON {...}".
function common.report(summary, latency, extra)
  local fields = {
    '"requests":' .. summary.requests,
    '"duration_us":' .. summary.duration,
    '"bytes":' .. summary.bytes,
    '"errors":{"connect":' .. summary.errors.connect .. ',"read":' .. summary.errors.read ..
      ',"write":' .. summary.errors.write .. ',"status":' .. summary.errors.status ..
      ',"timeout":' .. summary.errors.timeout .. "}",
    '"latency_us":{"mean":' .. json_number(latency.mean) .. ',"p50":' ..
      json_number(latency:percentile(50)) .. ',"p90":' .. json_number(latency:percentile(90)) ..
      ',"p99":' .. json_number(latency:percentile(99)) .. ',"max":' .. json_number(latency.max) .. "}",
  }
  if extra then fields[#fields + 1] = extra end
  io.write("BENCH_JSON {" .. table.concat(fields, ",") .. "}\n")
end

return common
