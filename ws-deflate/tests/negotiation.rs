//! Every row of the RFC 7692 §7.1 decision tables (specs §B.2), both roles,
//! through the table functions and through the ws-ext-core negotiators.

use ws_deflate::negotiate::{client_validate, server_respond_with, DeclineReason, ResponseError};
use ws_deflate::{
    ClientMaxWindowBits as Cmwb, DeflateConfig, OfferParams, ParamError, PerMessageDeflateClient,
    PerMessageDeflateServer, ResponseParams,
};
use ws_ext_core::{ClientNegotiator, NegotiationError, ServerNegotiator};

fn offer(snct: bool, cnct: bool, smwb: Option<u8>, cmwb: Cmwb) -> OfferParams {
    OfferParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    }
}

fn resp(snct: bool, cnct: bool, smwb: Option<u8>, cmwb: Option<u8>) -> ResponseParams {
    ResponseParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    }
}

/// The table itself, for a backend that can limit its window.
fn table(o: &OfferParams, c: &DeflateConfig) -> Result<ws_deflate::Agreement, DeclineReason> {
    server_respond_with(o, c, true)
}

fn cfg() -> DeflateConfig {
    DeflateConfig::default()
}

// ---------------------------------------------------------------- server

#[test]
fn server_no_context_takeover_is_offered_or_config() {
    for (offered, config, want) in [
        (false, false, false),
        (false, true, true),
        (true, false, true),
        (true, true, true),
    ] {
        let c = cfg().with_server_no_context_takeover(config);
        let a = table(&offer(offered, false, None, Cmwb::Absent), &c).unwrap();
        assert_eq!(
            a.response.server_no_context_takeover, want,
            "offered {offered} config {config}"
        );
        assert_eq!(a.send_no_context_takeover, want);
    }
}

#[test]
fn client_no_context_takeover_is_config_and_the_hint_never_resets_the_server() {
    for (hint, config) in [(false, false), (false, true), (true, false), (true, true)] {
        let c = cfg().with_client_no_context_takeover(config);
        let a = table(&offer(false, hint, None, Cmwb::Absent), &c).unwrap();
        assert_eq!(a.response.client_no_context_takeover, config);
        // The receiver resets only when the response binds the client: the
        // offer's parameter is a hint some clients (Autobahn) do not keep.
        assert_eq!(a.recv_no_context_takeover, config, "hint {hint}");
    }
}

#[test]
fn server_max_window_bits_rows() {
    // (config, offered, response)
    let rows = [
        (None, None, None),
        (None, Some(10), Some(10)),
        (None, Some(8), Some(8)),
        (Some(12), None, Some(12)),
        (Some(12), Some(10), Some(10)),
        (Some(12), Some(12), Some(12)),
        (Some(12), Some(14), Some(12)),
        (Some(9), Some(15), Some(9)),
    ];
    for (config, offered, want) in rows {
        let c = cfg().with_server_max_window_bits(config);
        let a = table(&offer(false, false, offered, Cmwb::Absent), &c).unwrap();
        assert_eq!(
            a.response.server_max_window_bits, want,
            "config {config:?} offered {offered:?}"
        );
        assert_eq!(a.send_window_bits, want.unwrap_or(15));
    }
}

#[test]
fn client_max_window_bits_rows() {
    // (config, offered, response)
    let rows = [
        (None, Cmwb::Absent, None),
        (None, Cmwb::Bare, None),
        (None, Cmwb::Value(11), Some(11)),
        (Some(10), Cmwb::Absent, None),
        (Some(10), Cmwb::Bare, Some(10)),
        (Some(10), Cmwb::Value(9), Some(9)),
        (Some(10), Cmwb::Value(10), Some(10)),
        (Some(10), Cmwb::Value(13), Some(10)),
        (Some(8), Cmwb::Bare, Some(8)),
    ];
    for (config, offered, want) in rows {
        let c = cfg().with_client_max_window_bits(config);
        let a = table(&offer(false, false, None, offered), &c).unwrap();
        assert_eq!(
            a.response.client_max_window_bits, want,
            "config {config:?} offered {offered:?}"
        );
    }
}

