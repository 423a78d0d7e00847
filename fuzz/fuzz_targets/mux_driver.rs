#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsx_fuzz::mux_driver(data));
