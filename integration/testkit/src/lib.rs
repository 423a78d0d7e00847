//! Test support shared by the hostile suites of `wsx` (the blocking client
//! against hostile servers) and `wsx-cli` (hostile clients against
//! `wsx serve`): [`wire`], a raw WebSocket peer that shares nothing with
//! the engine under test except permessage-deflate's codec; and [`serve`],
//! a `wsx serve` child process for the command's tests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod serve;
pub mod wire;
