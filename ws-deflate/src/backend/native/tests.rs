use quickcheck::{quickcheck, TestResult};

use super::NativeDeflate;
use crate::backend::Inflater;

/// Inflate one sync-flushed message with an independent decoder
/// (miniz_oxide), continuing `history`.
fn miniz_inflate(history: &[u8], z: &[u8]) -> Vec<u8> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    // Raw DEFLATE of the history as stored blocks, then the message: the
    // decoder sees one stream whose matches may reach into the history.
    let mut stream = Vec::new();
    for part in history.chunks(65_535) {
        let len = part.len() as u16;
        stream.push(0);
        stream.extend_from_slice(&len.to_le_bytes());
        stream.extend_from_slice(&(!len).to_le_bytes());
        stream.extend_from_slice(part);
    }
    stream.extend_from_slice(z);
    let mut out = vec![0u8; history.len() + z.len() * 1100 + 64];
    let mut d = DecompressorOxide::new();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
        | inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
    let (_, _, n) = decompress(&mut d, &stream, &mut out, 0, flags);
    out.truncate(n);
    out.split_off(history.len())
}

fn chat(seed: u64, n: usize) -> Vec<Vec<u8>> {
    wsx_corpus::messages(wsx_corpus::Kind::Chat, 600, n, seed)
}

/// Compress `msgs` as one context-takeover stream and check each message
/// with zlib-rs' inflater and miniz_oxide.
fn round_trip(level: u32, bits: u8, msgs: &[Vec<u8>]) -> usize {
    let mut c = NativeDeflate::new(level, bits);
    let mut inf = Inflater::new();
    let mut history = Vec::new();
    let mut total = 0;
    for m in msgs {
        let mut z = Vec::new();
        c.compress_sync(m, &mut z);
        assert!(z.ends_with(&[0, 0, 0xff, 0xff]), "sync flush trailer");
        total += z.len();
        let mut out = Vec::new();
        inf.inflate(&z, &mut out, usize::MAX)
            .expect("zlib-rs inflates");
        assert!(out == *m, "zlib-rs round trip, level {level}, bits {bits}");
        // miniz_oxide gets only the history a peer with this window holds
        // (matches reach back at most 2^bits - 262 bytes): a match beyond
        // it fails this check, where zlib-rs' 15-bit window would not.
        let tail = history.len().saturating_sub((1 << bits.clamp(9, 15)) - 262);
        assert!(
            miniz_inflate(&history[tail..], &z) == *m,
            "miniz_oxide round trip, level {level}, bits {bits}"
        );
        history.extend_from_slice(m);
    }
    total
}

#[test]
fn chat_stream_round_trips_at_every_level_and_window() {
    // 300 messages of ~600 B: the buffer slides several times.
    let msgs = chat(7, 300);
    for level in 0..=9 {
        for bits in [9u8, 12, 15] {
            round_trip(level, bits, &msgs);
        }
    }
}

#[test]
fn large_random_and_repetitive_messages_round_trip() {
    let mut r = wsx_corpus::Rng::new(3);
    let random: Vec<u8> = (0..200_000).map(|_| r.next_u64() as u8).collect();
    let zeros = vec![0u8; 300_000];
    let mut mixed = Vec::new();
    for i in 0..5000u32 {
        mixed.extend_from_slice(format!("{{\"n\":{i},\"x\":\"{}\"}}", i % 7).as_bytes());
    }
    let msgs = vec![
        random,
        zeros,
        mixed,
        Vec::new(),
        b"a".to_vec(),
        b"abcabcabcabc".to_vec(),
    ];
    for level in [0, 1, 6, 9] {
        round_trip(level, 15, &msgs);
    }
}

#[test]
fn compresses_chat_history_better_than_fixed_codes() {
    // Context takeover: later messages mostly refer back to earlier ones.
    let msgs = chat(11, 200);
    let raw: usize = msgs.iter().map(Vec::len).sum();
    let z = round_trip(1, 15, &msgs);
    assert!(z * 3 < raw, "level 1: {z} of {raw} bytes");
    let z6 = round_trip(6, 15, &msgs);
    assert!(z6 <= z, "level 6 ({z6}) no larger than level 1 ({z})");
}

