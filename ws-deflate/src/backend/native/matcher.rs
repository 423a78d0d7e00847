//! LZ77 match finding over the stream's recent bytes: hash chains on five
//! bytes, lazy evaluation of one position, matches extended backwards over
//! the symbols before them, and symbols out.
//!
//! The window buffer holds the history the peer has (at most the agreed
//! window) followed by the bytes being compressed. The tables hold stream
//! positions modulo 2^16: the head of each hash, its newest position, and
//! per position the link ([`Links`], sized by the window), the distance
//! back to the previous one with the same hash. Sliding the buffer
//! rewrites nothing, and a stale or colliding entry is harmless: every
//! candidate is checked to lie inside the window and the buffer, and
//! against the bytes themselves, before it is used.
//!
//! (A bucketed table, the four newest positions per hash in one cache line
//! with 16-bit tags, was measured as well: no faster on chat JSON, and its
//! fixed depth cost ~10% in bytes at the higher levels.)

use super::symbols::{match_of, Symbols, MATCH};

/// Matches shorter than this are not searched for, and positions are
/// hashed on this many bytes. DEFLATE allows 3, but with the stream's
/// history the distances are long (~13 bits): measured on chat JSON
/// (200 B–4 KiB, context takeover) a match of 3 or 4 bytes rarely pays
/// for its distance, and hashing five bytes keeps the chains to candidates
/// worth checking: 1.2% fewer bytes than four at level 1 for the same CPU.
pub(super) const MIN_MATCH: usize = 5;
/// The longest DEFLATE match.
pub(super) const MAX_MATCH: usize = 258;
/// log2 of the hash table size, whatever the window.
const HASH_BITS: u32 = 14;
/// Hash table entries.
const HASH_SIZE: usize = 1 << HASH_BITS;
/// Link entries of the largest window (15 bits).
const FULL_LINKS: usize = 1 << 15;
/// The least input the buffer takes between slides (a smaller window
/// slides more often, moving fewer bytes each time).
const MIN_SLACK: usize = 4 * 1024;
/// A match the one after it extends backwards over, all but this many of
/// its first bytes, is replaced: those bytes become literals (measured on
/// chat JSON: 1 and 3 write more bytes than 2, 4 and up far more).
const ABSORB_REST: usize = 2;
/// The parse looks up only every second position after this many literals
/// in a row, every third after twice as many, and so on.
const SKIP_AFTER: usize = 64;

/// How hard the search works (the compression level picks one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Search {
    /// Candidates examined per position.
    pub chain: u16,
    /// A match this long ends the search.
    pub nice: u16,
    /// A match this long is taken without trying the next position
    /// (at most [`MIN_MATCH`]: greedy).
    pub lazy: u16,
    /// With a match this long pending, the next position's search is cut
    /// to a quarter of the chain.
    pub good: u16,
    /// Positions inside a match longer than this are not entered in the
    /// hash (they are rarely the best start of a later match).
    pub insert_limit: u16,
}

/// The chain links of a window of 2^bits positions: per position (modulo
/// the window size), the distance back to the previous position with the
/// same hash (0: none).
pub(super) trait Links {
    /// Links for a window of 2^`bits` bytes (9..=15), all 0.
    fn for_bits(bits: u8) -> Self;
    /// The link of stream position `pos`.
    fn get(&self, pos: u32) -> u16;
    /// Set the link of stream position `pos`.
    fn set(&mut self, pos: u32, dist: u16);
}

/// The links of a 15-bit window (64 KiB): a table of fixed size, so the
/// hot loops index it with a constant mask and no bounds check.
pub(super) struct FullLinks(Box<[u16; FULL_LINKS]>);

impl Links for FullLinks {
    fn for_bits(_bits: u8) -> Self {
        Self(zeroed())
    }

    #[inline(always)]
    fn get(&self, pos: u32) -> u16 {
        self.0[pos as usize & (FULL_LINKS - 1)]
    }

    #[inline(always)]
    fn set(&mut self, pos: u32, dist: u16) {
        self.0[pos as usize & (FULL_LINKS - 1)] = dist;
    }
}

/// The links of a smaller window: 2^bits entries (8 KiB for 12 bits).
/// (Fewer hash heads for these windows as well, twice as many as
/// positions, were measured slower, more colliding candidates within
/// reach: +12% CPU for 9-bit windows, +5% for 12, +1% for 13, and 0.1%
/// more bytes, to save 30, 16 and 0 KiB.)
pub(super) struct SizedLinks {
    table: Box<[u16]>,
    /// `table.len() - 1`.
    mask: usize,
}

impl Links for SizedLinks {
    fn for_bits(bits: u8) -> Self {
        let n = 1usize << bits.clamp(9, 15);
        Self {
            table: vec![0; n].into_boxed_slice(),
            mask: n - 1,
        }
    }

