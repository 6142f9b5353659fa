//! Redis servers a test starts for itself from Debian's `redis-server`:
//! a Redis Cluster of a few masters and a TLS-only server, each on free
//! ports in a temporary directory. Dropping one kills exactly the
//! processes it started and removes its directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tls::TestCa;

/// Processes this test started, killed (by their handle) when dropped.
struct Servers {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Servers {
    fn new(kind: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{kind}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            children: Vec::new(),
        }
    }

    fn start(&mut self, name: &str, args: &[String]) {
        let node_dir = self.dir.join(name);
        std::fs::create_dir_all(&node_dir).unwrap();
        let log = std::fs::File::create(node_dir.join("log")).unwrap();
        let child = Command::new("redis-server")
            .args(args)
            .args([
                "--dir",
                node_dir.to_str().unwrap(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) runs");
        self.children.push(child);
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on now, whose cluster bus port (+10000) is
/// free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn redis_cli(args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Waits until `check` holds, or panics after 30 s naming `what`.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Redis Cluster of `masters` masters and no replicas.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    _servers: Servers,
}

impl RedisCluster {
    pub fn start(masters: usize) -> Self {
        let mut servers = Servers::new("redis-cluster");
        let ports: Vec<u16> = (0..masters).map(|_| free_port()).collect();
        for port in &ports {
            servers.start(
                &port.to_string(),
                &[
                    "--port".into(),
                    port.to_string(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    "nodes.conf".into(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ],
            );
        }
        for port in &ports {
            let port = port.to_string();
            wait_for("a cluster node", || {
                redis_cli(&["-p", &port, "PING"]).contains("PONG")
            });
        }
        let addresses: Vec<String> = ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = redis_cli(&create);
        assert!(created.contains("All 16384 slots covered"), "{created}");
        for port in &ports {
            let port = port.to_string();
            wait_for("cluster_state:ok", || {
                redis_cli(&["-p", &port, "CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
        Self {
            ports,
            _servers: servers,
        }
    }

    /// Kills the master on `port` (a node that fails).
    pub fn kill(&mut self, port: u16) {
        let index = self.ports.iter().position(|own| *own == port).unwrap();
        let child = &mut self._servers.children[index];
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// `REDIS_CLUSTER_NODES`: every node, `host:port,...`.
    pub fn nodes(&self) -> String {
        self.ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The slot of `key`, as the cluster computes it.
    pub fn slot_of(&self, key: &str) -> u16 {
        let port = self.ports[0].to_string();
        redis_cli(&["-p", &port, "CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap()
    }

    /// Moves `key`'s slot, with its keys, to the master on port `to`, the
    /// way a resharding does (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE):
    /// clients that still send its keys to the old master get MOVED.
    pub fn move_slot_of(&self, key: &str, to: u16) {
        let slot = self.slot_of(key).to_string();
        let from = self.owner_of(key);
        let id = |port: u16| {
            redis_cli(&["-p", &port.to_string(), "CLUSTER", "MYID"])
                .trim()
                .to_owned()
        };
        let (from_id, to_id) = (id(from), id(to));
        let (from_port, to_port) = (from.to_string(), to.to_string());
        redis_cli(&[
            "-p",
            &to_port,
            "CLUSTER",
            "SETSLOT",
            &slot,
            "IMPORTING",
            &from_id,
        ]);
        redis_cli(&[
            "-p",
            &from_port,
            "CLUSTER",
            "SETSLOT",
            &slot,
            "MIGRATING",
            &to_id,
        ]);
        let keys = redis_cli(&["-p", &from_port, "CLUSTER", "GETKEYSINSLOT", &slot, "1000"]);
        for key in keys.lines().map(str::trim).filter(|key| !key.is_empty()) {
            let moved = redis_cli(&[
                "-p",
                &from_port,
                "MIGRATE",
                "127.0.0.1",
                &to_port,
                key,
                "0",
                "5000",
            ]);
            assert!(moved.contains("OK"), "MIGRATE {key}: {moved}");
        }
        for port in &self.ports {
            redis_cli(&[
                "-p",
                &port.to_string(),
                "CLUSTER",
                "SETSLOT",
                &slot,
                "NODE",
                &to_id,
            ]);
        }
        wait_for("the slot's new owner", || self.owner_of(key) == to);
    }

    /// The port of the master serving `key`'s slot.
    pub fn owner_of(&self, key: &str) -> u16 {
        let port = self.ports[0].to_string();
        let slot = self.slot_of(key);
        let shards = redis_cli(&["-p", &port, "CLUSTER", "SLOTS"]);
        // Each range: start, end, then the master's ip and port (and id).
        let lines: Vec<&str> = shards.lines().map(str::trim).collect();
        for window in lines.windows(4) {
            let (Ok(start), Ok(end)) = (window[0].parse::<u16>(), window[1].parse::<u16>()) else {
                continue;
            };
            if window[2] == "127.0.0.1" && (start..=end).contains(&slot) {
                return window[3].parse().unwrap();
            }
        }
        panic!("no master for slot {slot}: {shards}");
    }
}

/// A Redis that speaks only TLS, with a certificate signed by its own CA.
pub struct TlsRedis {
    pub port: u16,
    /// The CA that signed the server's certificate.
    pub ca: TestCa,
    /// Where the CA's certificate is (`REDIS_CA_CERT`).
    pub ca_file: PathBuf,
    servers: Servers,
}

impl TlsRedis {
    pub fn start() -> Self {
        let mut servers = Servers::new("redis-tls");
        let ca = TestCa::new();
        let server = ca.server_cert();
        let write = |name: &str, text: &str| -> PathBuf {
            let path = servers.dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca_file = write("ca.pem", &ca.cert_pem());
        let cert_file = write("server.pem", &server.cert_pem);
        let key_file = write("server.key", &server.key_pem);
        let port = free_port();
        let path = |path: &Path| path.to_str().unwrap().to_owned();
        servers.start(
            "server",
            &[
                "--port".into(),
                "0".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                path(&cert_file),
                "--tls-key-file".into(),
                path(&key_file),
                "--tls-ca-cert-file".into(),
                path(&ca_file),
                "--tls-auth-clients".into(),
                "no".into(),
            ],
        );
        let port_text = port.to_string();
        let ca_text = path(&ca_file);
        wait_for("the TLS Redis", || {
            redis_cli(&["--tls", "--cacert", &ca_text, "-p", &port_text, "PING"]).contains("PONG")
        });
        Self {
            port,
            ca,
            ca_file,
            servers,
        }
    }

    /// `REDIS_URL`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// A CA file of another CA, which did not sign the server's certificate.
    pub fn wrong_ca_file(&self) -> PathBuf {
        let path = self.servers.dir.join("wrong-ca.pem");
        std::fs::write(&path, TestCa::new().cert_pem()).unwrap();
        path
    }
}
