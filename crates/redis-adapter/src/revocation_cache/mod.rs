//! A client-side cache of revocation marks, kept exact by Redis's own
//! invalidation pushes (`CLIENT TRACKING`, RESP3).
//!
//! # How it stays correct
//!
//! One dedicated connection (see [`link`]) carries both the reads (`MGET`
//! of a token's two marks, its session's and its user's) and the
//! invalidation pushes for every key it read. Its bytes are parsed in
//! stream order, under one lock, by whoever reads them, and a reply's marks
//! are stored the moment the reply is parsed. Redis writes a reply before
//! any push about a later change of those keys, and a push about an
//! earlier change before the reply, so an entry can never outlive the write
//! that made it stale: no generation counter is needed (the redis crate's
//! `cache-aio` hands the reply to the caller first, and an invalidation
//! parsed in between is lost).
//!
//! # Drain before hit
//!
//! Parsed pushes are not enough: one may sit unread in the socket while a
//! hit is served. So before a hit, the checking thread reads whatever the
//! kernel already holds for the connection (a non-blocking `recv`, about a
//! microsecond, never waiting) and applies it; a hit is served only when
//! that leaves no partial frame behind. Redis queues the push for every
//! tracking connection while it executes the write, and flushes it in the
//! same pass of its event loop as the writer's reply (usually first, as the
//! newest pending client is written first). So once instance A has its
//! answer to a logout, the push is already in instance B's receive buffer:
//! on one host, where loopback delivers within the `write` call, exactly;
//! across hosts, as long as the push is not overtaken on the network by
//! A's reply, its HTTP answer and the client's next request to B, which
//! follow it. The read is a syscall on the raw socket, not tokio's
//! `try_read`: that one answers from the reactor's last readiness event,
//! which may predate the push.
//!
//! # When the connection is in doubt
//!
//! The connection is checked by a `PING` every [`RevocationCacheSettings::heartbeat`].
//! If it closes, errs, or stays silent longer than
//! [`RevocationCacheSettings::silence_limit`], the cache is emptied before
//! any further hit, and reads go straight to Redis (the shared connection,
//! without caching) until a new tracking connection is set up. A silent
//! network (no FIN, no RST) is the one case detected late: for at most the
//! silence limit, a write that B never hears of can be missed. Every entry
//! also ages out after [`RevocationCacheSettings::max_age`], a safety net
//! for anything Redis does not announce (`SWAPDB`, say).

mod link;
mod resp;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};

use crate::error::RedisError;
use crate::pool::RedisSettings;
use resp::{Frame, ProtocolError};

/// How the cache is sized and how it watches its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationCacheSettings {
    /// Marks kept: two per session in use, its own and its user's (every
    /// token of a session shares them, every session of a user the user's).
    /// About 150 bytes each when full: the key (~36 bytes with the default
    /// prefix, half of them session keys, half user keys) and its
    /// allocation, a 56-byte LRU node, and a 34-byte share of the hash
    /// table; 146-154 measured (glibc, x86_64) over 65,536 of them. The
    /// default is ~9.4 MiB when full and covers ~32,000 sessions in use at
    /// once on one instance (each of its own user; more when users have
    /// several). Past that, the least recently used go, and a miss costs
    /// what every check cost without the cache: one round trip.
    pub capacity: NonZeroUsize,
    /// An entry older than this is read again from Redis even though no
    /// invalidation came: a safety net, never the mechanism.
    pub max_age: Duration,
    /// How often the connection is PINGed.
    pub heartbeat: Duration,
    /// How long the connection may stay silent before it is deemed lost.
    pub silence_limit: Duration,
    /// Bounds connecting, including the handshake.
    pub connect_timeout: Duration,
    /// Bounds waiting for the reply to a read.
    pub command_timeout: Duration,
}

impl RevocationCacheSettings {
    pub const DEFAULT_CAPACITY: usize = 65_536;

    pub fn new(capacity: NonZeroUsize, redis: &RedisSettings) -> Self {
        Self {
            capacity,
            max_age: Duration::from_secs(30),
            heartbeat: Duration::from_millis(500),
            silence_limit: Duration::from_millis(1_500),
            connect_timeout: redis.connect_timeout,
            command_timeout: redis.command_timeout,
        }
    }
}

