//! A TCP proxy a test can switch off and on, to stand in for a dependency
//! that dies and comes back without touching the real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards every byte both ways.
    Up,
    /// Closes every connection, open or new, at once: a dead server.
    Down,
    /// Accepts and swallows everything, answers nothing: a network that
    /// lost the server. Forwarded connections stop forwarding.
    Blackhole,
}

pub struct TcpProxy {
    address: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    acceptor: JoinHandle<()>,
    /// Client connections the proxy still holds open, forwarded or swallowed.
    open: Arc<AtomicUsize>,
}

/// Counts one held client connection for as long as it lives.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Self(open.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TcpProxy {
    /// Listens on `127.0.0.1:0` and forwards to `target`, starting up.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(ProxyMode::Up);
        let modes = mode.clone();
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mode = modes.subscribe();
                let current = *mode.borrow();
                // The count drops only after the task has closed `inbound`.
                let held = Held::new(&counter);
                match current {
                    ProxyMode::Down => drop(inbound),
                    ProxyMode::Blackhole => {
                        tokio::spawn(async move {
                            swallow(inbound, mode).await;
                            drop(held);
                        });
                    }
                    ProxyMode::Up => {
                        tokio::spawn(async move {
                            forward(inbound, target, mode).await;
                            drop(held);
                        });
                    }
                }
            }
        });
        Self {
            address,
            mode,
            acceptor,
            open,
        }
    }

    /// A proxy in front of the local Redis.
    pub async fn redis() -> Self {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 6379))).await
    }

    /// A proxy in front of the local PostgreSQL.
    pub async fn postgres() -> Self {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// A Redis URL through this proxy.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    pub fn up(&self) {
        self.mode.send_replace(ProxyMode::Up);
    }

    /// Closes every connection and returns once they are closed, so the
    /// clients' kernels already hold the FIN: a dead server, as seen by
    /// the next request. (Switching the mode alone leaves the proxy's tasks
    /// a moment to notice, during which a cache may rightly still answer.)
    pub async fn down(&self) {
        self.mode.send_replace(ProxyMode::Down);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.open.load(Ordering::SeqCst) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the proxy still holds connections 5 s after going down"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub fn blackhole(&self) {
        self.mode.send_replace(ProxyMode::Blackhole);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        // Open connections end once their mode can no longer change.
        self.mode.send_replace(ProxyMode::Down);
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr, mut mode: watch::Receiver<ProxyMode>) {
    let connecting = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target));
    let Ok(Ok(mut outbound)) = connecting.await else {
        return;
    };
    tokio::select! {
        // The mode first: bytes that arrive after a switch must not pass.
        biased;
        changed = mode.wait_for(|mode| *mode != ProxyMode::Up) => {
            if changed.is_err() {
                return;
            }
        }
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
    }
    drop(outbound);
    if *mode.borrow() == ProxyMode::Blackhole {
        swallow(inbound, mode).await;
    }
}

/// Reads and discards until the mode changes (or the peer leaves).
async fn swallow(mut inbound: TcpStream, mut mode: watch::Receiver<ProxyMode>) {
    let mut sink = [0_u8; 4096];
    loop {
        tokio::select! {
            read = inbound.read(&mut sink) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() != ProxyMode::Blackhole {
                    return;
                }
            }
        }
    }
}
