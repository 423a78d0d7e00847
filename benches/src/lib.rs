//! Benchmarks and reports (in progress).