/// Counters since the cache started, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationCacheStats {
    /// Checks answered from the cache.
    pub hits: u64,
    /// Checks that read Redis (through the cache or around it).
    pub misses: u64,
    /// Keys invalidated by Redis pushes.
    pub invalidations: u64,
    /// Times the whole cache was emptied: the connection was lost, or
    /// Redis announced a flush.
    pub resets: u64,
    /// Entries held now.
    pub entries: u64,
    pub capacity: u64,
}

/// Why the cache could not answer; see [`RevocationCache::is_revoked`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// No tracking connection, or it was lost before the reply: read
    /// Redis directly instead.
    #[error("the tracking connection is down")]
    NoLink,
    /// Redis answered the read with an error: read it directly, where the
    /// error is classified as for any other command.
    #[error("Redis refused the read: {0}")]
    Refused(String),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// The cache's handle. Dropping it stops its connection thread.
pub(crate) struct RevocationCache {
    shared: Arc<Shared>,
    command_timeout: Duration,
    /// Dropped with the handle, which tells the connection thread to end.
    _stop: oneshot::Sender<()>,
}

/// What the connection thread and the checking threads share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer when `outbound` has bytes.
    wake_writer: Notify,
    settings: RevocationCacheSettings,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; if something did, the state is
        // still consistent enough to empty, which the next reset does.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RevocationCache {
    /// Starts the connection thread; connecting happens there, so the
    /// service starts while Redis is down. Only a plain `redis://` URL is
    /// supported (the workspace builds the client without TLS).
    pub(crate) fn start(
        redis_url: &str,
        settings: RevocationCacheSettings,
    ) -> Result<Self, RedisError> {
        let endpoint = link::Endpoint::parse(redis_url)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(settings)),
            wake_writer: Notify::new(),
            settings,
        });
        let (stop, stopped) = oneshot::channel();
        link::spawn(shared.clone(), endpoint, stopped).map_err(RedisError::CacheThread)?;
        Ok(Self {
            shared,
            command_timeout: settings.command_timeout,
            _stop: stop,
        })
    }

    pub(crate) fn stats(&self) -> RevocationCacheStats {
        let state = self.shared.lock();
        RevocationCacheStats {
            entries: state.tracker.entries.len() as u64,
            capacity: state.tracker.entries.cap().get() as u64,
            ..state.tracker.stats
        }
    }

    /// Whether any of `keys` is present: from the cache when all of them
    /// are fresh there, else from one `MGET` on the tracking connection,
    /// whose reply fills the cache.
    pub(crate) async fn is_revoked(&self, keys: [&str; 2]) -> Result<bool, CacheError> {
        let reply = {
            let mut state = self.shared.lock();
            match state.check(keys, Instant::now()) {
                Check::Hit(revoked) => return Ok(revoked),
                Check::Sent(reply) => reply,
                Check::NoLink => {
                    state.tracker.stats.misses += 1;
                    return Err(CacheError::NoLink);
                }
            }
        };
        self.shared.wake_writer.notify_one();
        match tokio::time::timeout(self.command_timeout, reply).await {
            Ok(Ok(answer)) => answer,
            // The connection was reset and the request dropped with it.
            Ok(Err(_)) => Err(CacheError::NoLink),
            Err(_) => Err(CacheError::Timeout(self.command_timeout)),
        }
    }
}

/// One present-or-absent mark as last read.
#[derive(Debug, Clone, Copy)]
struct Mark {
    present: bool,
    read_at: Instant,
}

/// The marks, bounded, and the counters.
struct Tracker {
    entries: LruCache<Box<str>, Mark>,
    max_age: Duration,
    stats: RevocationCacheStats,
}

impl Tracker {
    /// `Some(revoked)` when every key has a fresh entry (or one fresh
    /// entry is present, which alone decides); `None` otherwise.
    fn lookup(&mut self, keys: &[&str], now: Instant) -> Option<bool> {
        let mut all_known = true;
        for &key in keys {
            match self.entries.get(key) {
                Some(mark) if now.saturating_duration_since(mark.read_at) < self.max_age => {
                    if mark.present {
                        return Some(true);
                    }
                }
                Some(_) => {
                    self.entries.pop(key);
                    all_known = false;
                }
                None => all_known = false,
            }
        }
        all_known.then_some(false)
    }

    fn store(&mut self, keys: Vec<Box<str>>, present: &[bool], read_at: Instant) {
        for (key, &present) in keys.into_iter().zip(present) {
            self.entries.put(key, Mark { present, read_at });
        }
    }

