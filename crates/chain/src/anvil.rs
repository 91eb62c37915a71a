//! A private anvil node for tests (feature `test-support`): the binary from
//! the npm package `@foundry-rs/anvil-linux-amd64` (installed into
//! `contracts/node_modules` by `scripts/bootstrap.sh`) or `$ANVIL`, on a free
//! port, killed on drop. Its state can be kept in a file so a node stopped
//! mid-test comes back with the same chain.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder};

/// Anvil's first development account (funded on every anvil chain; never
/// use it anywhere else).
pub const DEV_PRIVATE_KEY: &str = crate::PUBLIC_DEV_KEYS[0];

/// Where the anvil binary is.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ANVIL") {
        return Some(PathBuf::from(path));
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    bundled.is_file().then_some(bundled)
}

/// A running anvil node.
#[derive(Debug)]
pub struct AnvilNode {
    child: Option<Child>,
    port: u16,
    state: Option<PathBuf>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl AnvilNode {
    /// Starts a node on a free port; `state` keeps the chain in that file
    /// across [`Self::stop`] / [`Self::restart`].
    pub async fn start(state: Option<PathBuf>) -> std::io::Result<Self> {
        let mut node = Self {
            child: None,
            port: free_port()?,
            state,
        };
        node.spawn().await?;
        Ok(node)
    }

    async fn spawn(&mut self) -> std::io::Result<()> {
        let binary = binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "anvil not found: run scripts/bootstrap.sh (npm ci in contracts/) or set ANVIL",
            )
        })?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &self.port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(state) = &self.state {
            command.arg("--state").arg(state);
        }
        self.child = Some(command.spawn()?);
        let provider = ProviderBuilder::new().connect_http(
            self.url()
                .parse()
                .map_err(|e| std::io::Error::other(format!("{e}")))?,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if provider.get_block_number().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(std::io::Error::other("anvil did not answer within 20 s"))
    }

    /// The JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the node (SIGTERM, so it writes its state file).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (and state file).
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.spawn().await
    }
}

impl Drop for AnvilNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