#[test]
fn server_without_window_limiting_backend_declines_small_server_window() {
    let e = server_respond_with(&offer(false, false, Some(10), Cmwb::Absent), &cfg(), false)
        .unwrap_err();
    assert_eq!(e, DeclineReason::CannotLimitWindow(10));
    assert!(
        server_respond_with(&offer(false, false, Some(15), Cmwb::Absent), &cfg(), false).is_ok()
    );
}

fn server() -> ServerNegotiator {
    ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()))
}

fn server_response(s: &ServerNegotiator, header: &str) -> Option<String> {
    s.negotiate([header.as_bytes()]).unwrap().response_header()
}

#[test]
fn server_declines_invalid_offers() {
    let s = server();
    for bad in [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=08",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=true",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; Server_No_Context_Takeover",
    ] {
        assert_eq!(server_response(&s, bad), None, "{bad} should be declined");
        // ...and the next offer is then tried.
        let two = format!("{bad}, permessage-deflate; client_max_window_bits");
        assert_eq!(
            server_response(&s, &two).as_deref(),
            Some("permessage-deflate"),
            "{two}"
        );
    }
}

#[cfg(feature = "zlib-rs")]
#[test]
fn server_takes_first_acceptable_offer() {
    let s = server();
    assert_eq!(
        server_response(
            &s,
            "permessage-deflate; server_max_window_bits=10, permessage-deflate"
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    assert_eq!(
        server_response(
            &s,
            "x-unknown, permessage-deflate; client_max_window_bits=12, permessage-deflate"
        )
        .as_deref(),
        Some("permessage-deflate; client_max_window_bits=12")
    );
    // Quoted values are the same as tokens.
    assert_eq!(
        server_response(&s, "permessage-deflate; server_max_window_bits=\"10\"").as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    // Case-insensitive extension name.
    assert!(server_response(&s, "PerMessage-Deflate").is_some());
}

/// Autobahn 13.x offers (autobahn 0.10.9 adds client_no_context_takeover
/// and client_max_window_bits to every offer).
#[cfg(feature = "zlib-rs")]
#[test]
fn server_accepts_autobahn_13_offers() {
    let s = server();
    let base = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    let cases = [
        (base.to_string(), "permessage-deflate"),
        (format!("{base}; server_no_context_takeover"), "permessage-deflate; server_no_context_takeover"),
        (format!("{base}; server_max_window_bits=9"), "permessage-deflate; server_max_window_bits=9"),
        (format!("{base}; server_max_window_bits=15"), "permessage-deflate; server_max_window_bits=15"),
        (
            format!("{base}; server_no_context_takeover; server_max_window_bits=9"),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        ),
        (
            format!("{base}; server_no_context_takeover; server_max_window_bits=9, {base}; server_no_context_takeover, {base}"),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(server_response(&s, &req).as_deref(), Some(want), "{req}");
    }
    // With a server policy, as `wsx serve --server-max-window-bits 10 --client-max-window-bits 9`.
    let s = ServerNegotiator::new().with(PerMessageDeflateServer::new(
        cfg()
            .with_server_max_window_bits(Some(10))
            .with_client_max_window_bits(Some(9))
            .with_client_no_context_takeover(true),
    ));
    assert_eq!(
        server_response(&s, base).as_deref(),
        Some("permessage-deflate; server_max_window_bits=10; client_no_context_takeover; client_max_window_bits=9")
    );
    // The client did not offer client_max_window_bits: it must not appear.
    assert_eq!(
        server_response(&s, "permessage-deflate").as_deref(),
        Some("permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
    );
}

// ---------------------------------------------------------------- client

#[test]
fn client_server_no_context_takeover_rows() {
    // (offered, response, Ok(recv reset) or error)
    for (offered, r, want) in [
        (false, false, Some(false)),
        (false, true, Some(true)),
        (true, false, None),
        (true, true, Some(true)),
    ] {
        let got = client_validate(
            &offer(offered, false, None, Cmwb::Bare),
            &resp(r, false, None, None),
        );
        match want {
            Some(w) => assert_eq!(got.unwrap().recv_no_context_takeover, w),
            None => assert_eq!(
                got.unwrap_err(),
                ResponseError::ServerNoContextTakeoverMissing
            ),
        }
    }
}

#[test]
fn client_no_context_takeover_rows() {
    for (offered, r) in [(false, false), (false, true), (true, false), (true, true)] {
        let a = client_validate(
            &offer(false, offered, None, Cmwb::Bare),
            &resp(false, r, None, None),
        )
        .unwrap();
        assert_eq!(
            a.send_no_context_takeover,
            offered || r,
            "offered {offered} resp {r}"
        );
    }
}

#[test]
fn client_server_max_window_bits_rows() {
    // (offered, response, ok?)
    let rows = [
        (None, None, Ok(())),
        (None, Some(10), Ok(())),
        (
            Some(10),
            None,
            Err(ResponseError::ServerWindowMissing { offered: 10 }),
        ),
        (Some(10), Some(9), Ok(())),
        (Some(10), Some(10), Ok(())),
        (
            Some(10),
            Some(11),
            Err(ResponseError::ServerWindowTooLarge {
                offered: 10,
                got: 11,
            }),
        ),
    ];
    for (o, r, want) in rows {
        let got = client_validate(
            &offer(false, false, o, Cmwb::Bare),
            &resp(false, false, r, None),
        );
        assert_eq!(got.map(|_| ()), want, "offered {o:?} resp {r:?}");
    }
}

#[test]
fn client_client_max_window_bits_rows() {
    // (offered, response, our send window or error)
    let rows = [
        (Cmwb::Absent, None, Ok(15)),
        (
            Cmwb::Absent,
            Some(10),
            Err(ResponseError::ClientWindowNotOffered { got: 10 }),
        ),
        (Cmwb::Bare, None, Ok(15)),
        (Cmwb::Bare, Some(9), Ok(9)),
        (Cmwb::Bare, Some(8), Ok(8)),
        (Cmwb::Value(11), None, Ok(11)),
        (Cmwb::Value(11), Some(10), Ok(10)),
        (Cmwb::Value(11), Some(11), Ok(11)),
        (
            Cmwb::Value(11),
            Some(12),
            Err(ResponseError::ClientWindowTooLarge {
                offered: 11,
                got: 12,
            }),
        ),
    ];
    for (o, r, want) in rows {
        let got = client_validate(&offer(false, false, None, o), &resp(false, false, None, r));
        assert_eq!(
            got.map(|a| a.send_window_bits),
            want,
            "offered {o:?} resp {r:?}"
        );
    }
}

fn client(c: DeflateConfig) -> ClientNegotiator {
    ClientNegotiator::new().with(PerMessageDeflateClient::new(c))
}

fn rejected(r: Result<ws_ext_core::ExtensionStack, NegotiationError>) -> String {
    match r {
        Err(NegotiationError::Rejected { name, reason }) => {
            assert_eq!(name, "permessage-deflate");
            reason
        }
        other => panic!("expected rejection, got {other:?}"),
    }
}

#[test]
fn client_offers_as_configured() {
    assert_eq!(
        client(cfg()).offer_header().unwrap(),
        "permessage-deflate; client_max_window_bits"
    );
    let c = client(
        cfg()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(Some(10))
            .with_client_max_window_bits(Some(9))
            .with_fallback_offers(vec![OfferParams::default()]),
    );
    assert_eq!(
        c.offer_header().unwrap(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=9, permessage-deflate"
    );
}

#[test]
fn client_rejects_invalid_responses() {
    let c = client(cfg());
    for (bad, needle) in [
        (
            "permessage-deflate; client_max_window_bits",
            "needs a value",
        ),
        ("permessage-deflate; foo", "unknown parameter"),
        (
            "permessage-deflate; server_max_window_bits=08",
            "invalid value",
        ),
        (
            "permessage-deflate; server_max_window_bits=16",
            "invalid value",
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "more than once",
        ),
        (
            "permessage-deflate; client_no_context_takeover=x",
            "takes no value",
        ),
    ] {
        let reason = rejected(c.finish([bad.as_bytes()]));
        assert!(reason.contains(needle), "{bad}: {reason}");
    }
    // Accepting permessage-deflate twice.
    assert!(matches!(
        c.finish([&b"permessage-deflate, permessage-deflate"[..]]),
        Err(NegotiationError::Duplicate { .. })
    ));
    // An extension never offered.
    assert!(matches!(
        c.finish([&b"x-webkit-deflate-frame"[..]]),
        Err(NegotiationError::Unsolicited { .. })
    ));
}

#[test]
fn client_accepts_autobahn_server_responses() {
    let c = client(cfg());
    for r in [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9",
        "permessage-deflate; client_max_window_bits=15",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover; client_max_window_bits=9",
    ] {
        let stack = c.finish([r.as_bytes()]).unwrap_or_else(|e| panic!("{r}: {e}"));
        assert_eq!(stack.response_header().as_deref(), Some(r));
    }
}

#[test]
fn client_matches_response_against_fallback_offers() {
    let c = PerMessageDeflateClient::new(
        cfg()
            .with_client_max_window_bits(Some(10))
            .with_server_max_window_bits(Some(10))
            .with_fallback_offers(vec![offer(false, false, None, Cmwb::Absent)]),
    );
    let el = |s: &str| {
        ws_ext_core::header::parse([s.as_bytes()])
            .unwrap()
            .remove(0)
    };
    // Fits the first offer.
    let (i, a) = c
        .validate(&el("permessage-deflate; server_max_window_bits=9"))
        .unwrap();
    assert_eq!((i, a.send_window_bits), (0, 10));
    // Only the fallback allows no server_max_window_bits.
    let (i, a) = c.validate(&el("permessage-deflate")).unwrap();
    assert_eq!((i, a.send_window_bits), (1, 15));
    // Fits none (the fallback did not offer client_max_window_bits): the
    // error is the one against the preferred offer.
    let e = c
        .validate(&el(
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
        ))
        .unwrap_err();
    assert_eq!(
        e,
        ResponseError::ClientWindowTooLarge {
            offered: 10,
            got: 12
        }
    );
}

#[test]
fn param_errors_name_the_fault() {
    let e = OfferParams::parse(&[ws_ext_core::ExtensionParam::with_value(
        "server_max_window_bits",
        "08",
    )])
    .unwrap_err();
    assert!(matches!(e, ParamError::InvalidWindowBits { .. }));
    assert!(e.to_string().contains("server_max_window_bits"), "{e}");
}

#[test]
fn end_to_end_every_policy_pairs_up() {
    // Every client config against every server config: whatever the server
    // answers, the client accepts it.
    let bits = [None, Some(8), Some(9), Some(12), Some(15)];
    for snct in [false, true] {
        for cnct in [false, true] {
            for smwb in bits {
                for cmwb in bits {
                    let c = cfg()
                        .with_server_no_context_takeover(snct)
                        .with_client_no_context_takeover(cnct)
                        .with_server_max_window_bits(smwb)
                        .with_client_max_window_bits(cmwb);
                    let s = cfg()
                        .with_server_no_context_takeover(cnct)
                        .with_client_no_context_takeover(snct)
                        .with_server_max_window_bits(cmwb)
                        .with_client_max_window_bits(smwb);
                    let cn = client(c.clone());
                    let sn = ServerNegotiator::new().with(PerMessageDeflateServer::new(s));
                    let offer = cn.offer_header().unwrap();
                    let stack = sn.negotiate([offer.as_bytes()]).unwrap();
                    let Some(r) = stack.response_header() else {
                        // Only miniz_oxide declines: it cannot limit its window.
                        assert!(!ws_deflate::backend::can_compress_with(9));
                        assert!(smwb.is_some_and(|b| b < 15), "{offer} declined");
                        continue;
                    };
                    cn.finish([r.as_bytes()])
                        .unwrap_or_else(|e| panic!("{offer} -> {r}: {e}"));
                }
            }
        }
    }
}

/// miniz_oxide cannot limit its compressor window: 13.7's first offer
/// (server_max_window_bits=9) is declined and the second one wins.
#[cfg(not(feature = "zlib-rs"))]
#[test]
fn miniz_server_declines_window_limit_and_takes_next_offer() {
    let s = server();
    let base = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    let req = format!(
        "{base}; server_no_context_takeover; server_max_window_bits=9, {base}; server_no_context_takeover, {base}"
    );
    assert_eq!(
        server_response(&s, &req).as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    assert_eq!(
        server_response(&s, &format!("{base}; server_max_window_bits=15")).as_deref(),
        Some("permessage-deflate; server_max_window_bits=15")
    );
}
