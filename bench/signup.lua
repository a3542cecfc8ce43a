-- wrk script for bench/signup_load.py: POSTs a distinct address on every request
-- (thread number and a counter), and prints one JSON line with the figures at the end.
local threads = {}
local prefix = os.getenv("BENCH_PREFIX") or "load"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  accepted = 0
  path = os.getenv("BENCH_PATH") or "/api/v1/subscribe"
end

function request()
  if path ~= "/api/v1/subscribe" then
    return wrk.format("GET", path)
  end
  counter = counter + 1
  local body = string.format(
    '{"email": "%s%d-%d@example.org", "topics": ["food"]}', prefix, tid, counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 or status == 200 then
    accepted = accepted + 1
  end
end

function done(summary, latency, requests)
  local ok = 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("accepted")
  end
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.3f, "accepted": %d, "p50_ms": %.2f, "p99_ms": %.2f, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_timeout": %d, "errors_status": %d}\n',
    summary.requests, summary.duration / 1e6, ok,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.timeout, summary.errors.status))
end
