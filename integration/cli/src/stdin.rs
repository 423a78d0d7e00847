//! Standard input as text lines, for `wsx client` (plain and mux).

use tokio::io::{AsyncBufReadExt, BufReader};

/// Stdin as text lines: each line without its `\n` or `\r\n`.
pub struct StdinLines {
    stdin: BufReader<tokio::io::Stdin>,
    buf: Vec<u8>,
    number: u64,
}

impl StdinLines {
    /// Read the process's standard input.
    pub fn new() -> Self {
        Self {
            stdin: BufReader::new(tokio::io::stdin()),
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The next line, or `None` at the end of input (or on a read error,
    /// reported on stderr). A text message must be UTF-8: a line that is
    /// not is sent with U+FFFD replacements, and stderr says so.
    pub async fn next(&mut self) -> Option<String> {
        self.buf.clear();
        match self.stdin.read_until(b'\n', &mut self.buf).await {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                eprintln!("stdin: {e}");
                return None;
            }
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!(
                    "stdin line {} is not UTF-8: sent with U+FFFD replacements",
                    self.number
                );
                Some(String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        }
    }
}