    fn invalidate(&mut self, key: &[u8]) {
        self.stats.invalidations += 1;
        // Keys the cache holds are UTF-8; any other cannot be one of them.
        if let Ok(key) = std::str::from_utf8(key) {
            self.entries.pop(key);
        }
    }

    fn reset(&mut self) {
        self.entries.clear();
        self.stats.resets += 1;
    }
}

/// A read (or a PING) written to the connection, waiting for its reply.
/// Replies come in the order requests were written.
enum Pending {
    Lookup {
        keys: Vec<Box<str>>,
        reply: oneshot::Sender<Result<bool, CacheError>>,
    },
    Ping,
}

/// The live tracking connection and what is in flight on it.
struct Link {
    id: u64,
    socket: Arc<TcpStream>,
    /// Bytes received but not parsed yet: a partial frame.
    inbound: Vec<u8>,
    /// Reused for every read, so a drain allocates and zeroes nothing.
    read_buffer: Box<[u8]>,
    pending: VecDeque<Pending>,
    /// Encoded requests the writer has yet to send, in `pending` order.
    outbound: Vec<u8>,
    last_heard: Instant,
    ping_in_flight: bool,
    /// When the last drain (a `recv` until the kernel had nothing more)
    /// began: everything received before then has been applied.
    drained_at: Option<Instant>,
}

/// Why a connection is given up.
#[derive(Debug, thiserror::Error)]
enum LinkDown {
    #[error("Redis closed the connection")]
    Closed,
    #[error("connection error")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("a reply came with no request waiting for it")]
    UnexpectedReply,
    #[error("no answer within {0:?}")]
    Silent(Duration),
}

/// How a connection's socket is read.
#[derive(Clone, Copy)]
enum ReadMode {
    /// The reader task, woken by tokio: through tokio, which clears its
    /// readiness flag on `WouldBlock` so the task can sleep again.
    Ready,
    /// A checking thread, before a hit: a `recv` syscall whatever tokio's
    /// readiness flag says, since it may not have seen the newest bytes.
    Drain,
}

enum Check {
    Hit(bool),
    Sent(oneshot::Receiver<Result<bool, CacheError>>),
    NoLink,
}

struct State {
    tracker: Tracker,
    link: Option<Link>,
    next_link_id: u64,
    silence_limit: Duration,
}

impl State {
    fn new(settings: RevocationCacheSettings) -> Self {
        Self {
            tracker: Tracker {
                // Sparse: memory grows with use, not up front.
                entries: LruCache::sparse(settings.capacity),
                max_age: settings.max_age,
                stats: RevocationCacheStats::default(),
            },
            link: None,
            next_link_id: 1,
            silence_limit: settings.silence_limit,
        }
    }

    /// Answers from the cache when it can, else queues an `MGET`.
    fn check(&mut self, keys: [&str; 2], now: Instant) -> Check {
        if self.link.is_none() {
            return Check::NoLink;
        }
        // A drain that began after this check did is as good as its own:
        // checks queued on the lock share the one their holder made.
        let drained = self
            .link
            .as_ref()
            .and_then(|link| link.drained_at)
            .is_some_and(|drained_at| drained_at > now);
        if !drained && let Err(down) = self.pump(ReadMode::Drain, now) {
            self.link_down(&down);
            return Check::NoLink;
        }
        let Some(link) = self.link.as_mut() else {
            return Check::NoLink;
        };
        // A partial frame may be a push about these very keys; a silent
        // connection may have lost one. Neither is a reason to fail, only
        // to ask Redis, whose reply comes after anything it sent before.
        let trusted = link.inbound.is_empty()
            && now.saturating_duration_since(link.last_heard) < self.silence_limit;
        if trusted && let Some(revoked) = self.tracker.lookup(&keys, now) {
            self.tracker.stats.hits += 1;
            return Check::Hit(revoked);
        }
        self.tracker.stats.misses += 1;
        let (reply, answer) = oneshot::channel();
        encode_command(
            &mut link.outbound,
            &[b"MGET", keys[0].as_bytes(), keys[1].as_bytes()],
        );
        link.pending.push_back(Pending::Lookup {
            keys: keys.into_iter().map(Box::from).collect(),
            reply,
        });
        Check::Sent(answer)
    }

