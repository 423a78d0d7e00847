//! The compressor on C zlib (feature `zlib-c`: `libz-sys`, built from its
//! bundled zlib source): its hash table is sized by memLevel
//! (`2^(memLevel+7)` entries) where zlib-rs' is a fixed 64 Ki entries
//! (128 KiB), so a busy server's compressors touch far less memory per
//! message. The decompressor stays zlib-rs (module `zlib`: SIMD inflate).
//! Same contract as `zlib::RawDeflate`.

use std::mem::MaybeUninit;

use libz_sys as z;

use super::BackendError;

const Z_OK: i32 = 0;
const Z_BUF_ERROR: i32 = -5;
const Z_SYNC_FLUSH: i32 = 2;
const Z_DEFLATED: i32 = 8;
const Z_DEFAULT_STRATEGY: i32 = 0;
const MAX_WINDOW: usize = 1 << 15;

extern "C" {
    // In zlib since 1.2.9 (libz-sys builds 1.3), not declared by libz-sys.
    fn deflateGetDictionary(
        strm: z::z_streamp,
        dictionary: *mut u8,
        dict_length: *mut z::uInt,
    ) -> libc::c_int;
}

unsafe extern "C" fn zalloc(_opaque: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
    // SAFETY: calloc with zlib's item count and size (0 on overflow/failure,
    // which zlib reports as Z_MEM_ERROR).
    unsafe { libc::calloc(items as libc::size_t, size as libc::size_t) }
}

unsafe extern "C" fn zfree(_opaque: z::voidpf, ptr: z::voidpf) {
    // SAFETY: `ptr` came from `zalloc` (or is null).
    unsafe { libc::free(ptr) }
}

fn new_stream() -> z::z_stream {
    z::z_stream {
        next_in: std::ptr::null_mut(),
        avail_in: 0,
        total_in: 0,
        next_out: std::ptr::null_mut(),
        avail_out: 0,
        total_out: 0,
        msg: std::ptr::null_mut(),
        state: std::ptr::null_mut(),
        zalloc,
        zfree,
        opaque: std::ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    }
}

fn message(s: &z::z_stream, rc: i32) -> String {
    if s.msg.is_null() {
        format!("zlib error {rc}")
    } else {
        // SAFETY: zlib sets `msg` to a static NUL-terminated string.
        let m = unsafe { std::ffi::CStr::from_ptr(s.msg) };
        m.to_string_lossy().into_owned()
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

super::zlib_api::zlib_api_deflate!();

/// zlib's `deflateGetDictionary`.
///
/// # Safety
/// `buf` must have room for 32 KiB.
unsafe fn get_dictionary(s: *const z::z_stream, buf: *mut u8, len: *mut u32) -> i32 {
    // SAFETY: as the caller promised; zlib only reads the stream here.
    unsafe { deflateGetDictionary(s.cast_mut(), buf, len) }
}
