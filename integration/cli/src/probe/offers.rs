//! The `Sec-WebSocket-Extensions` offers `wsx probe` tries, in order.

/// Every offer tried, one handshake each. The empty string stands for a
/// handshake that offers no extension at all (no header is sent).
pub fn offers() -> Vec<String> {
    let pmd = "permessage-deflate";
    let mut v = vec![
        String::new(),
        pmd.to_owned(),
        format!("{pmd}; client_max_window_bits"),
        format!("{pmd}; server_no_context_takeover"),
        format!("{pmd}; client_no_context_takeover"),
    ];
    for n in [8, 9, 10, 12, 15] {
        v.push(format!("{pmd}; server_max_window_bits={n}"));
    }
    for n in [8, 9, 10, 12, 15] {
        v.push(format!("{pmd}; client_max_window_bits={n}"));
    }
    v.push(format!(
        "{pmd}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10"
    ));
    v.push(format!(
        "{pmd}; server_max_window_bits=10, {pmd}; client_max_window_bits, {pmd}"
    ));
    // Invalid offers (RFC 7692 section 5: a server declines them): a window
    // size out of range and an unknown parameter.
    v.push(format!("{pmd}; server_max_window_bits=7"));
    v.push(format!("{pmd}; x-unknown-parameter"));
    v.push("deflate-frame".to_owned());
    v.push("x-webkit-deflate-frame".to_owned());
    v.push("mux".to_owned());
    v.push("mux_DO_NOT_USE".to_owned());
    v.push("x-unknown-extension; foo=bar".to_owned());
    v
}