#[test]
fn dictionary_restores_the_same_output() {
    let msgs = chat(5, 80);
    let mut a = NativeDeflate::new(6, 15);
    for m in &msgs[..70] {
        a.compress_sync(m, &mut Vec::new());
    }
    let mut b = NativeDeflate::new(6, 15);
    b.set_dictionary(&a.dictionary());
    assert!(a.dictionary().len() <= (1 << 15) - 262);
    for m in &msgs[70..] {
        let (mut za, mut zb) = (Vec::new(), Vec::new());
        a.compress_sync(m, &mut za);
        b.compress_sync(m, &mut zb);
        assert_eq!(za.len(), zb.len());
    }
}

#[test]
fn reset_forgets_history() {
    let m = chat(9, 1).remove(0);
    let mut c = NativeDeflate::new(6, 15);
    let mut first = Vec::new();
    c.compress_sync(&m, &mut first);
    c.reset();
    let mut again = Vec::new();
    c.compress_sync(&m, &mut again);
    assert_eq!(
        first, again,
        "after a reset the same input compresses the same"
    );
    let mut inf = Inflater::new();
    let mut out = Vec::new();
    inf.inflate(&again, &mut out, usize::MAX).unwrap();
    assert_eq!(out, m);
}

quickcheck! {
    fn arbitrary_streams_round_trip(msgs: Vec<Vec<u8>>, level: u8, bits: u8) -> TestResult {
        let level = u32::from(level % 10);
        let bits = 9 + bits % 7;
        // Small alphabets make matches; quickcheck's bytes are mostly noise.
        let msgs: Vec<Vec<u8>> = msgs
            .into_iter()
            .map(|m| m.into_iter().map(|b| b % 5 + b'a').collect())
            .collect();
        round_trip(level, bits, &msgs);
        TestResult::passed()
    }
}

/// The symbols level 1 parses `input` into after `history`.
fn level1_symbols(history: &[u8], input: &[u8]) -> Vec<u32> {
    use super::matcher::{FullLinks, Matcher};
    use super::symbols::Symbols;
    let mut m = Matcher::<FullLinks>::new(15, super::CHUNK, super::search(1));
    m.prime(history);
    let from = m.append(input);
    let mut s = Symbols::new();
    m.parse(from, from + input.len(), &mut s);
    s.list
}

/// Chat history where `{"user":"` has two newer copies than the message
/// from bob that the input repeats: the two candidates level 1 looks at
/// find only the key nearby, and the value then matches far back.
fn bob_history(before_old: &str) -> (Vec<u8>, usize) {
    let old = format!("{before_old}\"user\":\"bob\",\"room\":\"general\"}}");
    let newer = "{\"user\":\"amy\",\"room\":\"lobby\"} {\"user\":\"cat\",\"room\":\"lobby\"} ";
    let history = format!("{old} {newer}");
    (history.into_bytes(), old.len() + 1 + newer.len())
}

#[test]
fn a_match_found_after_a_nearer_one_takes_it_over() {
    use super::symbols::{match_of, MATCH};
    let input = b"{\"user\":\"bob\",\"room\":\"general\"}";
    // The source of the value is preceded by the same key: one match for
    // the whole message, from bob's (without extending backwards: the key
    // from cat's message, then the rest from bob's).
    let (history, old_at) = bob_history("{");
    let list = level1_symbols(&history, input);
    assert_eq!(list.len(), 1, "{list:x?}");
    assert!(list[0] & MATCH != 0);
    assert_eq!(match_of(list[0]), (input.len(), old_at as u32));
    // Preceded by the key but not by its `{`: the `{` becomes a literal and
    // the match from bob's takes the rest.
    let (history, old_at) = bob_history("[");
    let list = level1_symbols(&history, input);
    assert_eq!(list.len(), 2, "{list:x?}");
    assert_eq!(list[0], u32::from(b'{'));
    assert_eq!(match_of(list[1]), (input.len() - 1, old_at as u32));
    // Under another key: the key's match from nearby stays (its last bytes,
    // `":"`, are all the two sources share), then the value's.
    let history = b"{\"name\":\"bob\",\"room\":\"general\"} {\"user\":\"amy\",\"room\":\"lobby\"} {\"user\":\"cat\",\"room\":\"lobby\"} ";
    let list = level1_symbols(history, input);
    assert_eq!(list.len(), 2, "{list:x?}");
    assert_eq!(match_of(list[0]).0, 9);
    assert_eq!(match_of(list[1]).0, input.len() - 9);
    let total: usize = list
        .iter()
        .map(|&x| if x & MATCH == 0 { 1 } else { match_of(x).0 })
        .sum();
    assert_eq!(total, input.len());
}
