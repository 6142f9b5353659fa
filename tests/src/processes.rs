//! Child processes of the built binaries for the end-to-end tests: found in
//! the Cargo target folder, started with a clean environment in a folder of
//! the test's own (so no developer `.env` leaks in), logged to a file, and
//! killed when their guard drops, panics included.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A built binary of the workspace, e.g. `api-server`, from
/// `$CARGO_TARGET_DIR/debug` (relative to the workspace root when relative)
/// or `target/debug`. Panics with the fix when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        }
        _ => root.join("target"),
    };
    let path = target.join("debug").join(name);
    assert!(
        path.is_file(),
        "{} does not exist: the end-to-end tests run the built binaries, \
         so run `cargo build --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The environment a child gets: nothing of ours but `PATH`, plus these.
pub type Vars = BTreeMap<&'static str, String>;

/// A running child process; SIGKILLed and reaped on drop if still running.
/// While a test panics, its log's tail is printed on drop.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl Process {
    /// Starts `program args` in `dir` with only `PATH` and `vars`; stdout
    /// and stderr go to `dir/<name>.log`.
    pub fn spawn(name: &str, program: &Path, args: &[&str], vars: &Vars, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log).expect("create a process log");
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(vars)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log handle"))
            .stderr(file);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        Self {
            name: name.to_owned(),
            child,
            log,
            status: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once it has exited (reaped), else `None`.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("query a child's status");
        }
        self.status
    }

    /// SIGKILL (no chance to clean up, as a crash) and reap.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        // std's kill is SIGKILL on Unix.
        let _ = self.child.kill();
        let status = self.child.wait().expect("reap a killed child");
        self.status = Some(status);
        status
    }

    /// Sends SIGTERM (a graceful stop request) through `kill(1)`.
    pub fn terminate(&mut self) {
        // Signalling a reaped pid could hit another process; a child that
        // exited but is not reaped yet still owns its pid.
        assert!(
            self.try_status().is_none(),
            "{} already exited: {:?}\n{}",
            self.name,
            self.status,
            self.log_tail(40)
        );
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of its log, labelled.
    pub fn log_tail(&self, lines: usize) -> String {
        let logs = self.logs();
        let all: Vec<&str> = logs.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.name)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(30));
        }
    }
}

/// What a command that ran to completion printed.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args` like [`Process::spawn`] and waits up to `limit`
/// for it to finish (killing it then).
pub async fn run_to_completion(
    name: &str,
    program: &Path,
    args: &[&str],
    vars: &Vars,
    dir: &Path,
    limit: Duration,
) -> Finished {
    let stdout_path = dir.join(format!("{name}.stdout"));
    let stderr_path = dir.join(format!("{name}.stderr"));
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(vars)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create a stdout file"))
        .stderr(File::create(&stderr_path).expect("create a stderr file"));
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
    let deadline = tokio::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("query a child's status") {
            break status;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not finish within {limit:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    Finished {
        status,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}
