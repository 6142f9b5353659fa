-- POST /register with a unique email per request.
dofile(os.getenv("BENCH_DIR") .. "/wrk/report.lua")
local counter = 0
local run = os.getenv("BENCH_RUN") or "run"
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"username":"bench user","email":"%s-%d-%d@bench.example.com","password":"benchmark password"}',
    run, thread_id, counter)
  return wrk.format("POST", "/register", {["Content-Type"] = "application/json"}, body)
end
