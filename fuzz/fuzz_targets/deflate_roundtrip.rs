#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_fuzz::deflate_roundtrip(data));
