-- POST /login with an empty object: 422 before any hash, so the request is
-- little more than routing, the rate limit check (when on) and the answer.
dofile(os.getenv("BENCH_DIR") .. "/wrk/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"
