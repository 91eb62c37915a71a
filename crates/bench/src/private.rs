//! Private MariaDB and Redis servers for the fault scenarios: own ports, own
//! data directories, started and stopped by the run. The machine's shared
//! services are never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::free_port;

fn spawn(command: &mut Command, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", command.get_program()))
}

/// Sends SIGTERM (a clean shutdown) and waits for the process to end (on
/// a runtime thread that may block).
fn terminate(child: &mut Child) {
    tokio::task::block_in_place(|| terminate_blocking(child));
}

fn terminate_blocking(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let began = Instant::now();
    while matches!(child.try_wait(), Ok(None)) {
        if began.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn wait_for(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let began = Instant::now();
    while !ready() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "{what} not ready after 60 s; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server process of this run's: stopped cleanly on request, killed if
/// still running when dropped.
#[derive(Default)]
struct Daemon(Option<Child>);

impl Daemon {
    fn stop(&mut self) {
        if let Some(mut child) = self.0.take() {
            terminate(&mut child);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `mariadbd` of this run's own (fsync per commit, like the shared one).
pub struct PrivateMariaDb {
    dir: tempfile::TempDir,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    child: Daemon,
}

impl PrivateMariaDb {
    /// Initialises a data directory and starts the server.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let status = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg("--user=root")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run mariadb-install-db");
        assert!(status.success(), "mariadb-install-db failed: {status}");
        let mut server = Self {
            dir,
            port: free_port(),
            child: Daemon::default(),
        };
        server.launch().await;
        server
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("error.log")
    }

    /// `mysql://root@127.0.0.1:PORT/mysql`: for creating databases on it.
    pub fn server_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// Starts `mariadbd` and waits until it answers a query.
    pub async fn launch(&mut self) {
        let d = self.dir.path();
        let mut command = Command::new("mariadbd");
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.log().display()))
            .arg("--user=root")
            .arg("--skip-log-bin")
            .arg("--innodb-buffer-pool-size=128M");
        self.child = Daemon(Some(spawn(&mut command, &d.join("stdout.log"))));
        let port = self.port.to_string();
        wait_for("private mariadbd", &self.log(), || {
            Command::new("mariadb")
                .args(["--protocol=tcp", "-h", "127.0.0.1", "-P", &port, "-uroot"])
                .args(["-e", "SELECT 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .await;
    }

    /// A clean shutdown (what a restart does first).
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// A `redis-server` of this run's own (no persistence, like the shared one).
pub struct PrivateRedis {
    dir: tempfile::TempDir,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    child: Daemon,
}

impl PrivateRedis {
    /// Starts it.
    pub async fn start() -> Self {
        let mut server = Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            port: free_port(),
            child: Daemon::default(),
        };
        server.launch().await;
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts `redis-server` and waits for PONG.
    pub async fn launch(&mut self) {
        let log = self.dir.path().join("redis.log");
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path());
        self.child = Daemon(Some(spawn(&mut command, &log)));
        let port = self.port.to_string();
        wait_for("private redis-server", &log, || {
            Command::new("redis-cli")
                .args(["-p", &port, "ping"])
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
        })
        .await;
    }

    /// Stops it (the data is gone: it keeps nothing on disk).
    pub fn stop(&mut self) {
        self.child.stop();
    }
}
