-- GET with a different bearer token each request, round-robin over the
-- lines of TOKENS_FILE (one token a line, e.g. from mint_tokens), so no
-- token comes back to a thread before every other token has.
dofile(os.getenv("BENCH_DIR") .. "/wrk/report.lua")
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local next_token = 0

function setup(thread)
  -- Threads start at different tokens.
  thread:set("start", math.random(0, #tokens - 1))
end

function init()
  next_token = start or 0
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end
