//! sitga as real processes: one or more `sitga` instances on one database
//! (and, for more than one, one Redis), as production runs them behind a
//! proxy. The benchmarks start, kill (`SIGKILL`) and restart them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::SECRET;

/// Where the instances keep their data.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `mysql://…` or `sqlite://…`.
    pub database_url: String,
    /// Redis; `None` is the embedded default (one instance only).
    pub redis_url: Option<String>,
    /// Keeps this run's Redis keys apart from anything else on the server.
    pub redis_prefix: String,
}

impl Backend {
    /// A short label for tables: `embedded`, `mysql+redis`.
    pub fn label(&self) -> &'static str {
        match (self.database_url.starts_with("mysql://"), &self.redis_url) {
            (false, None) => "embedded (SQLite)",
            (false, Some(_)) => "SQLite + Redis",
            (true, None) => "MySQL",
            (true, Some(_)) => "MySQL + Redis",
        }
    }
}

/// One running `sitga serve`.
pub struct Instance {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
    log: PathBuf,
}

impl Instance {
    /// `http://addr`.
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident memory of the process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.child
            .as_ref()
            .map_or(0, |child| rss_bytes_of(child.id()))
    }

    /// CPU time the process has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.child
            .as_ref()
            .map_or(0.0, |child| cpu_seconds_of(&child.id().to_string()))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Instances of one deployment.
pub struct Cluster {
    /// The instances, in start order.
    pub instances: Vec<Instance>,
    bin: PathBuf,
    backend: Backend,
    ws_rate: u32,
    dir: tempfile::TempDir,
}

/// The `sitga` binary: `--sitga-bin`, else next to this benchmark.
pub fn sitga_binary(explicit: Option<PathBuf>) -> PathBuf {
    let path = explicit.unwrap_or_else(|| {
        std::env::current_exe()
            .expect("own path")
            .with_file_name("sitga")
    });
    assert!(
        path.is_file(),
        "no sitga binary at {} (cargo build --release -p sitga-api, or --sitga-bin)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Cluster {
    /// Starts `count` instances one after the other (the first applies the
    /// migrations) and waits until each answers `/health`.
    pub async fn start(bin: &Path, backend: &Backend, count: usize, ws_rate: u32) -> Self {
        assert!(
            count == 1 || backend.redis_url.is_some(),
            "more than one instance needs Redis (--redis-url)"
        );
        let mut cluster = Self {
            instances: Vec::new(),
            bin: bin.to_owned(),
            backend: backend.clone(),
            ws_rate,
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        for i in 0..count {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            // SITGA_BENCH_LOGS=DIR keeps the instances' logs after the run.
            let logs = std::env::var_os("SITGA_BENCH_LOGS")
                .map_or_else(|| cluster.dir.path().to_owned(), PathBuf::from);
            let log = logs.join(format!("sitga-{}-{i}.log", std::process::id()));
            cluster.instances.push(Instance {
                addr,
                child: None,
                log,
            });
            cluster.launch(i).await;
        }
        cluster
    }

    /// `sitga` with this deployment's settings (no subcommand yet).
    fn command(&self, data: &Path) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .env("DATABASE_URL", &self.backend.database_url)
            .env("SITGA_REDIS_PREFIX", &self.backend.redis_prefix)
            .env("JWT_SECRET", SECRET)
            .env("SITGA_DATA_DIR", data)
            .env("SITGA_WS_FRAMES_PER_SECOND", self.ws_rate.to_string())
            // Every simulated client connects from loopback, and bidders
            // bid as fast as the engine lets them: the per-account and
            // per-address caps are not what a benchmark measures.
            .env("SITGA_WS_SOCKETS_PER_IP", "1000000")
            .env("SITGA_WS_SOCKETS_PER_USER", "1000000")
            .env("SITGA_WS_MESSAGES_PER_SECOND", self.ws_rate.to_string())
            .env("SITGA_MODEL_DIR", "")
            // The fault run's writers charge in a loop: the development
            // provider and no daily cap that a benchmark would hit.
            .env("SITGA_PAYMENT_PROVIDER", "dev")
            .env("SITGA_CHARGE_DAILY_CAP", "1000000000000")
            .env(
                "SITGA_LOG",
                std::env::var("SITGA_LOG").unwrap_or("warn".into()),
            )
            .env_remove("CHAIN_RPC_URL")
            .env_remove("CHAIN_PRIVATE_KEY")
            .env_remove("CHAIN_CONTRACT_ADDRESS")
            .stdin(Stdio::null());
        match &self.backend.redis_url {
            Some(url) => command.env("REDIS_URL", url),
            None => command.env_remove("REDIS_URL"),
        };
        command
    }

    /// Runs `sitga ARGS` (e.g. `demo-data`) against this deployment.
    pub fn run_command(&self, args: &[&str]) {
        let output = self
            .command(self.dir.path())
            .args(args)
            .output()
            .expect("run sitga");
        assert!(
            output.status.success(),
            "sitga {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    async fn launch(&mut self, i: usize) {
        let data = self.dir.path().join(format!("data-{i}"));
        std::fs::create_dir_all(&data).expect("data directory");
        let instance = &self.instances[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&instance.log)
            .expect("log file");
        let child = self
            .command(&data)
            .arg("serve")
            .env("SITGA_BIND", instance.addr.to_string())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start sitga");
        self.instances[i].child = Some(child);
        self.wait_healthy(i).await;
    }

    async fn wait_healthy(&mut self, i: usize) {
        let client = reqwest::Client::new();
        let url = format!("{}/health", self.instances[i].http());
        let began = Instant::now();
        loop {
            if let Some(child) = self.instances[i].child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "sitga instance {i} exited ({status}):\n{}",
                    self.instances[i].log_tail()
                );
            }
            if matches!(client.get(&url).send().await, Ok(r) if r.status().is_success()) {
                return;
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "sitga instance {i} not healthy after 60 s:\n{}",
                self.instances[i].log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no shutdown, no flushing, connections dropped.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.instances[i].child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
    }

    /// Starts instance `i` again on the same address.
    pub async fn restart(&mut self, i: usize) {
        self.kill(i);
        self.launch(i).await;
    }

    /// Total resident memory of the instances, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.instances.iter().map(Instance::rss_bytes).sum()
    }

    /// CPU time the instances have used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.instances.iter().map(Instance::cpu_seconds).sum()
    }

    /// The instance serving client `n` (round-robin, as a proxy would).
    pub fn pick(&self, n: usize) -> &Instance {
        &self.instances[n % self.instances.len()]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.instances.len() {
            self.kill(i);
        }
    }
}

