//! The email job stream: the producer side the API's outbox relay pushes
//! to ([`RedisEmailQueue`]) and the consumer side the email worker reads
//! ([`RedisDeliveryQueue`]), side by side.
//!
//! Layout (every key under the configured prefix, named in [`crate::keys`];
//! all share the hash tag `{email}`, so a cluster keeps them on one shard):
//! - `{prefix}{email}:jobs`: the stream, read through one consumer group.
//!   Producer entries have one field, `job` (the job JSON); entries put
//!   back after a failure have one field, `envelope` (JSON: the job and
//!   its failed attempts).
//! - `{prefix}{email}:retry`: sorted set of envelopes scored by the unix
//!   milliseconds they are due at.
//! - `{prefix}{email}:dead`: hash of dead letters (JSON) by job id, indexed
//!   by time in `{prefix}{email}:dead:by_time` for retention and the cap.
//! - `{prefix}{email}:delivered:{job id}`: `1` for a while after a job was sent.
//! - `{prefix}{email}:claim:{job id}`: the stream entry sending the job right
//!   now, for at most the visibility timeout.
//!
//! A delivery leaves the stream only in the same MULTI that records its
//! outcome (delivered marker, retry or dead letter), so a crash at any
//! point leaves it either pending (taken over after the visibility
//! timeout) or fully handled.

mod admin;
mod consumer;
mod envelope;
mod producer;
mod scripts;
mod settings;

pub use consumer::RedisDeliveryQueue;
pub use producer::RedisEmailQueue;
pub use settings::{DEFAULT_GROUP, EmailStreamSettings};
