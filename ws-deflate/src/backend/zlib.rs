//! zlib-rs through its zlib C API (`libz-rs-sys`, the zlib-rs project's
//! own interface, called from Rust): the one interface that exposes
//! everything this crate needs — memLevel, `deflateTune`, and getting and
//! setting the LZ77 window of both directions (context hibernation) —
//! without keeping a second copy of the window.
//!
//! Each stream lives in a `Box` (zlib's state points back at its
//! `z_stream`, so it must not move) and is ended on drop. All unsafe code of
//! the crate is here; every call passes pointers to live buffers with their
//! exact lengths.

use std::mem::MaybeUninit;

use libz_rs_sys as z;

use super::BackendError;

const Z_OK: i32 = 0;
const Z_STREAM_END: i32 = 1;
const Z_BUF_ERROR: i32 = -5;
#[cfg(not(feature = "zlib-c"))]
const Z_SYNC_FLUSH: i32 = 2;
const Z_NO_FLUSH: i32 = 0;
#[cfg(not(feature = "zlib-c"))]
const Z_DEFLATED: i32 = 8;
#[cfg(not(feature = "zlib-c"))]
const Z_DEFAULT_STRATEGY: i32 = 0;
/// The largest window: 32 KiB is always enough for a dictionary.
const MAX_WINDOW: usize = 1 << 15;

fn message(s: &z::z_stream, rc: i32) -> String {
    if s.msg.is_null() {
        format!("zlib-rs error {rc}")
    } else {
        // SAFETY: zlib-rs sets `msg` to a static NUL-terminated string.
        let m = unsafe { std::ffi::CStr::from_ptr(s.msg) };
        m.to_string_lossy().into_owned()
    }
}

/// Input and output of one call: at most `u32::MAX` bytes each way.
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// With `zlib-c` the compressor is C zlib's (module `zlib_c`).
#[cfg(not(feature = "zlib-c"))]
super::zlib_api::zlib_api_deflate!();

#[cfg(not(feature = "zlib-c"))]
fn new_stream() -> z::z_stream {
    z::z_stream::default()
}

#[cfg(not(feature = "zlib-c"))]
/// zlib's `deflateGetDictionary` (a const stream pointer in zlib-rs).
///
/// # Safety
/// `buf` must have room for 32 KiB.
unsafe fn get_dictionary(s: *const z::z_stream, buf: *mut u8, len: *mut u32) -> i32 {
    // SAFETY: as the caller promised.
    unsafe { z::deflateGetDictionary(s, buf, len) }
}

/// A raw-DEFLATE decompressor with a 15-bit window.
pub(super) struct RawInflate {
    s: Box<z::z_stream>,
}

// SAFETY: as for `RawDeflate`.
unsafe impl Send for RawInflate {}

impl RawInflate {
    pub(super) fn new() -> Self {
        let mut s = Box::new(z::z_stream::default());
        // SAFETY: as in `RawDeflate::new`.
        let rc = unsafe {
            z::inflateInit2_(
                &mut *s,
                -15,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as i32,
            )
        };
        assert_eq!(rc, Z_OK, "inflateInit2 failed: {rc}");
        Self { s }
    }

    pub(super) fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { z::inflateReset(&mut *self.s) };
    }

    /// Inflate `input` into `out`. Returns (consumed, produced, stream end).
    pub(super) fn step(
        &mut self,
        input: &[u8],
        out: &mut [MaybeUninit<u8>],
    ) -> Result<(usize, usize, bool), BackendError> {
        let s = &mut *self.s;
        let (avail_in, avail_out) = (clamp(input.len()), clamp(out.len()));
        s.next_in = input.as_ptr();
        s.avail_in = avail_in;
        s.next_out = out.as_mut_ptr().cast();
        s.avail_out = avail_out;
        // SAFETY: as in `RawDeflate::step`.
        let rc = unsafe { z::inflate(s, Z_NO_FLUSH) };
        let consumed = (avail_in - s.avail_in) as usize;
        let produced = (avail_out - s.avail_out) as usize;
        s.next_in = std::ptr::null();
        s.next_out = std::ptr::null_mut();
        match rc {
            Z_OK | Z_BUF_ERROR => Ok((consumed, produced, false)),
            Z_STREAM_END => Ok((consumed, produced, true)),
            rc => Err(BackendError::Corrupt(format!(
                "invalid DEFLATE stream (zlib-rs: {})",
                message(s, rc)
            ))),
        }
    }

    /// Prime with `window` (the peer's last bytes).
    pub(super) fn set_dictionary(&mut self, window: &[u8]) -> Result<(), BackendError> {
        let tail = &window[window.len().saturating_sub(MAX_WINDOW)..];
        // SAFETY: `tail` is a live buffer of the given length.
        let rc = unsafe { z::inflateSetDictionary(&mut *self.s, tail.as_ptr(), tail.len() as u32) };
        if rc == Z_OK {
            Ok(())
        } else {
            Err(BackendError::Compress(message(&self.s, rc)))
        }
    }

    /// The window: the last bytes inflated (at most 32 KiB).
    pub(super) fn dictionary(&self) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_WINDOW];
        let mut len: u32 = 0;
        // SAFETY: `buf` holds 32 KiB, always enough; `len` is a valid u32.
        let rc = unsafe { z::inflateGetDictionary(&*self.s, buf.as_mut_ptr(), &mut len) };
        if rc != Z_OK {
            return Vec::new();
        }
        buf.truncate((len as usize).min(MAX_WINDOW));
        buf
    }
}

impl Drop for RawInflate {
    fn drop(&mut self) {
        // SAFETY: an initialised stream, ended once.
        unsafe { z::inflateEnd(&mut *self.s) };
    }
}
