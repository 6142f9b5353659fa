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

use backon::{BackoffBuilder, ExponentialBuilder};
use deadpool_redis::redis::{self, ConnectionAddr, IntoConnectionInfo};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::protocol::{self, Incoming};
use super::state::{LinkDown, ReadMode, Shared};
use super::transport::{Transport, write_all};
use crate::error::RedisError;

/// Where and how to connect. Not `Debug`: it holds the password.
pub(super) struct Endpoint {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    /// For a `rediss://` URL: how the server's certificate is checked.
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl Endpoint {
    pub(super) fn parse(redis_url: &str, ca_pem: Option<&[u8]>) -> Result<Self, RedisError> {
        // The redis crate's parser, as for every other connection; its
        // errors never echo the URL.
        let info = redis_url
            .into_connection_info()
            .map_err(RedisError::InvalidUrl)?;
        let (host, port, tls) = match info.addr().clone() {
            ConnectionAddr::Tcp(host, port) => (host, port, None),
            ConnectionAddr::TcpTls { host, port, .. } => {
                let config = crate::tls::client_config(ca_pem).map_err(RedisError::Tls)?;
                let name = crate::tls::server_name(&host).map_err(RedisError::Tls)?;
                (host, port, Some((config, name)))
            }
            _ => {
                return Err(RedisError::InvalidSettings(
                    "the revocation cache needs a redis:// or rediss:// (TCP) URL",
                ));
            }
        };
        let redis = info.redis_settings();
        Ok(Self {
            tls,
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
        let mut hello = redis::cmd("HELLO");
        hello.arg(3);
        if let Some(password) = &self.password {
            let username = self.username.as_deref().unwrap_or("default");
            hello.arg("AUTH").arg(username).arg(password);
        }
        hello.arg("SETNAME").arg("revocation-cache");
        hello.write_packed_command(&mut out);
        let mut replies = 1;
        if self.db != 0 {
            redis::cmd("SELECT")
                .arg(self.db)
                .write_packed_command(&mut out);
            replies += 1;
        }
        // Default mode: Redis remembers the keys this connection read and
        // pushes an invalidation when one changes (expiry, eviction and
        // flush included). It sends it while executing the write, which
        // orders it before the writer's reply in practice (see mod.rs).
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .write_packed_command(&mut out);
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

/// The pause before each new attempt: doubling from the first to the last
/// retry, then the last for as long as it takes.
fn retries() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(FIRST_RETRY)
        .with_max_delay(LAST_RETRY)
        .with_factor(2.0)
        .without_max_times()
        .build()
}

/// Connects, serves the connection until it fails, and again, forever.
async fn supervise(shared: &Shared, endpoint: &Endpoint) {
    let mut retry = retries();
    let mut failures = 0_u32;
    loop {
        let connected =
            tokio::time::timeout(shared.settings.connect_timeout, connect(endpoint)).await;
        match connected {
            Ok(Ok((socket, transport, leftover))) => {
                if failures > 0 {
                    tracing::info!(failures, "revocation cache: tracking connection restored");
                }
                failures = 0;
                retry = retries();
                let socket = Arc::new(socket);
                let id = shared
                    .lock()
                    .link_up(socket.clone(), transport, leftover, Instant::now());
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
        tokio::time::sleep(retry.next().unwrap_or(LAST_RETRY)).await;
    }
}

/// The first failure in a row is a warning; the rest would repeat it.
fn log_failure(failures: u32, error: &io::Error) {
    if failures == 0 {
        tracing::warn!(error.chain = %application::ErrorChain(&error), "revocation cache: cannot set up the tracking connection; reading Redis directly");
    } else {
        tracing::debug!(error.chain = %application::ErrorChain(&error), failures, "revocation cache: still no tracking connection");
    }
}

/// Opens the connection (TLS first, for `rediss://`) and runs the
/// handshake. Returns the socket, its transport and any bytes read past
/// the handshake's last reply.
async fn connect(endpoint: &Endpoint) -> io::Result<(TcpStream, Transport, Vec<u8>)> {
    let socket = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    socket.set_nodelay(true)?;
    let mut transport = match &endpoint.tls {
        Some((config, name)) => Transport::tls(config.clone(), name.clone())?,
        None => Transport::Plain,
    };
    transport.handshake(&socket).await?;
    let (request, mut replies) = endpoint.handshake();
    let mut raw = Vec::new();
    transport.seal(&request, &mut raw)?;
    write_all(&socket, &raw).await?;
    let mut inbound = Vec::new();
    let mut buffer = vec![0; 4096];
    while replies > 0 {
        socket.readable().await?;
        match socket.try_read(&mut buffer) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(count) => transport.receive(&buffer[..count], &mut inbound)?,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error),
        }
        while replies > 0 {
            let parsed = protocol::next_frame(&inbound).map_err(io::Error::other)?;
            let Some((frame, used)) = parsed else { break };
            inbound.drain(..used);
            match frame {
                // Not the text: it may quote the command, credentials too.
                Incoming::Reply(reply) if protocol::server_error(&reply).is_some() => {
                    return Err(io::Error::other(
                        "Redis refused the handshake (HELLO 3, AUTH, SELECT or CLIENT TRACKING)",
                    ));
                }
                Incoming::Reply(_) => replies -= 1,
                // Nothing is tracked yet, but a flush announcement is sent
                // to every tracking client: the cache is empty anyway.
                Incoming::Invalidate(_) | Incoming::InvalidateAll | Incoming::OtherPush => {}
            }
        }
    }
    Ok((socket, transport, inbound))
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
            // TLS may have to answer (a key update): the writer sends it.
            if state
                .link(id)
                .is_some_and(|link| link.transport.wants_write())
            {
                shared.wake_writer.notify_one();
            }
        }
    };
    let writer = async {
        loop {
            shared.wake_writer.notified().await;
            loop {
                // Sealed under the lock, so TLS records leave in the order
                // they were made.
                let bytes = match shared.lock().link(id) {
                    Some(link) => {
                        let plain = std::mem::take(&mut link.outbound);
                        let mut raw = Vec::new();
                        if let Err(error) = link.transport.seal(&plain, &mut raw) {
                            return LinkDown::Io(error);
                        }
                        raw
                    }
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
                if !link.ping() {
                    continue;
                }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    #[test]
    fn the_handshake_carries_the_urls_credentials_and_database() {
        let endpoint = Endpoint::parse("redis://reader:secret@127.0.0.1:6380/2", None).unwrap();
        let (bytes, replies) = endpoint.handshake();
        assert_eq!(replies, 3);
        let expected: &[u8] = b"*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$6\r\nreader\r\n\
            $6\r\nsecret\r\n$7\r\nSETNAME\r\n$16\r\nrevocation-cache\r\n\
            *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n\
            *3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n";
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_password_alone_authenticates_the_default_user() {
        let endpoint = Endpoint::parse("redis://:secret@127.0.0.1", None).unwrap();
        let (bytes, replies) = endpoint.handshake();
        assert_eq!(replies, 2);
        let expected: &[u8] = b"*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n\
            $6\r\nsecret\r\n$7\r\nSETNAME\r\n$16\r\nrevocation-cache\r\n\
            *3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n";
        assert_eq!(bytes, expected);
    }

    #[test]
    fn only_a_tcp_url_is_accepted() {
        assert!(Endpoint::parse("redis+unix:///tmp/redis.sock", None).is_err());
        assert!(Endpoint::parse("not a url", None).is_err());
    }

    #[test]
    fn retries_double_from_the_first_to_the_last_then_stay() {
        let delays: Vec<u128> = retries().take(8).map(|delay| delay.as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    }
}
