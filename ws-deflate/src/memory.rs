//! Memory per connection, measured (figures filled in by `examples/memory.rs`).
