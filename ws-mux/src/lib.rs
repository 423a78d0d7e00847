//! ws-mux (in progress).
