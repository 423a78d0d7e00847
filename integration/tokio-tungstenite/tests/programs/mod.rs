//! Programs written against tokio-tungstenite 0.30's documented API only
//! (`use tokio_tungstenite::...`, as its users write them, after its
//! examples). They must compile unchanged against the real crate; here they
//! compile against wsx-tokio-tungstenite.

pub mod autobahn_client;
pub mod autobahn_server;
pub mod chat_server;
pub mod echo_server;
pub mod header_server;
pub mod interval_server;
pub mod stdin_client;
