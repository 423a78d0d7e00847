#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_fuzz::handshake_request(data));
