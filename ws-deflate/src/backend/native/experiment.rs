//! TEMPORARY experiment harness (not committed).
use super::NativeDeflate;
use std::time::Instant;

fn corpus() -> Vec<Vec<u8>> {
    if std::env::var("RANDOM").is_ok() {
        let mut x = 0x1234_5678_9abc_def0u64;
        return (0..1000).map(|_| (0..4096).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect()).collect();
    }
    let b = std::fs::read("/work/corpus.bin").unwrap();
    let mut v = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let n = u32::from_le_bytes([b[i + 1], b[i + 2], b[i + 3], b[i + 4]]) as usize;
        v.push(b[i + 5..i + 5 + n].to_vec());
        i += 5 + n;
    }
    v
}

type Cfg<'a> = (
    String,
    u32,
    u8,
    u32,
    Box<dyn Fn(&mut NativeDeflate) + 'a>,
    u32,
    u32,
);

fn bench(cfgs: &[Cfg<'_>]) {
    let c = corpus();
    let nc: usize = std::env::var("NC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cfgs.len()];
    let mut bytes = vec![0f64; cfgs.len()];
    let mut hdrs = vec![0f64; cfgs.len()];
    for _round in 0..7 {
        for (k, (_, level, bits, hl, f, rep, long)) in cfgs.iter().enumerate() {
            let mut conns: Vec<NativeDeflate> = (0..nc)
                .map(|_| {
                    let mut d = NativeDeflate::new(*level, *bits);
                    f(&mut d);
                    d
                })
                .collect();
            let mut out = Vec::with_capacity(1 << 16);
            let mut b = 0usize;
            let mut n = 0usize;

            let t = Instant::now();
            for j in 0..(8000 / nc) {
                for (ci, d) in conns.iter_mut().enumerate() {
                    let m = &c[(ci * 131 + j) % c.len()];
                    out.clear();
                    d.compress_sync(m, &mut out);
                    b += out.len() - 4;
                    n += 1;
                }
            }
            times[k].push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
            bytes[k] = b as f64 / n as f64;
        }
    }
    for (k, cfg) in cfgs.iter().enumerate() {
        let _ = k;
        let mut t = times[k].clone();
        t.sort_by(f64::total_cmp);
        println!(
            "{:>34}: {:.2} B/msg  hdr {:.2}  {:.2} us/msg (min {:.2})",
            cfg.0,
            bytes[k],
            hdrs[k],
            t[t.len() / 2],
            t[0]
        );
    }
}

fn cfg_name(c: &Cfg<'_>) -> String {
    c.0.clone()
}
fn cfg5<'a>(name: &str, hl: u32, t: (u16, u16, u16, u16, u16)) -> Cfg<'a> {
    (
        format!("{name} {t:?} h{hl}"),
        1,
        15,
        hl,
        Box::new(move |d: &mut NativeDeflate| d.tune5(t.0, t.1, t.2, t.3, t.4)),
        0,
        0,
    )
}
fn bk(mut c: Cfg<'_>, nb: u32) -> Cfg<'_> {
    c.6 = nb;
    c.0 = format!("{} bucket{nb}", c.0);
    c
}
fn cfg<'a>(
    name: &str,
    level: u32,
    bits: u8,
    hl: u32,
    tune: Option<(u16, u16, u16, u16)>,
) -> Cfg<'a> {
    (
        format!("{name} L{level} w{bits} h{hl}"),
        level,
        bits,
        hl,
        Box::new(move |d: &mut NativeDeflate| {
            if let Some((g, l, n, c)) = tune {
                d.tune(g, l, n, c)
            }
        }),
        0,
        0,
    )
}

fn rep(mut c: Cfg<'_>, r: u32) -> Cfg<'_> {
    c.5 = r;
    c.0 = format!("{} rep{r}", c.0);
    c
}

fn long(mut c: Cfg<'_>, r: u32) -> Cfg<'_> {
    c.6 = r;
    c.0 = format!("{} long{r}", c.0);
    c
}

#[test]
#[ignore]
fn experiment() {
    let mut v = Vec::new();
    let only = std::env::var("ONLY").ok();
    if std::env::var("LEVELS").is_ok() {
        for l in 1..=9 {
            v.push(cfg("level", l, 15, 5, None));
        }
        for t in [
            (16u16, 32u16, 128u16, 8u16, 258u16),
            (16, 64, 128, 12, 258),
            (16, 128, 258, 16, 258),
            (32, 128, 258, 24, 258),
            (32, 258, 258, 32, 258),
        ] {
            v.push(cfg5("cand", 5, t));
        }
    } else if let Ok(p) = std::env::var("PFS") {
        for pf in p.split(',') {
            let pf: u32 = pf.parse().unwrap();
            let mut c = cfg("level", 1, 15, 5, None);
            c.6 = pf;
            c.0 = format!("{} pf{pf}", c.0);
            v.push(c);
            let mut c = cfg("level", 2, 15, 5, None);
            c.6 = pf;
            c.0 = format!("{} pf{pf}", c.0);
            v.push(c);
        }
    } else if std::env::var("SPARSE").is_ok() {
        for sp in [0u32, 1] {
            for l in [1u32, 2, 3] {
                let mut c = cfg("level", l, 15, 5, None); c.6 = sp; c.0 = format!("{} sparse{sp}", c.0); v.push(c);
            }
            for t in [(16u16, 32u16, 128u16, 12u16, 258u16), (16, 32, 128, 16, 258)] {
                let mut c = cfg5("cand", 5, t); c.6 = sp; c.0 = format!("{} sparse{sp}", c.0); v.push(c);
            }
        }
    } else if std::env::var("L1").is_ok() {
        v.push(cfg("level", 1, 15, 5, None));
        v.push(cfg5("oldL1", 5, (8, 4, 32, 4, 16)));
        v.push(cfg("level", 2, 15, 5, None));
    } else if std::env::var("SWEEP").is_ok() {
        v.push(cfg("level", 1, 15, 5, None));
        v.push(cfg("level", 2, 15, 5, None));
        for t in [
            (8u16, 32u16, 128u16, 6u16, 258u16),
            (8, 16, 64, 6, 258),
            (32, 32, 128, 6, 258),
            (16, 32, 128, 6, 64),
            (16, 32, 128, 7, 258),
            (8, 32, 64, 8, 258),
            (8, 32, 128, 8, 64),
            (16, 32, 128, 8, 64),
            (16, 8, 128, 8, 258),
            (16, 12, 128, 8, 258),
            (4, 32, 128, 8, 258),
            (16, 32, 128, 5, 258),
            (32, 64, 128, 5, 258),
        ] {
            v.push(cfg5("cand", 5, t));
        }
    } else {
        v.push(cfg("base", 1, 15, 5, None));
        v.push(cfg5("lazy8", 5, (16, 32, 128, 8, 258)));
    }
    if let Some(o) = only {
        v.retain(|c| c.0.starts_with(&o));
    }
    bench(&v);
}

#[test]
#[ignore]
fn block_hot() {
    let c = corpus();
    let mut d = NativeDeflate::new(1, 15);
    let mut out = Vec::new();
    for m in &c[..60] {
        out.clear();
        d.compress_sync(m, &mut out);
    }
    let m = &c[60];
    let from = d.matcher.append(m);
    let end = from + m.len();
    let mut sc = super::Scratch::new();
    sc.symbols.clear();
    d.matcher.parse(from, end, &mut sc.symbols);
    println!("symbols {}", sc.symbols.list.len());
    let t = Instant::now();
    let n = 2000000;
    for _ in 0..n {
        out.clear();
        let mut w = super::bits::BitWriter::new(&mut out);
        sc.blocks.write(&mut w, &sc.symbols, d.matcher.bytes(from));
        w.align();
    }
    println!(
        "hot block write: {:.3} us, {} bytes",
        t.elapsed().as_secs_f64() * 1e6 / n as f64,
        out.len()
    );
}

#[test]
#[ignore]
fn by_size() {
    let c = corpus();
    let nc = 20;
    let buckets = [300usize, 500, 800, 1500, 5000];
    for level in [1u32, 2] {
        let mut t = vec![0f64; buckets.len()];
        let mut b = vec![0usize; buckets.len()];
        let mut raw = vec![0usize; buckets.len()];
        let mut n = vec![0usize; buckets.len()];
        for _round in 0..3 {
            let mut conns: Vec<NativeDeflate> =
                (0..nc).map(|_| NativeDeflate::new(level, 15)).collect();
            let mut out = Vec::with_capacity(1 << 16);
            for j in 0..(8000 / nc) {
                for (ci, d) in conns.iter_mut().enumerate() {
                    let m = &c[(ci * 131 + j) % c.len()];
                    out.clear();
                    let t0 = Instant::now();
                    d.compress_sync(m, &mut out);
                    let el = t0.elapsed().as_secs_f64() * 1e6;
                    let k = buckets.iter().position(|&x| m.len() <= x).unwrap();
                    t[k] += el;
                    b[k] += out.len() - 4;
                    raw[k] += m.len();
                    n[k] += 1;
                }
            }
        }
        for k in 0..buckets.len() {
            println!(
                "L{level} <= {:5}: n {:5}  raw {:7.1}  bytes {:7.1}  us {:6.2}   ratio {:.3}",
                buckets[k],
                n[k] / 3,
                raw[k] as f64 / n[k] as f64,
                b[k] as f64 / n[k] as f64,
                t[k] / n[k] as f64,
                b[k] as f64 / raw[k] as f64
            );
        }
    }
}
