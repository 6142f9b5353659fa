//! The cache's state machine over a real loopback socket, with the test
//! playing Redis: what it writes is in the cache's receive buffer when
//! `write_all` returns, as a push from the real Redis is.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::state::{Check, ReadMode, State};
use super::*;
use crate::pool::RedisSettings;

const SID: &str = "p:revoked:{u:7}:sid:s1";
const USER: &str = "p:revoked:{u:7}:user";

/// A token's marks, as `MarkKeys` orders them: its session's, its user's.
fn keys() -> [&'static str; 2] {
    [SID, USER]
}

fn settings(capacity: usize) -> RevocationCacheSettings {
    let mut settings = RevocationCacheSettings::new(
        NonZeroUsize::new(capacity).unwrap(),
        &RedisSettings::default(),
    );
    settings.max_age = Duration::from_secs(30);
    settings.silence_limit = Duration::from_secs(2);
    settings
}

/// A state with a live link, and the "Redis" end of its socket.
async fn linked(capacity: usize) -> (State, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let mut state = State::new(settings(capacity));
    state.link_up(
        Arc::new(client),
        super::transport::Transport::Plain,
        Vec::new(),
        Instant::now(),
    );
    (state, server)
}

fn push(keys: &[&str]) -> Vec<u8> {
    let mut frame = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for key in keys {
        frame.push_str(&format!("${}\r\n{key}\r\n", key.len()));
    }
    frame.into_bytes()
}

/// Sends `keys` for a miss and answers it with `reply`; returns the answer.
async fn miss(
    state: &mut State,
    redis: &mut TcpStream,
    keys: [&str; 2],
    reply: &[u8],
) -> Result<bool, CacheError> {
    let Check::Sent(answer) = state.check(keys, Instant::now()) else {
        panic!("expected a miss");
    };
    redis.write_all(reply).await.unwrap();
    state.pump(ReadMode::Drain, Instant::now()).unwrap();
    answer.await.unwrap()
}

fn hit(state: &mut State) -> Option<bool> {
    match state.check(keys(), Instant::now()) {
        Check::Hit(revoked) => Some(revoked),
        _ => None,
    }
}

#[tokio::test]
async fn a_reply_fills_the_cache_and_the_next_check_is_a_hit() {
    let (mut state, mut redis) = linked(16).await;
    let answer = miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n").await;
    assert!(!answer.unwrap());
    let expected = format!(
        "*3\r\n$4\r\nMGET\r\n${}\r\n{SID}\r\n${}\r\n{USER}\r\n",
        SID.len(),
        USER.len()
    );
    assert_eq!(state.link.as_ref().unwrap().outbound, expected.as_bytes());

    assert_eq!(hit(&mut state), Some(false));
    assert_eq!(hit(&mut state), Some(false));
    let stats = state.tracker.stats();
    assert_eq!((stats.hits, stats.misses), (2, 1));
}

#[tokio::test]
async fn a_present_mark_is_cached_as_revoked() {
    let (mut state, mut redis) = linked(16).await;
    let answer = miss(&mut state, &mut redis, keys(), b"*2\r\n$1\r\n1\r\n_\r\n").await;
    assert!(answer.unwrap());
    assert_eq!(hit(&mut state), Some(true));
}

/// The heart of it: the push is in the socket, no task has read it, and
/// the very next check must not be served from the cache.
#[tokio::test]
async fn a_push_waiting_in_the_socket_is_applied_before_a_hit() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    assert_eq!(hit(&mut state), Some(false));

    redis.write_all(&push(&[SID])).await.unwrap();
    let Check::Sent(answer) = state.check(keys(), Instant::now()) else {
        panic!("served a hit over an unread invalidation");
    };
    assert_eq!(state.tracker.stats().invalidations, 1);
    redis.write_all(b"*2\r\n$1\r\n1\r\n_\r\n").await.unwrap();
    state.pump(ReadMode::Drain, Instant::now()).unwrap();
    assert!(answer.await.unwrap().unwrap());
    assert_eq!(hit(&mut state), Some(true));
}

