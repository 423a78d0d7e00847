//! A `wsx serve` child process for the CLI tests: started on a free
//! loopback port, its address read from its first line
//! (`listening on ws://IP:PORT` or `wss://…`), killed on drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `wsx serve`, killed (and reaped) on drop.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// `IP:PORT`.
    pub addr: String,
    /// `ws://IP:PORT/` or `wss://IP:PORT/`.
    pub url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `BIN serve --listen 127.0.0.1:0 ARGS...` and wait for its
/// `listening on` line. Panics (failing the test) if it does not print one.
pub fn serve<I, A>(bin: &str, args: I) -> Serve
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let addr = url
        .split_once("://")
        .map(|(_, a)| a.to_owned())
        .unwrap_or_else(|| panic!("no scheme in {url:?}"));
    assert!(!addr.ends_with(":0"), "{addr}");
    Serve {
        child,
        addr,
        url: format!("{url}/"),
    }
}