    /// Reads what the socket holds without waiting, then applies every
    /// complete frame in order. A partial frame stays in `inbound`.
    fn pump(&mut self, mode: ReadMode, now: Instant) -> Result<(), LinkDown> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        loop {
            let read = match mode {
                ReadMode::Ready => link.socket.try_read(&mut link.read_buffer),
                ReadMode::Drain => {
                    let socket = socket2::SockRef::from(&*link.socket);
                    let mut socket: &socket2::Socket = &socket;
                    socket.read(&mut link.read_buffer)
                }
            };
            match read {
                Ok(0) => return Err(LinkDown::Closed),
                Ok(count) => link.inbound.extend_from_slice(&link.read_buffer[..count]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        let mut used = 0;
        while let Some((frame, length)) = resp::parse(&link.inbound[used..])? {
            used += length;
            link.last_heard = now;
            apply(&mut self.tracker, link, frame, now)?;
        }
        link.inbound.drain(..used);
        if matches!(mode, ReadMode::Drain) {
            link.drained_at = Some(started);
        }
        Ok(())
    }

    /// Forgets the connection: the cache is emptied before anything else
    /// can read it, and requests in flight are told to go around it.
    fn link_down(&mut self, why: &LinkDown) {
        let Some(link) = self.link.take() else {
            return;
        };
        tracing::warn!(error = %why, "revocation cache: tracking connection lost; cache emptied");
        self.tracker.reset();
        for pending in link.pending {
            if let Pending::Lookup { reply, .. } = pending {
                let _ = reply.send(Err(CacheError::NoLink));
            }
        }
    }

    /// The connection thread ends: forget the connection and the marks.
    fn shut_down(&mut self) {
        self.link = None;
        self.tracker.entries.clear();
    }

    /// Installs a connection whose handshake (tracking on) is done.
    /// `leftover` holds bytes read after the handshake's last reply.
    fn link_up(&mut self, socket: Arc<TcpStream>, leftover: Vec<u8>, now: Instant) -> u64 {
        let id = self.next_link_id;
        self.next_link_id += 1;
        // Already empty (every reset empties it and nothing is stored
        // without a connection); emptied again so that stays an invariant.
        self.tracker.entries.clear();
        self.link = Some(Link {
            id,
            socket,
            inbound: leftover,
            read_buffer: vec![0; 16 * 1024].into_boxed_slice(),
            pending: VecDeque::new(),
            outbound: Vec::new(),
            last_heard: now,
            ping_in_flight: false,
            drained_at: None,
        });
        id
    }

    /// The link with this id, if it is still the current one.
    fn link(&mut self, id: u64) -> Option<&mut Link> {
        self.link.as_mut().filter(|link| link.id == id)
    }
}

/// Applies one frame: a push invalidates, a reply answers the oldest
/// request (and stores the marks it read).
fn apply(
    tracker: &mut Tracker,
    link: &mut Link,
    frame: Frame,
    now: Instant,
) -> Result<(), LinkDown> {
    if let Frame::Push(items) = frame {
        let mut items = items.into_iter();
        if !matches!(items.next(), Some(Frame::Bulk(kind) | Frame::Simple(kind)) if kind == b"invalidate")
        {
            return Ok(()); // Not about keys: nothing cached depends on it.
        }
        match items.next() {
            Some(Frame::Array(keys)) => {
                for key in keys {
                    if let Frame::Bulk(key) | Frame::Simple(key) = key {
                        tracker.invalidate(&key);
                    }
                }
            }
            // A null key list: the databases were flushed, every key
            // is invalid.
            _ => {
                tracker.stats.invalidations += 1;
                tracker.reset();
            }
        }
        return Ok(());
    }
    match link.pending.pop_front() {
        None => Err(LinkDown::UnexpectedReply),
        Some(Pending::Ping) => {
            link.ping_in_flight = false;
            Ok(())
        }
        Some(Pending::Lookup { keys, reply }) => {
            let answer = match frame {
                Frame::Array(values) if values.len() == keys.len() => {
                    let present: Vec<bool> =
                        values.iter().map(|value| *value != Frame::Null).collect();
                    let revoked = present.contains(&true);
                    tracker.store(keys, &present, now);
                    Ok(revoked)
                }
                Frame::Error(message) => Err(CacheError::Refused(
                    String::from_utf8_lossy(&message).into_owned(),
                )),
                _ => {
                    return Err(ProtocolError::unexpected(
                        "a reply to MGET that is no array of its keys",
                    )
                    .into());
                }
            };
            // The caller may have given up waiting; the marks are stored.
            let _ = reply.send(answer);
            Ok(())
        }
    }
}

/// Appends one command in RESP form.
fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests;
