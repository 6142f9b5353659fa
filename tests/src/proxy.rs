//! A TCP proxy a test can switch off and on, to stand in for a dependency
//! that dies and comes back without touching the real server.

use std::net::SocketAddr;
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
        let acceptor = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mode = modes.subscribe();
                let current = *mode.borrow();
                match current {
                    ProxyMode::Down => drop(inbound),
                    ProxyMode::Blackhole => {
                        tokio::spawn(swallow(inbound, mode));
                    }
                    ProxyMode::Up => {
                        tokio::spawn(forward(inbound, target, mode));
                    }
                }
            }
        });
        Self {
            address,
            mode,
            acceptor,
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

    pub fn down(&self) {
        self.mode.send_replace(ProxyMode::Down);
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
