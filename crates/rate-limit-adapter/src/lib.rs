//! Implementations of `application`'s `RateLimiter` port that need no
//! store of their own: this instance's counters in memory
//! ([`InMemoryRateLimiter`], the same arithmetic the Redis limiter runs in
//! Lua), the switch to them while the shared store is down
//! ([`FallbackRateLimiter`]), and a decorator that counts refusals in
//! metrics ([`MeteredRateLimiter`]). The rules, quotas and arithmetic stay
//! in `application::rate_limits`; the Redis limiter is in redis-adapter.

mod fallback;
mod in_memory;
mod metered;

pub use fallback::FallbackRateLimiter;
pub use in_memory::{DEFAULT_CAPACITY, InMemoryRateLimiter};
pub use metered::MeteredRateLimiter;
