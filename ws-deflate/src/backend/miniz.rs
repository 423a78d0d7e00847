//! miniz_oxide through flate2 (feature `miniz` without `zlib-rs`): always
//! a 32 KiB compressor window, no memLevel, no tuning, no dictionaries (so
//! no context hibernation).

use std::mem::MaybeUninit;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::BackendError;

/// A raw-DEFLATE compressor.
pub(super) struct RawDeflate {
    z: Compress,
}

impl RawDeflate {
    /// miniz_oxide ignores `bits` (always 15) and `mem_level`.
    pub(super) fn new(level: u32, _bits: u8, _mem_level: u8) -> Self {
        Self {
            z: Compress::new(Compression::new(level), false),
        }
    }

    pub(super) fn reset(&mut self) {
        self.z.reset();
    }

    /// No tuning knobs: nothing to do.
    pub(super) fn tune(&mut self, _good: u16, _lazy: u16, _nice: u16, _chain: u16) {}

    pub(super) fn step(
        &mut self,
        input: &[u8],
        out: &mut [MaybeUninit<u8>],
    ) -> Result<(usize, usize), BackendError> {
        let (in0, out0) = (self.z.total_in(), self.z.total_out());
        self.z
            .compress_uninit(input, out, FlushCompress::Sync)
            .map_err(|e| BackendError::Compress(e.to_string()))?;
        Ok((
            (self.z.total_in() - in0) as usize,
            (self.z.total_out() - out0) as usize,
        ))
    }

    pub(super) fn set_dictionary(&mut self, _window: &[u8]) -> Result<(), BackendError> {
        Err(BackendError::Compress(
            "miniz_oxide cannot set a dictionary".to_owned(),
        ))
    }

    pub(super) fn dictionary(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// A raw-DEFLATE decompressor (32 KiB window).
pub(super) struct RawInflate {
    d: Decompress,
}

impl RawInflate {
    pub(super) fn new() -> Self {
        Self {
            d: Decompress::new(false),
        }
    }

    pub(super) fn reset(&mut self) {
        self.d.reset(false);
    }

    pub(super) fn step(
        &mut self,
        input: &[u8],
        out: &mut [MaybeUninit<u8>],
    ) -> Result<(usize, usize, bool), BackendError> {
        let (in0, out0) = (self.d.total_in(), self.d.total_out());
        let status = self
            .d
            .decompress_uninit(input, out, FlushDecompress::None)
            .map_err(|e| {
                BackendError::Corrupt(match e.message() {
                    Some(m) => format!("invalid DEFLATE stream (miniz_oxide: {m})"),
                    None => format!("invalid DEFLATE stream ({e})"),
                })
            })?;
        Ok((
            (self.d.total_in() - in0) as usize,
            (self.d.total_out() - out0) as usize,
            status == Status::StreamEnd,
        ))
    }

    pub(super) fn set_dictionary(&mut self, _window: &[u8]) -> Result<(), BackendError> {
        Err(BackendError::Compress(
            "miniz_oxide cannot set a dictionary".to_owned(),
        ))
    }

    pub(super) fn dictionary(&self) -> Vec<u8> {
        Vec::new()
    }
}
