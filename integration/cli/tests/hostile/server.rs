//! The server under test: the real `wsx serve` binary, one process per
//! test, on a free loopback port. A separate process keeps memory and file
//! descriptor figures per server (read from /proc) and lets tests run in
//! parallel.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `wsx serve`, killed on drop.
pub struct Server {
    child: Child,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Server {
    /// Start `wsx serve --listen 127.0.0.1:0` with extra flags and wait for
    /// its `listening on ws://IP:PORT` line.
    pub fn start(args: &[&str]) -> Server {
        Self::try_start(args).unwrap_or_else(|e| panic!("wsx serve {args:?}: {e}"))
    }

    /// Like [`Server::start`], with the failure as a value (for flags that
    /// may not exist yet).
    pub fn try_start(args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsx"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("HOSTILE_LOG").unwrap_or_else(|_| "off".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("HOSTILE_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::piped()
            })
            .spawn()
            .map_err(|e| format!("cannot spawn: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("listening on ws://") else {
            let _ = child.kill();
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "no `listening on` line (got {line:?}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        };
        let addr = url
            .parse()
            .map_err(|e| format!("bad address {url:?}: {e}"))?;
        Ok(Server { child, addr })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_kib(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        s.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Peak resident set size so far, KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// Open file descriptors (sockets included).
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Wait until `f` holds, polling, for at most `limit`. Returns whether
    /// it held.
    pub fn wait_for(&self, limit: Duration, mut f: impl FnMut(&Self) -> bool) -> bool {
        let end = std::time::Instant::now() + limit;
        loop {
            if f(self) {
                return true;
            }
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
