//! The cache's state machine: the marks, the live tracking connection and
//! what is in flight on it, under one lock. Whoever holds the lock reads
//! the socket and applies every complete frame in stream order (see
//! `mod.rs` for why that keeps the cache exact); the connection's task
//! (`link.rs`) only moves bytes and decides when the connection is lost.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use deadpool_redis::redis::RedisError;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};

use super::protocol::{self, Incoming, ProtocolError};
use super::settings::RevocationCacheSettings;
use super::tracker::Tracker;
use super::transport::Transport;

/// Why the cache could not answer; see `RevocationCache::is_revoked`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// No tracking connection, or it was lost before the reply: read
    /// Redis directly instead.
    #[error("the tracking connection is down")]
    NoLink,
    /// Redis answered the read with an error: read it directly, where the
    /// error is classified as for any other command.
    #[error("Redis refused the read")]
    Refused(#[source] RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// What the connection thread and the checking threads share.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the writer when `outbound` has bytes.
    pub(super) wake_writer: Notify,
    pub(super) settings: RevocationCacheSettings,
}

impl Shared {
    pub(super) fn new(settings: RevocationCacheSettings) -> Self {
        Self {
            state: Mutex::new(State::new(settings)),
            wake_writer: Notify::new(),
            settings,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; if something did, the state is
        // still consistent enough to empty, which the next reset does.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A read (or a PING) written to the connection, waiting for its reply.
/// Replies come in the order requests were written.
pub(super) enum Pending {
    Lookup {
        keys: Vec<Box<str>>,
        reply: oneshot::Sender<Result<bool, CacheError>>,
    },
    Ping,
}

/// The live tracking connection and what is in flight on it.
pub(super) struct Link {
    id: u64,
    socket: Arc<TcpStream>,
    /// In the clear or TLS: what the socket's bytes carry.
    pub(super) transport: Transport,
    /// Bytes received but not parsed yet: a partial frame.
    inbound: Vec<u8>,
    /// Reused for every read, so a drain allocates and zeroes nothing.
    read_buffer: Box<[u8]>,
    pending: VecDeque<Pending>,
    /// Packed requests the writer has yet to send, in `pending` order.
    pub(super) outbound: Vec<u8>,
    pub(super) last_heard: Instant,
    ping_in_flight: bool,
    /// When the last drain (a `recv` until the kernel had nothing more)
    /// began: everything received before then has been applied.
    drained_at: Option<Instant>,
}

impl Link {
    /// Queues a PING unless one is still unanswered; says whether it did.
    pub(super) fn ping(&mut self) -> bool {
        if self.ping_in_flight {
            return false;
        }
        self.ping_in_flight = true;
        protocol::write_ping(&mut self.outbound);
        self.pending.push_back(Pending::Ping);
        true
    }
}

/// Why a connection is given up.
#[derive(Debug, thiserror::Error)]
pub(super) enum LinkDown {
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
pub(super) enum ReadMode {
    /// The reader task, woken by tokio: through tokio, which clears its
    /// readiness flag on `WouldBlock` so the task can sleep again.
    Ready,
    /// A checking thread, before a hit: a `recv` syscall whatever tokio's
    /// readiness flag says, since it may not have seen the newest bytes.
    Drain,
}

pub(super) enum Check {
    Hit(bool),
    Sent(oneshot::Receiver<Result<bool, CacheError>>),
    NoLink,
}

pub(super) struct State {
    pub(super) tracker: Tracker,
    pub(super) link: Option<Link>,
    next_link_id: u64,
    silence_limit: Duration,
}

impl State {
    pub(super) fn new(settings: RevocationCacheSettings) -> Self {
        Self {
            tracker: Tracker::new(settings.capacity, settings.max_age),
            link: None,
            next_link_id: 1,
            silence_limit: settings.silence_limit,
        }
    }

    /// Answers from the cache when it can, else queues an `MGET`.
    pub(super) fn check(&mut self, keys: [&str; 2], now: Instant) -> Check {
        if self.link.is_none() {
            self.tracker.count_miss();
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
            self.tracker.count_miss();
            return Check::NoLink;
        }
        let Some(link) = self.link.as_mut() else {
            self.tracker.count_miss();
            return Check::NoLink;
        };
        // A partial frame may be a push about these very keys; a silent
        // connection may have lost one. Neither is a reason to fail, only
        // to ask Redis, whose reply comes after anything it sent before.
        let trusted = link.inbound.is_empty()
            && link.transport.at_record_boundary()
            && now.saturating_duration_since(link.last_heard) < self.silence_limit;
        if trusted && let Some(revoked) = self.tracker.lookup(&keys, now) {
            self.tracker.count_hit();
            return Check::Hit(revoked);
        }
        self.tracker.count_miss();
        let (reply, answer) = oneshot::channel();
        protocol::write_mget(&mut link.outbound, keys);
        link.pending.push_back(Pending::Lookup {
            keys: keys.into_iter().map(Box::from).collect(),
            reply,
        });
        Check::Sent(answer)
    }

    /// Reads what the socket holds without waiting, then applies every
    /// complete frame in order. A partial frame stays in `inbound`.
    pub(super) fn pump(&mut self, mode: ReadMode, now: Instant) -> Result<(), LinkDown> {
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
                Ok(count) => link
                    .transport
                    .receive(&link.read_buffer[..count], &mut link.inbound)?,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        let mut used = 0;
        while let Some((frame, length)) = protocol::next_frame(&link.inbound[used..])? {
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
    pub(super) fn link_down(&mut self, why: &LinkDown) {
        let Some(link) = self.link.take() else {
            return;
        };
        tracing::warn!(
            error.chain = %application::ErrorChain(why),
            "revocation cache: tracking connection lost; cache emptied"
        );
        self.tracker.reset();
        for pending in link.pending {
            if let Pending::Lookup { reply, .. } = pending {
                let _ = reply.send(Err(CacheError::NoLink));
            }
        }
    }

    /// The connection thread ends: forget the connection and the marks.
    pub(super) fn shut_down(&mut self) {
        self.link = None;
        self.tracker.clear();
    }

    /// Installs a connection whose handshake (tracking on) is done.
    /// `leftover` holds bytes read after the handshake's last reply.
    pub(super) fn link_up(
        &mut self,
        socket: Arc<TcpStream>,
        transport: Transport,
        leftover: Vec<u8>,
        now: Instant,
    ) -> u64 {
        let id = self.next_link_id;
        self.next_link_id += 1;
        // Already empty (every reset empties it and nothing is stored
        // without a connection); emptied again so that stays an invariant.
        self.tracker.clear();
        self.link = Some(Link {
            id,
            socket,
            transport,
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
    pub(super) fn link(&mut self, id: u64) -> Option<&mut Link> {
        self.link.as_mut().filter(|link| link.id == id)
    }
}

/// Applies one frame: a push invalidates, a reply answers the oldest
/// request (and stores the marks it read).
fn apply(
    tracker: &mut Tracker,
    link: &mut Link,
    frame: Incoming,
    now: Instant,
) -> Result<(), LinkDown> {
    let reply = match frame {
        Incoming::Invalidate(keys) => {
            for key in keys {
                tracker.invalidate(&key);
            }
            return Ok(());
        }
        Incoming::InvalidateAll => {
            tracker.invalidate_all();
            return Ok(());
        }
        // Not about keys: nothing cached depends on it.
        Incoming::OtherPush => return Ok(()),
        Incoming::Reply(reply) => reply,
    };
    match link.pending.pop_front() {
        None => Err(LinkDown::UnexpectedReply),
        Some(Pending::Ping) => {
            link.ping_in_flight = false;
            Ok(())
        }
        Some(Pending::Lookup {
            keys,
            reply: answer,
        }) => {
            let read = protocol::mget_reply(reply, keys.len())?.map(|present| {
                let revoked = present.contains(&true);
                tracker.store(keys, &present, now);
                revoked
            });
            // The caller may have given up waiting; the marks are stored.
            let _ = answer.send(read.map_err(CacheError::Refused));
            Ok(())
        }
    }
}
