//! The Lua scripts behind the steps that must be atomic.

use crate::lua::Lua;

/// Claims a job for one stream entry. KEYS: delivered marker, claim.
/// ARGV: receipt, lease (ms). Replies `delivered`, `held` or `acquired`.
/// The entry that already holds the claim (taken over from a dead worker)
/// gets it again.
pub(super) static CLAIM: Lua = Lua::new(
    r"
    if redis.call('EXISTS', KEYS[1]) == 1 then return 'delivered' end
    local holder = redis.call('GET', KEYS[2])
    if holder and holder ~= ARGV[1] then return 'held' end
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
    return 'acquired'
",
);

/// Ends a delivery: releases the job's claim if this entry holds it, then
/// acks and deletes the entry (with one consumer group an acked entry is
/// of no further use). KEYS: stream, claim. ARGV: group, receipt.
pub(super) static FINISH: Lua = Lua::new(
    r"
    if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[1], ARGV[2])
    return 1
",
);

/// Drops dead letters older than the cutoff, then the oldest beyond the
/// cap. Letters written before the time index existed are indexed at
/// `now` first, so they get a full retention from the upgrade.
/// KEYS: dead hash, time index. ARGV: cutoff (unix ms), cap, now (unix ms).
/// Replies how many letters were dropped.
pub(super) static TRIM_DEAD_LETTERS: Lua = Lua::new(
    r"
    if redis.call('HLEN', KEYS[1]) > redis.call('ZCARD', KEYS[2]) then
        for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
            if not redis.call('ZSCORE', KEYS[2], id) then
                redis.call('ZADD', KEYS[2], ARGV[3], id)
            end
        end
    end
    local dropped = 0
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])) do
        redis.call('HDEL', KEYS[1], id)
        redis.call('ZREM', KEYS[2], id)
        dropped = dropped + 1
    end
    local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
    if excess > 0 then
        for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
            redis.call('HDEL', KEYS[1], id)
            redis.call('ZREM', KEYS[2], id)
            dropped = dropped + 1
        end
    end
    return dropped
",
);

/// Moves a dead letter back to the stream as a fresh job. KEYS: dead hash,
/// stream, time index. ARGV: id, job field. Replies 1, or 0 if no such letter.
pub(super) static REQUEUE: Lua = Lua::new(
    r"
    local letter = redis.call('HGET', KEYS[1], ARGV[1])
    if not letter then return 0 end
    local payload = cjson.decode(letter)['payload']
    if type(payload) ~= 'string' then return redis.error_reply('dead letter without payload') end
    redis.call('XADD', KEYS[2], '*', ARGV[2], payload)
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('ZREM', KEYS[3], ARGV[1])
    return 1
",
);

/// Moves due retries to the stream; one script, so an envelope is never
/// in both places or in neither. KEYS: retry set, stream. ARGV: now (unix
/// ms), limit, envelope field. Replies how many moved.
pub(super) static PROMOTE: Lua = Lua::new(
    r"
    local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
    for _, envelope in ipairs(due) do
        redis.call('XADD', KEYS[2], '*', ARGV[3], envelope)
        redis.call('ZREM', KEYS[1], envelope)
    end
    return #due
",
);

/// Removes this consumer from the group unless it holds pending entries
/// (removing it then would drop them). KEYS: stream. ARGV: group, consumer.
pub(super) static LEAVE: Lua = Lua::new(
    r"
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
    if #pending > 0 then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
",
);
