-- POST /login cycling through BENCH_ACCOUNTS existing accounts
-- (BENCH_EMAIL_PREFIX<n>@example.com, n = 0..BENCH_ACCOUNTS-1), so no
-- account has more than a few checks in flight: with rate limits on, an
-- account admits at most 5 password checks at once (bench/limits.sh).
dofile(os.getenv("BENCH_DIR") .. "/wrk/report.lua")
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS"))
local prefix = os.getenv("BENCH_EMAIL_PREFIX")
local password = os.getenv("BENCH_PASSWORD")
local next_account = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  -- Threads start at different accounts.
  thread:set("start", math.random(0, accounts - 1))
end

function init()
  next_account = start or 0
end

function request()
  next_account = (next_account + 1) % accounts
  local body = string.format('{"email":"%s%d@example.com","password":"%s"}',
    prefix, next_account, password)
  return wrk.format(nil, nil, nil, body)
end