    #[inline(always)]
    fn get(&self, pos: u32) -> u16 {
        self.table[pos as usize & self.mask]
    }

    #[inline(always)]
    fn set(&mut self, pos: u32, dist: u16) {
        self.table[pos as usize & self.mask] = dist;
    }
}

/// Hash chains over a window buffer.
pub(super) struct Matcher<L> {
    /// History, then the input being compressed.
    buf: Vec<u8>,
    /// The stream position of `buf[0]`, modulo 2^32.
    base: u32,
    /// Per hash, the newest position (modulo 2^16).
    head: Box<[u16; HASH_SIZE]>,
    /// Per position, the distance back to the previous one with the same
    /// hash.
    links: L,
    /// The first buffer index not yet entered in the hash.
    ins: usize,
    /// The farthest a match may reach back.
    max_dist: u32,
    /// Bytes of history kept when the buffer slides.
    keep: usize,
    /// The most the buffer holds before it slides: `keep` plus as much
    /// input as `keep`, at least [`MIN_SLACK`] and at most one chunk. A
    /// slide moves `keep` bytes: at most about twice the input taken since
    /// the last one (twice for 15-bit windows, about once for 13 and 14).
    limit: usize,
    search: Search,
}

#[inline(always)]
fn load32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[inline(always)]
fn load64(b: &[u8], i: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(x)
}

/// A zeroed table on the heap (not built on the stack first).
fn zeroed<const N: usize>() -> Box<[u16; N]> {
    match vec![0u16; N].into_boxed_slice().try_into() {
        Ok(table) => table,
        Err(_) => unreachable!("a boxed slice of N elements converts to [u16; N]"),
    }
}

/// The hash of the [`MIN_MATCH`] bytes at `b[i..]`.
#[inline(always)]
fn hash(b: &[u8], i: usize) -> usize {
    let v = u64::from(load32(b, i)) | u64::from(b[i + 4]) << 32;
    (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - HASH_BITS)) as usize
}

