//! The tracking connection's life: connect, turn tracking on, then read
//! (pushes and replies), write (queued reads and PINGs) and watch for
//! silence until it fails; then empty the cache and start again.
//!
//! It runs on a thread of its own with a single-threaded runtime: its
//! progress never waits for a busy HTTP worker, and nothing needs a
//! runtime when the cache is built.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::{ConnectionAddr, IntoConnectionInfo};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::resp::{self, Frame};
use super::{LinkDown, ReadMode, Shared, encode_command};
use crate::error::RedisError;

/// Where and how to connect. Not `Debug`: it holds the password.
pub(super) struct Endpoint {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    db: i64,
}

impl Endpoint {
    pub(super) fn parse(redis_url: &str) -> Result<Self, RedisError> {
        // The redis crate's parser, as for every other connection; its
        // errors never echo the URL.
        let info = redis_url
            .into_connection_info()
            .map_err(RedisError::InvalidUrl)?;
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            return Err(RedisError::InvalidSettings(
                "the revocation cache needs a redis:// (plain TCP) URL",
            ));
        };
        let redis = info.redis_settings();
        Ok(Self {
            host,
            port,
            username: redis.username().map(str::to_owned),
            password: redis.password().map(str::to_owned),
            db: redis.db(),
        })
    }

    /// `HELLO 3` (with credentials when the URL has some), `SELECT`, and
    /// `CLIENT TRACKING ON`, pipelined: their replies are checked in order.
    fn handshake(&self) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some(password) = &self.password {
            let username = self.username.as_deref().unwrap_or("default");
            hello.extend([b"AUTH".as_slice(), username.as_bytes(), password.as_bytes()]);
        }
        hello.extend([b"SETNAME".as_slice(), b"revocation-cache"]);
        encode_command(&mut out, &hello);
        let mut replies = 1;
        let db = self.db.to_string();
        if self.db != 0 {
            encode_command(&mut out, &[b"SELECT", db.as_bytes()]);
            replies += 1;
        }
        // Default mode: Redis remembers the keys this connection read and
        // pushes an invalidation when one changes (expiry, eviction and
        // flush included). It sends it while executing the write, which
        // orders it before the writer's reply in practice (see mod.rs).
        encode_command(&mut out, &[b"CLIENT", b"TRACKING", b"ON"]);
        replies += 1;
        (out, replies)
    }
}

/// Starts the connection thread. It ends when `stop` resolves (the cache's
/// handle was dropped).
pub(super) fn spawn(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("revocation-cache".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = stop => {}
                    () = supervise(&shared, &endpoint) => {}
                }
            });
            // The handle is gone: nobody checks any more, but no hit may
            // outlive the connection all the same.
            shared.lock().shut_down();
        })?;
    Ok(())
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Connects, serves the connection until it fails, and again, forever.
async fn supervise(shared: &Shared, endpoint: &Endpoint) {
    let mut retry = FIRST_RETRY;
    let mut failures = 0_u32;
    loop {
        let connected =
            tokio::time::timeout(shared.settings.connect_timeout, connect(endpoint)).await;
        match connected {
            Ok(Ok((socket, leftover))) => {
                if failures > 0 {
                    tracing::info!(failures, "revocation cache: tracking connection restored");
                }
                failures = 0;
                retry = FIRST_RETRY;
                let socket = Arc::new(socket);
                let id = shared
                    .lock()
                    .link_up(socket.clone(), leftover, Instant::now());
                let down = serve(shared, &socket, id).await;
                shared.lock().link_down(&down);
            }
            Ok(Err(error)) => {
                log_failure(failures, &error);
                failures += 1;
            }
            Err(_) => {
                let error = io::Error::new(io::ErrorKind::TimedOut, "no handshake in time");
                log_failure(failures, &error);
                failures += 1;
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// The first failure in a row is a warning; the rest would repeat it.
fn log_failure(failures: u32, error: &io::Error) {
    if failures == 0 {
        tracing::warn!(%error, "revocation cache: cannot set up the tracking connection; reading Redis directly");
    } else {
        tracing::debug!(%error, failures, "revocation cache: still no tracking connection");
    }
}

/// Opens the connection and runs the handshake. Returns the socket and any
/// bytes read past the handshake's last reply.
async fn connect(endpoint: &Endpoint) -> io::Result<(TcpStream, Vec<u8>)> {
    let socket = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    socket.set_nodelay(true)?;
    let (request, mut replies) = endpoint.handshake();
    write_all(&socket, &request).await?;
    let mut inbound = Vec::new();
    let mut buffer = vec![0; 4096];
    while replies > 0 {
        socket.readable().await?;
        match socket.try_read(&mut buffer) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(count) => inbound.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error),
        }
        while replies > 0 {
            let parsed = resp::parse(&inbound).map_err(io::Error::other)?;
            let Some((frame, used)) = parsed else { break };
            inbound.drain(..used);
            match frame {
                // Nothing is tracked yet, but a flush announcement is sent
                // to every tracking client: the cache is empty anyway.
                Frame::Push(_) => {}
                // Not the text: it may quote the command, credentials too.
                Frame::Error(_) => {
                    return Err(io::Error::other(
                        "Redis refused the handshake (HELLO 3, AUTH, SELECT or CLIENT TRACKING)",
                    ));
                }
                _ => replies -= 1,
            }
        }
    }
    Ok((socket, inbound))
}

async fn write_all(socket: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_write(bytes) {
            Ok(count) => bytes = &bytes[count..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads, writes and PINGs until the connection fails; says why.
async fn serve(shared: &Shared, socket: &TcpStream, id: u64) -> LinkDown {
    let reader = async {
        loop {
            if let Err(error) = socket.readable().await {
                return LinkDown::Io(error);
            }
            let mut state = shared.lock();
            if state.link(id).is_none() {
                return LinkDown::Closed; // A checking thread saw it fail.
            }
            if let Err(down) = state.pump(ReadMode::Ready, Instant::now()) {
                return down;
            }
        }
    };
    let writer = async {
        loop {
            shared.wake_writer.notified().await;
            loop {
                let bytes = match shared.lock().link(id) {
                    Some(link) => std::mem::take(&mut link.outbound),
                    None => return LinkDown::Closed,
                };
                if bytes.is_empty() {
                    break;
                }
                if let Err(error) = write_all(socket, &bytes).await {
                    return LinkDown::Io(error);
                }
            }
        }
    };
    let heartbeat = async {
        let mut ticks = tokio::time::interval(shared.settings.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = Instant::now();
            {
                let mut state = shared.lock();
                let Some(link) = state.link(id) else {
                    return LinkDown::Closed;
                };
                let silence = now.saturating_duration_since(link.last_heard);
                if silence >= shared.settings.silence_limit {
                    return LinkDown::Silent(silence);
                }
                if link.ping_in_flight {
                    continue;
                }
                link.ping_in_flight = true;
                encode_command(&mut link.outbound, &[b"PING"]);
                link.pending.push_back(super::Pending::Ping);
            }
            shared.wake_writer.notify_one();
        }
    };
    tokio::select! {
        down = reader => down,
        down = writer => down,
        down = heartbeat => down,
    }
}
