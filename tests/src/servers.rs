//! Throwaway servers a test starts for itself, in a temporary folder on a
//! free port, stopped when their guard drops: a PostgreSQL that accepts
//! only TLS ([`TlsPostgres`]) and a PgBouncer in transaction mode
//! ([`PgBouncer`]). PostgreSQL and PgBouncer both refuse to run as root,
//! so when the tests do, they run as the `postgres` user (`setpriv`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use test_support::tls::TestCertificates;

use crate::deployment::free_port;
use crate::processes::{Process, Vars};

/// Debian's PostgreSQL 15 server programs.
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A new empty folder under the system's temporary folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temporary folder");
    dir
}

/// The uid and gid of the `postgres` user when we are root, so the servers
/// run as it; `None` when we are not root.
fn server_user() -> Option<(u32, u32)> {
    let id = |flag: &str, user: Option<&str>| -> Option<u32> {
        let output = Command::new("id").arg(flag).args(user).output().ok()?;
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    if id("-u", None)? != 0 {
        return None;
    }
    let uid = id("-u", Some("postgres")).expect("a postgres user to run servers as");
    let gid = id("-g", Some("postgres")).expect("the postgres user's group");
    Some((uid, gid))
}

/// Gives `path` (and everything under it) to the server user.
fn hand_over(path: &Path, user: Option<(u32, u32)>) {
    let Some((uid, gid)) = user else { return };
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("list a folder") {
            hand_over(&entry.expect("a folder entry").path(), Some((uid, gid)));
        }
    }
}

/// Runs `program args` as the server user, to completion; panics on failure.
fn run_as_server(user: Option<(u32, u32)>, program: &str, args: &[&str]) {
    let mut command = server_command(user, program);
    let output = command.args(args).output().expect("run a server program");
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn server_command(user: Option<(u32, u32)>, program: &str) -> Command {
    match user {
        Some(_) => {
            let mut command = Command::new("setpriv");
            command.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
                program,
            ]);
            command
        }
        None => Command::new(program),
    }
}

/// Spawns a long-running server as the server user (setpriv execs, so the
/// child's pid is the server's own).
fn spawn_server(name: &str, program: &str, args: &[&str], dir: &Path) -> Process {
    let user = server_user();
    let (program, args): (String, Vec<String>) = match user {
        Some(_) => (
            "setpriv".to_owned(),
            [
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
                program,
            ]
            .iter()
            .chain(args)
            .map(|arg| (*arg).to_owned())
            .collect(),
        ),
        None => (
            program.to_owned(),
            args.iter().map(|arg| (*arg).to_owned()).collect(),
        ),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Process::spawn(name, Path::new(&program), &args, &Vars::new(), dir)
}

/// Waits until something accepts TCP connections on `port`.
async fn wait_listening(port: u16, process: &mut Process) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        assert!(
            process.try_status().is_none(),
            "{} exited at start\n{}",
            process.name(),
            process.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} is not listening on {port}\n{}",
        process.name(),
        process.log_tail(30)
    );
}

/// A PostgreSQL 15 of the test's own: `ssl=on` with a certificate of
/// [`TestCertificates`], and a pg_hba that accepts TCP clients only over
/// TLS (trust, user `postgres`).
pub struct TlsPostgres {
    pub port: u16,
    pub certificates: TestCertificates,
    dir: PathBuf,
    server: Process,
}

impl TlsPostgres {
    /// `None` (after saying why) when PostgreSQL's server programs are not
    /// installed here.
    pub async fn start() -> Option<Self> {
        if !Path::new(POSTGRES_BIN).join("postgres").is_file() {
            eprintln!("skipped: no PostgreSQL 15 server programs in {POSTGRES_BIN}");
            return None;
        }
        let user = server_user();
        let certificates = TestCertificates::generate();
        let dir = temp_dir("tls-postgres");
        let data = dir.join("data");
        hand_over(&dir, user);
        let initdb = format!("{POSTGRES_BIN}/initdb");
        let data_arg = data.to_str().expect("a UTF-8 path");
        run_as_server(
            user,
            &initdb,
            &[
                "-D",
                data_arg,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        std::fs::copy(&certificates.server_cert, data.join("server.crt")).expect("copy the cert");
        std::fs::copy(&certificates.server_key, data.join("server.key")).expect("copy the key");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
        hand_over(&data, user);

        let port = free_port();
        let port_arg = port.to_string();
        let socket_dir = dir.to_str().expect("a UTF-8 path");
        let mut server = spawn_server(
            "tls-postgres",
            &format!("{POSTGRES_BIN}/postgres"),
            &[
                "-D",
                data_arg,
                "-p",
                &port_arg,
                "-k",
                socket_dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=60",
            ],
            &dir,
        );
        wait_listening(port, &mut server).await;
        // It listens before it accepts sessions ("starting up").
        for _ in 0..400 {
            if server.logs().contains("ready to accept connections") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Self {
            port,
            certificates,
            dir,
            server,
        })
    }

    /// A URL of database `database` on this server, with `query` (e.g.
    /// `sslmode=verify-full&sslrootcert=...`) appended.
    pub fn url(&self, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?{query}",
            self.port
        )
    }

    /// The query string that verifies this server fully.
    pub fn verify_full(&self) -> String {
        format!(
            "sslmode=verify-full&sslrootcert={}",
            self.certificates.ca_cert.display()
        )
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        // SIGKILL of the postmaster: its backends notice and exit.
        self.server.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PgBouncer in `pool_mode=transaction` in front of a PostgreSQL on
/// 127.0.0.1 (auth trust, every database), with few server connections
/// per database so that clients share them.
pub struct PgBouncer {
    pub port: u16,
    dir: PathBuf,
    server: Process,
}

impl PgBouncer {
    /// `None` (after saying why) when the `pgbouncer` program is missing.
    pub async fn start(upstream_port: u16, server_connections: u16) -> Option<Self> {
        let Some(program) = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|path| Path::new(path).is_file())
        else {
            eprintln!("skipped: pgbouncer is not installed (Debian package pgbouncer)");
            return None;
        };
        let dir = temp_dir("pgbouncer");
        let port = free_port();
        let users = dir.join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").expect("write the user list");
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={upstream_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 default_pool_size = {server_connections}\nmax_client_conn = 500\n\
                 admin_users = postgres\nserver_reset_query =\n",
                users.display()
            ),
        )
        .expect("write pgbouncer.ini");
        hand_over(&dir, server_user());
        let mut server = spawn_server(
            "pgbouncer",
            program,
            &[ini.to_str().expect("a UTF-8 path")],
            &dir,
        );
        wait_listening(port, &mut server).await;
        Some(Self { port, dir, server })
    }

    /// The URL of `database` through this PgBouncer.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// What PgBouncer logged (its errors name the statements it saw fail).
    pub fn logs(&self) -> String {
        self.server.logs()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.server.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