/// How many bytes at `a` and `b` (`a < b`) agree, up to `limit`, with
/// `b + limit <= buf.len()`.
#[inline(always)]
fn common(buf: &[u8], a: usize, b: usize, limit: usize) -> usize {
    let mut n = 0;
    while n + 8 <= limit {
        let x = load64(buf, a + n) ^ load64(buf, b + n);
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < limit && buf[a + n] == buf[b + n] {
        n += 1;
    }
    n
}

impl<L: Links> Matcher<L> {
    /// A matcher for a window of 2^`bits` bytes (9..=15): matches reach
    /// back at most `2^bits - 262` bytes, as zlib's do (so a 9-bit stream
    /// also decodes with an 8-bit window). It takes at most `chunk` new
    /// bytes at a time.
    pub(super) fn new(bits: u8, chunk: usize, search: Search) -> Self {
        let bits = bits.clamp(9, 15);
        let max_dist = (1u32 << bits) - 262;
        let keep = max_dist as usize;
        Self {
            // Grown with the stream (a connection that sends a few small
            // messages holds a few KiB), up to `limit`.
            buf: Vec::new(),
            base: 0,
            head: zeroed(),
            links: L::for_bits(bits),
            ins: 0,
            max_dist,
            keep,
            limit: keep + keep.clamp(MIN_SLACK, chunk.max(MIN_SLACK)),
            search,
        }
    }

    /// Replace the search parameters.
    pub(super) fn set_search(&mut self, search: Search) {
        self.search = search;
    }

    /// The bytes from `from` to the end of the buffer.
    pub(super) fn bytes(&self, from: usize) -> &[u8] {
        &self.buf[from..]
    }

    /// The history a peer's decoder holds: the last bytes of the stream, at
    /// most `max_dist` of them.
    pub(super) fn window(&self) -> &[u8] {
        &self.buf[self.buf.len().saturating_sub(self.keep)..]
    }

    /// Forget the stream: no match refers to anything before this.
    pub(super) fn reset(&mut self) {
        // Entries left in the table point before the buffer's start or at
        // bytes they do not match; the search rejects both.
        self.base = self.base.wrapping_add(self.buf.len() as u32);
        self.buf.clear();
        self.ins = 0;
    }

    /// Append `data` (at most the `chunk` given at creation), sliding out
    /// history beyond the window first; returns the index where it starts.
    pub(super) fn append(&mut self, data: &[u8]) -> usize {
        if self.buf.len() + data.len() > self.limit && self.buf.len() > self.keep {
            let drop = self.buf.len() - self.keep;
            self.buf.drain(..drop);
            self.base = self.base.wrapping_add(drop as u32);
            self.ins = self.ins.saturating_sub(drop);
        }
        let need = self.buf.len() + data.len();
        if need > self.buf.capacity() {
            // Double, but never past the limit (the buffer stops growing
            // once it holds a window and a chunk).
            let want = need.max(self.buf.capacity() * 2).min(self.limit.max(need));
            self.buf.reserve_exact(want - self.buf.len());
        }
        let from = self.buf.len();
        self.buf.extend_from_slice(data);
        from
    }

    /// Enter buffer indexes from `self.ins` up to (not including) `upto`
    /// in the hash, as far as [`MIN_MATCH`] bytes before `end` allow.
    #[inline]
    fn insert_upto(&mut self, upto: usize, end: usize) {
        let last = upto.min(end.saturating_sub(MIN_MATCH - 1));
        if self.ins >= last {
            return;
        }
        let mut pos = self.base.wrapping_add(self.ins as u32);
        for k in self.ins..last {
            self.enter(hash(&self.buf, k), pos);
            pos = pos.wrapping_add(1);
        }
        self.ins = last;
    }

    /// Make stream position `pos` the newest of hash `h`; returns the one
    /// it replaces.
    #[inline(always)]
    fn enter(&mut self, h: usize, pos: u32) -> u16 {
        let old = self.head[h];
        self.links.set(pos, (pos as u16).wrapping_sub(old));
        self.head[h] = pos as u16;
        old
    }

    /// Look up index `i` (the next to enter: `i == self.ins`, with
    /// [`MIN_MATCH`] bytes known before `end`), enter it, and return the longest match
    /// among its candidates longer than `better_than` (length 0: none).
    /// `search` false only enters it.
    #[inline]
    fn probe(&mut self, i: usize, end: usize, better_than: usize, search: bool) -> (usize, u32) {
        debug_assert!(i == self.ins && i + MIN_MATCH <= end);
        let first = load32(&self.buf, i);
        let pos = self.base.wrapping_add(i as u32);
        let newest = self.enter(hash(&self.buf, i), pos);
        self.ins = i + 1;

        let max_len = (end - i).min(MAX_MATCH);
        let mut best = better_than.max(MIN_MATCH - 1);
        if !search || best >= max_len {
            return (0, 0);
        }
        // A candidate lies within the window and within the buffer.
        let reach = self.max_dist.min(i as u32);
        let mut chain = self.search.chain;
        if better_than >= usize::from(self.search.good) {
            chain = (chain / 4).max(1);
        }
        let nice = usize::from(self.search.nice).min(max_len);
        let mut found = (0, 0);
        let mut dist = u32::from((pos as u16).wrapping_sub(newest));
        while chain > 0 && dist != 0 && dist <= reach {
            let c = i - dist as usize;
            // The byte that would make it longer than the best, then the
            // first four (the fifth is byte `best` or checked by `common`).
            if self.buf[c + best] == self.buf[i + best] && load32(&self.buf, c) == first {
                let len = 4 + common(&self.buf, c + 4, i + 4, max_len - 4);
                if len > best {
                    best = len;
                    found = (len, dist);
                    if len >= nice {
                        break;
                    }
                }
            }
            // The next older position with this hash.
            let step = self.links.get(pos.wrapping_sub(dist));
            if step == 0 {
                break;
            }
            dist += u32::from(step);
            chain -= 1;
        }
        found
    }

    /// After a match of `len` from `i` (entered): enter the indexes it
    /// covers if it is short, or skip them.
    #[inline]
    fn cover(&mut self, i: usize, len: usize, end: usize) {
        let stop = i + len;
        if len <= usize::from(self.search.insert_limit) {
            self.insert_upto(stop, end);
        } else {
            self.ins = self.ins.max(stop);
        }
    }

    /// Emit a match of `len` bytes at buffer index `at`, `dist` back, first
    /// extended backwards over what the symbols just before it cover (they
    /// end at `at`), as far as its source holds the same bytes: literals
    /// one by one, a whole match at once, or all but the first
    /// [`ABSORB_REST`] bytes of a match (those become literals).
    ///
    /// Why: a few candidates per position find the nearest copy of a
    /// string's first bytes, so a long match from farther back often turns
    /// up only after a short one from nearby (in chat JSON, a key from the
    /// last message, then its value from an older one that has the same key
    /// before it). One match in place of two, or of a match and literals:
    /// measured on the chat JSON of the side-by-side load, 4.3% fewer bytes
    /// at level 1 (0.3 µs more per message) and 0.6–2% at the higher levels.
    #[inline]
    fn emit(&self, out: &mut Symbols, at: usize, len: usize, dist: u32) {
        let d = dist as usize;
        let (mut at, mut len) = (at, len);
        while let Some(x) = out.last() {
            if x & MATCH == 0 {
                // A literal the source has too.
                if len < MAX_MATCH && at > d && self.buf[at - 1 - d] == x as u8 {
                    out.pop();
                    at -= 1;
                    len += 1;
                    continue;
                }
                break;
            }
            let (pl, pd) = match_of(x);
            if pd == dist || len + pl > MAX_MATCH || at < d + pl {
                break;
            }
            // How many of the match's last bytes the source has too.
            let mut k = 0;
            while k < pl && self.buf[at - 1 - k - d] == self.buf[at - 1 - k] {
                k += 1;
            }
            if k == pl {
                out.pop();
                at -= pl;
                len += pl;
                continue;
            }
            if k > 0 && k + ABSORB_REST >= pl {
                out.pop();
                for &b in &self.buf[at - pl..at - k] {
                    out.literal(b);
                }
                len += k;
            }
            break;
        }
        out.matched(len, dist);
    }

    /// Parse buffer indexes `from..end` (the newest input) into symbols.
    pub(super) fn parse(&mut self, from: usize, end: usize, out: &mut Symbols) {
        // Indexes left unhashed at the end of the last input.
        self.insert_upto(from, end);
        self.ins = self.ins.max(from);
        // Only indexes with MIN_MATCH bytes from them on are looked up.
        let last = end.saturating_sub(MIN_MATCH - 1).max(from);
        if usize::from(self.search.lazy) <= MIN_MATCH {
            self.parse_greedy(from, last, end, out);
        } else {
            self.parse_lazy(from, last, end, out);
        }
        for &b in &self.buf[self.ins.max(last)..end] {
            out.literal(b);
        }
        self.ins = self.ins.min(last);
    }

    /// Take every match found at once.
    fn parse_greedy(&mut self, from: usize, last: usize, end: usize, out: &mut Symbols) {
        let mut i = from;
        // Literals since the last match: in long runs of them (data that
        // barely compresses) only every `1 + misses / SKIP_AFTER`-th
        // position is looked up and entered.
        let mut misses = 0usize;
        while i < last {
            let (len, dist) = self.probe(i, end, 0, true);
            if len >= MIN_MATCH {
                self.emit(out, i, len, dist);
                self.cover(i, len, end);
                i += len;
                misses = 0;
            } else {
                let step = (1 + misses / SKIP_AFTER).min(last - i);
                for &b in &self.buf[i..i + step] {
                    out.literal(b);
                }
                i += step;
                self.ins = i;
                misses += 1;
            }
        }
        self.ins = i;
    }

    /// Lazy evaluation: a match is emitted only if the next index has no
    /// longer one (unless it is already `lazy` long).
    fn parse_lazy(&mut self, from: usize, last: usize, end: usize, out: &mut Symbols) {
        let lazy = usize::from(self.search.lazy);
        let mut i = from;
        // The best match at i - 1, not yet emitted (length 0: a literal).
        let mut pending: Option<(usize, u32)> = None;
        // Positions in a row without a match: as in the greedy parse, long
        // runs of them (data that barely compresses) are looked up only
        // every `1 + misses / SKIP_AFTER`-th position.
        let mut misses = 0usize;
        while i < last {
            let plen = pending.map_or(0, |p| p.0);
            let search = plen < lazy;
            let (len, dist) = self.probe(i, end, plen, search);
            match pending {
                Some((pl, pd)) if pl >= MIN_MATCH && len <= pl => {
                    self.emit(out, i - 1, pl, pd);
                    self.cover(i - 1, pl, end);
                    i = i - 1 + pl;
                    pending = None;
                    continue;
                }
                Some(_) => out.literal(self.buf[i - 1]),
                None => {}
            }
            pending = Some((len, dist));
            i += 1;
            if len >= MIN_MATCH {
                misses = 0;
                continue;
            }
            misses += 1;
            let skip = (misses / SKIP_AFTER).min(last - i);
            if skip > 0 {
                // The literal pending at i - 1, then `skip` positions
                // neither looked up nor entered.
                out.literal(self.buf[i - 1]);
                for &b in &self.buf[i..i + skip] {
                    out.literal(b);
                }
                i += skip;
                self.ins = i;
                pending = None;
            }
        }
        if let Some((pl, pd)) = pending {
            if pl >= MIN_MATCH {
                self.emit(out, i - 1, pl, pd);
                i = i - 1 + pl;
            } else {
                out.literal(self.buf[i - 1]);
            }
        }
        self.ins = i;
    }

    /// Prime with `window` (after a reset): the history matches may use.
    pub(super) fn prime(&mut self, window: &[u8]) {
        let tail = &window[window.len().saturating_sub(self.keep)..];
        let from = self.append(tail);
        self.insert_upto(from + tail.len(), from + tail.len());
    }
}