#[tokio::test]
async fn a_partial_frame_in_the_socket_forbids_a_hit() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    let whole = push(&[USER]);
    redis.write_all(&whole[..whole.len() - 3]).await.unwrap();
    assert!(matches!(
        state.check(keys(), Instant::now()),
        Check::Sent(_)
    ));
    // The rest arrives: the push applies, then the reply to the MGET.
    redis.write_all(&whole[whole.len() - 3..]).await.unwrap();
    redis.write_all(b"*2\r\n_\r\n_\r\n").await.unwrap();
    state.pump(ReadMode::Drain, Instant::now()).unwrap();
    assert_eq!(state.tracker.stats().invalidations, 1);
    assert_eq!(hit(&mut state), Some(false));
}

#[tokio::test]
async fn a_push_before_the_reply_cannot_undo_the_reply() {
    // Redis sends a push about a change made before the read, then the
    // read's reply, which already shows the change: the reply stands.
    let (mut state, mut redis) = linked(16).await;
    let Check::Sent(answer) = state.check(keys(), Instant::now()) else {
        panic!("expected a miss");
    };
    let mut bytes = push(&[SID]);
    bytes.extend_from_slice(b"*2\r\n$1\r\n1\r\n_\r\n");
    redis.write_all(&bytes).await.unwrap();
    state.pump(ReadMode::Drain, Instant::now()).unwrap();
    assert!(answer.await.unwrap().unwrap());
    assert_eq!(hit(&mut state), Some(true));
}

#[tokio::test]
async fn a_flush_announcement_empties_the_cache() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    redis
        .write_all(b">2\r\n$10\r\ninvalidate\r\n_\r\n")
        .await
        .unwrap();
    assert!(matches!(
        state.check(keys(), Instant::now()),
        Check::Sent(_)
    ));
    assert_eq!(state.tracker.stats().resets, 1);
}

#[tokio::test]
async fn a_closed_connection_empties_the_cache_before_the_next_hit() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    // A read in flight when the connection goes is told to go around.
    let Check::Sent(in_flight) = state.check(["p:revoked:{u:7}:sid:other", USER], Instant::now())
    else {
        panic!("expected a miss");
    };
    drop(redis);
    assert!(matches!(state.check(keys(), Instant::now()), Check::NoLink));
    assert!(state.link.is_none());
    assert_eq!(state.tracker.len(), 0);
    assert_eq!(state.tracker.stats().resets, 1);
    assert!(matches!(in_flight.await.unwrap(), Err(CacheError::NoLink)));
}

#[tokio::test]
async fn a_silent_connection_serves_no_hit() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    let later = Instant::now() + Duration::from_secs(3);
    assert!(matches!(state.check(keys(), later), Check::Sent(_)));
}

#[tokio::test]
async fn entries_age_out() {
    let (mut state, mut redis) = linked(16).await;
    miss(&mut state, &mut redis, keys(), b"*2\r\n_\r\n_\r\n")
        .await
        .unwrap();
    // Heard from just now, but the marks were read 31 s "ago".
    let later = Instant::now() + Duration::from_secs(31);
    state.link.as_mut().unwrap().last_heard = later;
    assert!(matches!(state.check(keys(), later), Check::Sent(_)));
}

#[tokio::test]
async fn the_cache_holds_at_most_its_capacity() {
    let (mut state, mut redis) = linked(4).await;
    for session in 0..10 {
        let sid = format!("p:revoked:{{u:7}}:sid:{session}");
        miss(&mut state, &mut redis, [&sid, USER], b"*2\r\n_\r\n_\r\n")
            .await
            .unwrap();
        assert!(state.tracker.len() <= 4);
    }
    assert_eq!(state.tracker.len(), 4);
}

#[tokio::test]
async fn an_error_reply_stores_nothing() {
    let (mut state, mut redis) = linked(16).await;
    let answer = miss(&mut state, &mut redis, keys(), b"-LOADING busy\r\n").await;
    // The cause is kept, typed: the code is what the direct read will see.
    assert!(
        matches!(&answer, Err(CacheError::Refused(cause)) if cause.code() == Some("LOADING")),
        "{answer:?}"
    );
    assert_eq!(state.tracker.len(), 0);
    assert!(state.link.is_some());
}

#[tokio::test]
async fn a_reply_nobody_asked_for_drops_the_connection() {
    let (mut state, mut redis) = linked(16).await;
    redis.write_all(b"+PONG\r\n").await.unwrap();
    assert!(matches!(state.check(keys(), Instant::now()), Check::NoLink));
}
