//! What `wsx ratio` compresses: the built-in corpora at each `--sizes`
//! size, or the user's files.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use wsx_corpus::{self as corpus, Kind};

/// Smallest message of the `mixed` size mode.
pub const MIXED_MIN: usize = 200;
/// Largest message of the `mixed` size mode.
pub const MIXED_MAX: usize = 4096;
/// Most messages generated per built-in input.
const MAX_MESSAGES: usize = 4096;
/// Corpus seed (the same bytes on every run).
const SEED: u64 = 11;

/// A `--sizes` entry: one message size, or `mixed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Every message this many bytes.
    Fixed(usize),
    /// Sizes spread from [`MIXED_MIN`] to [`MIXED_MAX`] bytes.
    Mixed,
}

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("mixed") {
            return Ok(Size::Mixed);
        }
        match s.parse::<usize>() {
            Ok(0) => Err("a message size must be at least 1".to_owned()),
            Ok(n) => Ok(Size::Fixed(n)),
            Err(_) => Err(format!("{s:?} is neither a byte count nor `mixed`")),
        }
    }
}

impl Size {
    /// The name used in input names (`256B`, `4KiB`, `mixed`).
    pub fn name(self) -> String {
        match self {
            Size::Mixed => "mixed".to_owned(),
            Size::Fixed(n) if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
            Size::Fixed(n) if n >= 1024 && n % 1024 == 0 => format!("{}KiB", n >> 10),
            Size::Fixed(n) => format!("{n}B"),
        }
    }
}

/// One input: a sequence of messages sent in order on a connection.
pub struct Input {
    /// `kind/size` or the path given.
    pub name: String,
    /// The messages.
    pub messages: Vec<Vec<u8>>,
    /// Sent as text frames (else binary).
    pub text: bool,
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else if meta.is_file() {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// The built-in corpora (every kind at every size, `total` bytes of
/// messages each) when `paths` is empty, else one input per path: a file
/// is one message (or `split`-byte pieces), a directory each file under it.
pub fn load(
    paths: &[PathBuf],
    sizes: &[Size],
    total: usize,
    split: Option<usize>,
) -> Result<Vec<Input>, String> {
    if paths.is_empty() {
        let mut v = Vec::new();
        for kind in Kind::ALL {
            for &size in sizes {
                let messages = match size {
                    Size::Fixed(n) => corpus::batch(kind, n, total, MAX_MESSAGES, SEED),
                    Size::Mixed => {
                        corpus::mixed(kind, MIXED_MIN, MIXED_MAX, total, MAX_MESSAGES, SEED)
                    }
                };
                v.push(Input {
                    name: format!("{}/{}", kind.name(), size.name()),
                    messages,
                    text: kind.is_text(),
                });
            }
        }
        return Ok(v);
    }
    let mut v = Vec::new();
    for p in paths {
        let mut files = Vec::new();
        collect_files(p, &mut files)?;
        let mut messages = Vec::new();
        for f in files {
            let data = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            match split {
                Some(n) if n > 0 => messages.extend(data.chunks(n).map(<[u8]>::to_vec)),
                _ => messages.push(data),
            }
        }
        if messages.is_empty() {
            return Err(format!("{}: no files", p.display()));
        }
        let text = messages.iter().all(|m| std::str::from_utf8(m).is_ok());
        v.push(Input {
            name: p.display().to_string(),
            messages,
            text,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!("mixed".parse::<Size>(), Ok(Size::Mixed));
        assert_eq!(" 4096".parse::<Size>(), Ok(Size::Fixed(4096)));
        assert!("0".parse::<Size>().is_err());
        assert!("big".parse::<Size>().is_err());
        assert_eq!(Size::Fixed(65536).name(), "64KiB");
        assert_eq!(Size::Fixed(300).name(), "300B");
    }
}
