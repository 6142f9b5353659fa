//! The Lua behind each rate limit step: one script, one round trip, no
//! read-then-write race between instances. Each repeats, line for line,
//! the arithmetic of `application::rate_limits` (the tests compare them).
//! The time is Redis's own (`TIME`), shared by every instance, unless a
//! test passes one.

use crate::lua::Lua;

/// The time argument (`ARGV[1]`): unix ms, or empty for the server's clock.
macro_rules! now_from_argv1 {
    () => {
        r"
    local now = tonumber(ARGV[1])
    if not now then
        local time = redis.call('TIME')
        now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    end
"
    };
}

/// Counts one event in a sliding-window log. KEYS: the log (sorted set,
/// member = event id, score = unix ms). ARGV: now, window (ms), limit,
/// event id, `1` if the id is an item counted once (an email job).
/// Replies `{allowed (1|0), remaining, wait (ms until a slot frees)}`.
pub(super) static SLIDING_LOG: Lua = Lua::new(concat!(
    now_from_argv1!(),
    r"
    local window = tonumber(ARGV[2])
    local limit = tonumber(ARGV[3])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[1])
    local allowed = 1
    if not (ARGV[5] == '1' and redis.call('ZSCORE', KEYS[1], ARGV[4])) then
        if count >= limit then
            allowed = 0
        else
            redis.call('ZADD', KEYS[1], now, ARGV[4])
            redis.call('PEXPIRE', KEYS[1], window)
            count = count + 1
        end
    end
    local wait = window
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {allowed, limit - count, wait}
"
));

/// A password check about to begin. KEYS: the account's failures (hash:
/// `n`, `last`). ARGV: now, threshold, window, base, max (ms). Replies
/// `{1, 0}` and counts the attempt, or `{0, wait ms}` while throttled.
pub(super) static BEGIN_ATTEMPT: Lua = Lua::new(concat!(
    now_from_argv1!(),
    r"
    local threshold = tonumber(ARGV[2])
    local window = tonumber(ARGV[3])
    local base = tonumber(ARGV[4])
    local max = tonumber(ARGV[5])
    local function delay(failures)
        if failures < threshold then return 0 end
        local doublings = failures - threshold
        if doublings >= 40 then return max end
        return math.min(base * 2 ^ doublings, max)
    end
    local stored = redis.call('HMGET', KEYS[1], 'n', 'last')
    local failures = tonumber(stored[1]) or 0
    local last = tonumber(stored[2]) or 0
    local free_at = last + delay(failures)
    if now < free_at then return {0, free_at - now} end
    failures = failures + 1
    redis.call('HSET', KEYS[1], 'n', failures, 'last', now)
    redis.call('PEXPIRE', KEYS[1], delay(failures) + window)
    return {1, 0}
"
));

/// Takes back one counted failure. KEYS: the account's failures.
pub(super) static FORGIVE_ATTEMPT: Lua = Lua::new(
    r"
    local failures = tonumber(redis.call('HGET', KEYS[1], 'n'))
    if failures and failures > 0 then redis.call('HSET', KEYS[1], 'n', failures - 1) end
    return 1
",
);
