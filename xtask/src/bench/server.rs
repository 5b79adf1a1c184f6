//! The server under test: the release binary, started on a free port against a fresh
//! database, and stopped when dropped — on success and on error alike.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::Client;
use crate::Result;

/// The release build has to be started and migrate a fresh database; PostgreSQL
/// migrations on a busy 2-core machine take a few seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// `actix` finishes in-flight requests on SIGTERM; after this it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds `llmlab-server` in release mode and returns the binary's path.
pub fn build_release(target_dir: &Path) -> Result<PathBuf> {
    let mut cmd = crate::cargo();
    cmd.args(["build", "--release", "-p", "llmlab-server"]);
    crate::run(cmd)?;
    let bin = target_dir.join("release").join("llmlab-server");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} is missing after the build", bin.display()))
    }
}

/// A copy of `bin` that this run alone uses (in `target/bench/`; the caller removes it):
/// a build from another checkout sharing the target directory during a long run would
/// otherwise replace the server between two of its starts.
pub fn private_copy(bin: &Path, target_dir: &Path) -> Result<PathBuf> {
    let dir = target_dir.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let copy = dir.join(format!("llmlab-server-{}", std::process::id()));
    std::fs::copy(bin, &copy).map_err(|e| format!("cannot copy {}: {e}", bin.display()))?;
    Ok(copy)
}

/// Settings the benchmark imposes on the server; everything else (pool size, log
/// level, body limit, …) comes from the caller's environment or the defaults, and is
/// reported with the figures.
pub struct Launch<'a> {
    pub bin: &'a Path,
    pub database_url: &'a str,
    /// Working directory (so no stray `.env` is read) and home of `server.log`.
    pub dir: &'a Path,
    /// Settings of the part itself (`LLMLAB_…`), over the ones above.
    pub env: &'a [(&'a str, &'a str)],
}

/// A running server; SIGTERM then SIGKILL on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    pub fn start(launch: &Launch<'_>) -> Result<Server> {
        let addr = free_port()?;
        let log = launch.dir.join("server.log");
        let log_file =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot reuse {}: {e}", log.display()))?;
        let mut cmd = Command::new(launch.bin);
        cmd.current_dir(launch.dir)
            .env("DATABASE_URL", launch.database_url)
            .env("LLMLAB_BIND", addr.to_string())
            .env("LLMLAB_ENV", "development")
            // Given, so the development server writes no secret file anywhere.
            .env("LLMLAB_JWT_SECRET", random_secret())
            // Only the one sign-up hashes a password; the lowest cost keeps set-up short.
            .env("LLMLAB_BCRYPT_COST", "10")
            .env("RUST_LOG", server_log_level())
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.bin.display()))?;
        let mut server = Server { child, addr, log };
        server.wait_until_healthy()?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut client = Client::new(self.addr, None);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the server exited during start-up ({status}); its log ends with:\n{}",
                    self.log_tail()
                ));
            }
            if matches!(client.call("GET", "/api/health", None), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not answer /api/health within {START_TIMEOUT:?}; its log ends with:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server's output, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The last error lines of the server's log, for requests it answered with 500.
    pub fn logged_errors(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `error`, followed by the end of the server's log, which usually says why.
    pub fn explain(&self, error: String) -> String {
        format!("{error}\nthe server log ends with:\n{}", self.log_tail())
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // `kill(1)`: the workspace forbids the `unsafe` a direct libc call would need.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The server's log filter: the caller's `RUST_LOG`, else `warn`. The shipped default
/// (`info`) writes one access-log line per request, which would be measured too; set
/// `RUST_LOG=info` to include it.
pub fn server_log_level() -> String {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "warn".into())
}

/// A port nobody listens on right now (the OS picks it; the listener is closed at once).
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

fn random_secret() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}

/// Signs up a new user and creates an API key; returns the key, the credential the
/// benchmark sends as `Authorization: Bearer`, as an ingesting service would.
/// A signed-up account: its session token (for what people do) and an ingestion key.
pub struct Account {
    /// The address signed up with.
    pub email: String,
    /// Session token.
    pub token: String,
    /// API key with the `ingest` scope.
    pub key: String,
}

pub fn sign_up(addr: SocketAddr) -> Result<Account> {
    let email = format!("bench-{:08x}@example.com", rand::random::<u32>());
    let credentials = serde_json::json!({"email": email, "password": "benchmark-password"});
    let mut anonymous = Client::new(addr, None);
    let session = expect_json(
        anonymous.call(
            "POST",
            "/api/auth/signup",
            Some(credentials.to_string().as_bytes()),
        )?,
        201,
        "POST /api/auth/signup",
    )?;
    let token = json_str(&session, "token")?;
    let mut user = Client::new(addr, Some(&token));
    let key = expect_json(
        // Both scopes: the analytics and re-pricing parts read with the same key.
        user.call(
            "POST",
            "/api/keys",
            Some(br#"{"name":"benchmark","scopes":["ingest","read"]}"#),
        )?,
        201,
        "POST /api/keys",
    )?;
    Ok(Account {
        key: json_str(&key, "key")?,
        token,
        email,
    })
}

/// The JSON body of a response that must have status `want`.
pub fn expect_json(
    (status, body): (u16, String),
    want: u16,
    what: &str,
) -> Result<serde_json::Value> {
    if status != want {
        return Err(format!("{what}: expected {want}, got {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{what}: invalid JSON ({e}): {body}"))
}

fn json_str(v: &serde_json::Value, field: &str) -> Result<String> {
    v.get(field)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("no string '{field}' in {v}"))
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident now, KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far, KiB.
    pub peak_kib: u64,
}

pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(parse_memory(&status))
}

fn parse_memory(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_proc_status() {
        let m = super::parse_memory("Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n");
        assert_eq!((m.rss_kib, m.peak_kib), (10240, 20480));
    }
}
