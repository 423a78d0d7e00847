//! A tiny, slow, independent raw-DEFLATE decoder after Mark Adler's puff.c,
//! that also reports the longest match distance it saw. Test-only.

pub struct Puff<'a> {
    input: &'a [u8],
    pos: usize,
    bitbuf: u64,
    bitcnt: u32,
    pub out: Vec<u8>,
    pub max_dist: usize,
}

struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

const LBASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEXT: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DBASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DEXT: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn build(lengths: &[u8]) -> Result<Huffman, &'static str> {
    let mut count = [0u16; 16];
    for &l in lengths {
        count[l as usize] += 1;
    }
    let mut offs = [0u16; 16];
    for len in 1..15 {
        offs[len + 1] = offs[len] + count[len];
    }
    let mut symbol = vec![0u16; lengths.len()];
    for (sym, &l) in lengths.iter().enumerate() {
        if l != 0 {
            symbol[offs[l as usize] as usize] = sym as u16;
            offs[l as usize] += 1;
        }
    }
    Ok(Huffman { count, symbol })
}

impl<'a> Puff<'a> {
    /// Decode `input` (raw DEFLATE), continuing after `history` (the bytes
    /// earlier messages produced, for context takeover). Stops cleanly when
    /// the input ends at a block boundary.
    pub fn run(input: &'a [u8], history: Vec<u8>) -> Result<Self, &'static str> {
        let mut p = Puff {
            input,
            pos: 0,
            bitbuf: 0,
            bitcnt: 0,
            out: history,
            max_dist: 0,
        };
        let start = p.out.len();
        let _ = start;
        loop {
            // The input is exhausted at a block boundary (after sync flushes).
            if p.pos >= p.input.len() && p.bitcnt < 3 {
                return Ok(p);
            }
            let last = p.bits(1)?;
            match p.bits(2)? {
                0 => p.stored()?,
                1 => p.fixed()?,
                2 => p.dynamic()?,
                _ => return Err("invalid block type"),
            }
            if last == 1 {
                return Ok(p);
            }
        }
    }

    fn bits(&mut self, need: u32) -> Result<u32, &'static str> {
        while self.bitcnt < need {
            let b = *self.input.get(self.pos).ok_or("out of input")?;
            self.pos += 1;
            self.bitbuf |= (b as u64) << self.bitcnt;
            self.bitcnt += 8;
        }
        let v = (self.bitbuf & ((1u64 << need) - 1)) as u32;
        self.bitbuf >>= need;
        self.bitcnt -= need;
        Ok(v)
    }

    fn stored(&mut self) -> Result<(), &'static str> {
        self.bitbuf = 0;
        self.bitcnt = 0;
        let b = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or("out of input")?;
        let len = u16::from_le_bytes([b[0], b[1]]);
        let nlen = u16::from_le_bytes([b[2], b[3]]);
        if len != !nlen {
            return Err("stored length mismatch");
        }
        self.pos += 4;
        let data = self
            .input
            .get(self.pos..self.pos + len as usize)
            .ok_or("out of input")?;
        self.out.extend_from_slice(data);
        self.pos += len as usize;
        Ok(())
    }

    fn decode(&mut self, h: &Huffman) -> Result<u16, &'static str> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= self.bits(1)? as i32;
            let count = h.count[len] as i32;
            if code - count < first {
                return Ok(h.symbol[(index + (code - first)) as usize]);
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err("ran out of codes")
    }

    fn codes(&mut self, lencode: &Huffman, distcode: &Huffman) -> Result<(), &'static str> {
        loop {
            let sym = self.decode(lencode)?;
            if sym < 256 {
                self.out.push(sym as u8);
            } else if sym == 256 {
                return Ok(());
            } else {
                let s = (sym - 257) as usize;
                if s >= 29 {
                    return Err("bad length symbol");
                }
                let len = LBASE[s] as usize + self.bits(LEXT[s] as u32)? as usize;
                let ds = self.decode(distcode)? as usize;
                if ds >= 30 {
                    return Err("bad distance symbol");
                }
                let dist = DBASE[ds] as usize + self.bits(DEXT[ds] as u32)? as usize;
                if dist > self.out.len() {
                    return Err("distance too far back");
                }
                self.max_dist = self.max_dist.max(dist);
                for _ in 0..len {
                    let b = self.out[self.out.len() - dist];
                    self.out.push(b);
                }
            }
        }
    }

    fn fixed(&mut self) -> Result<(), &'static str> {
        let mut l = [0u8; 288];
        l[..144].fill(8);
        l[144..256].fill(9);
        l[256..280].fill(7);
        l[280..].fill(8);
        let lencode = build(&l)?;
        let distcode = build(&[5u8; 30])?;
        self.codes(&lencode, &distcode)
    }

    fn dynamic(&mut self) -> Result<(), &'static str> {
        const ORDER: [usize; 19] = [
            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
        ];
        let nlen = self.bits(5)? as usize + 257;
        let ndist = self.bits(5)? as usize + 1;
        let ncode = self.bits(4)? as usize + 4;
        let mut lengths = [0u8; 320];
        for &o in ORDER.iter().take(ncode) {
            lengths[o] = self.bits(3)? as u8;
        }
        let lencode = build(&lengths[..19])?;
        let mut index = 0;
        let mut lengths = [0u8; 320];
        while index < nlen + ndist {
            let sym = self.decode(&lencode)?;
            if sym < 16 {
                lengths[index] = sym as u8;
                index += 1;
            } else {
                let (val, rep) = match sym {
                    16 => {
                        if index == 0 {
                            return Err("repeat with no first length");
                        }
                        (lengths[index - 1], 3 + self.bits(2)?)
                    }
                    17 => (0, 3 + self.bits(3)?),
                    _ => (0, 11 + self.bits(7)?),
                };
                for _ in 0..rep {
                    if index >= nlen + ndist {
                        return Err("too many lengths");
                    }
                    lengths[index] = val;
                    index += 1;
                }
            }
        }
        let lencode = build(&lengths[..nlen])?;
        let distcode = build(&lengths[nlen..nlen + ndist])?;
        self.codes(&lencode, &distcode)
    }
}