/// The backend of a fresh benchmark database, with a Redis prefix of its
/// own so runs never see each other's rooms or jobs.
pub fn backend(
    db: &sitga_persistence::test_support::TestDatabase,
    redis_url: Option<String>,
) -> Backend {
    let database_url = match &db.url {
        sitga_persistence::DatabaseUrl::Mysql(raw) => raw.clone(),
        sitga_persistence::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    };
    Backend {
        database_url,
        redis_url,
        redis_prefix: format!("bench-{}:", uuid::Uuid::new_v4().simple()),
    }
}

/// What every scenario starts from: the `sitga` binary, a fresh database
/// (dropped at the end), a pool on it for seeding and checks, and the
/// deployment the instances use.
pub struct Setup {
    /// The `sitga` binary.
    pub bin: PathBuf,
    /// The fresh database.
    pub db: sitga_persistence::test_support::TestDatabase,
    /// The bench's own connections to it.
    pub pool: sitga_persistence::DbPool,
    /// Database + Redis for the instances.
    pub backend: Backend,
}

impl Setup {
    /// Creates the database on `--database-url` (or a SQLite file).
    pub async fn prepare(target: &crate::Target, pool_size: usize) -> Self {
        let bin = sitga_binary(target.sitga_bin.clone());
        let db =
            sitga_persistence::test_support::TestDatabase::create_on(target.database_url.clone())
                .await
                .expect("database");
        let pool = sitga_persistence::DbPool::connect(
            &db.url,
            sitga_persistence::PoolOptions {
                max_size: pool_size,
                ..Default::default()
            },
        )
        .await
        .expect("pool");
        let backend = backend(&db, target.redis_url.clone());
        Self {
            bin,
            db,
            pool,
            backend,
        }
    }
}

/// Resident memory of process `pid`, in bytes.
pub fn rss_bytes_of(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/<pid>/status")
        * 1024
}

/// CPU time used by process `pid` (`"self"` for the bench), in seconds: the
/// sum over its threads of the scheduler's own count (nanoseconds, in
/// `/proc/<pid>/task/<tid>/schedstat`), finer than the tick-based `stat`.
pub fn cpu_seconds_of(pid: &str) -> f64 {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let nanos: u64 = threads
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}
