-- GET with an optional bearer token from the TOKEN environment variable.
dofile(os.getenv("BENCH_DIR") .. "/wrk/report.lua")
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
