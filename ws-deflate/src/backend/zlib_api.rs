//! What the two zlib-API backends (`zlib`: zlib-rs through `libz-rs-sys`;
//! `zlib_c`: C zlib through `libz-sys`) share: the compressor, written
//! once as a macro over the crate in scope as `z`.

/// The raw-DEFLATE compressor over a crate with zlib's C API, in scope as
/// `z` (`libz-rs-sys` in `zlib`, `libz-sys` in `zlib_c`), with the
/// calling module's `new_stream()`, `get_dictionary()`, `message()`,
/// `clamp()` and zlib constants. One body for both, so they cannot drift.
macro_rules! zlib_api_deflate {
    () => {
        /// A raw-DEFLATE compressor.
        pub(super) struct RawDeflate {
            s: Box<z::z_stream>,
        }

        // SAFETY: the stream owns its state exclusively (no shared pointers escape);
        // zlib state is plain memory that may move between threads.
        unsafe impl Send for RawDeflate {}

        impl RawDeflate {
            /// `bits` 9..=15, `level` 0..=9, `mem_level` 1..=9 (already clamped).
            pub(super) fn new(level: u32, bits: u8, mem_level: u8) -> Self {
                let mut s = Box::new(new_stream());
                // SAFETY: `s` is an allocator-configured stream, boxed so that it
                // never moves; the arguments are in range.
                let rc = unsafe {
                    z::deflateInit2_(
                        &mut *s,
                        level as i32,
                        Z_DEFLATED,
                        -i32::from(bits),
                        i32::from(mem_level),
                        Z_DEFAULT_STRATEGY,
                        z::zlibVersion(),
                        std::mem::size_of::<z::z_stream>() as i32,
                    )
                };
                // Only an allocation failure can fail here, which aborts anyway.
                assert_eq!(rc, Z_OK, "deflateInit2 failed: {rc}");
                Self { s }
            }

            pub(super) fn reset(&mut self) {
                // SAFETY: an initialised stream.
                unsafe { z::deflateReset(&mut *self.s) };
            }

            /// zlib's `deflateTune`.
            pub(super) fn tune(&mut self, good: u16, lazy: u16, nice: u16, chain: u16) {
                // SAFETY: an initialised stream.
                unsafe {
                    z::deflateTune(
                        &mut *self.s,
                        i32::from(good),
                        i32::from(lazy),
                        i32::from(nice),
                        i32::from(chain),
                    )
                };
            }

            /// Compress `input` with a sync flush into `out` (its spare capacity is
            /// the room). Returns (consumed, produced).
            pub(super) fn step(
                &mut self,
                input: &[u8],
                out: &mut [MaybeUninit<u8>],
            ) -> Result<(usize, usize), BackendError> {
                let s = &mut *self.s;
                let (avail_in, avail_out) = (clamp(input.len()), clamp(out.len()));
                s.next_in = input.as_ptr() as _;
                s.avail_in = avail_in;
                s.next_out = out.as_mut_ptr().cast();
                s.avail_out = avail_out;
                // SAFETY: next_in/next_out point to live buffers of the given
                // lengths; zlib writes only within `out`.
                let rc = unsafe { z::deflate(s, Z_SYNC_FLUSH) };
                let consumed = (avail_in - s.avail_in) as usize;
                let produced = (avail_out - s.avail_out) as usize;
                s.next_in = std::ptr::null_mut();
                s.next_out = std::ptr::null_mut();
                match rc {
                    Z_OK | Z_BUF_ERROR => Ok((consumed, produced)),
                    rc => Err(BackendError::Compress(message(s, rc))),
                }
            }

            /// Prime with `window` (after a reset, between flushes).
            pub(super) fn set_dictionary(&mut self, window: &[u8]) -> Result<(), BackendError> {
                let tail = &window[window.len().saturating_sub(MAX_WINDOW)..];
                // SAFETY: `tail` is a live buffer of the given length.
                let rc = unsafe {
                    z::deflateSetDictionary(&mut *self.s, tail.as_ptr(), tail.len() as u32)
                };
                if rc == Z_OK {
                    Ok(())
                } else {
                    Err(BackendError::Compress(message(&self.s, rc)))
                }
            }

            /// The LZ77 window: the last bytes the compressor consumed (at most its
            /// window size).
            pub(super) fn dictionary(&self) -> Vec<u8> {
                let mut buf = vec![0u8; MAX_WINDOW];
                let mut len: u32 = 0;
                // SAFETY: `buf` holds 32 KiB, always enough; `len` is a valid u32.
                let rc = unsafe { get_dictionary(&*self.s, buf.as_mut_ptr(), &mut len) };
                if rc != Z_OK {
                    return Vec::new();
                }
                buf.truncate((len as usize).min(MAX_WINDOW));
                buf
            }
        }

        impl Drop for RawDeflate {
            fn drop(&mut self) {
                // SAFETY: an initialised stream, ended once.
                unsafe { z::deflateEnd(&mut *self.s) };
            }
        }
    };
}
pub(super) use zlib_api_deflate;
