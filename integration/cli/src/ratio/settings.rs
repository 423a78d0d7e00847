//! The permessage-deflate policies `wsx ratio` compares, by name, with the
//! `wsx serve` flags that produce each.

use clap::Parser;
use ws_deflate::backend::Compressor;
use ws_deflate::DeflateConfig;

/// A named policy (`cfg: None`: permessage-deflate off).
#[derive(Debug, Clone)]
pub struct Setting {
    /// The name shown in reports and accepted by `--settings`.
    pub name: &'static str,
    /// The policy, or `None` for no compression.
    pub cfg: Option<DeflateConfig>,
}

impl Setting {
    /// The `wsx serve` flags giving this policy.
    pub fn flags(&self) -> String {
        let Some(cfg) = &self.cfg else {
            return "--no-deflate".to_owned();
        };
        let d = DeflateConfig::default();
        let mut v: Vec<String> = Vec::new();
        if cfg.level != d.level {
            v.push(format!("--deflate-level {}", cfg.level));
        }
        if let Some(b) = cfg.server_max_window_bits {
            v.push(format!("--server-max-window-bits {b}"));
        }
        if let Some(b) = cfg.client_max_window_bits {
            v.push(format!("--client-max-window-bits {b}"));
        }
        if cfg.server_no_context_takeover {
            v.push("--server-no-context-takeover".to_owned());
        }
        if cfg.client_no_context_takeover {
            v.push("--client-no-context-takeover".to_owned());
        }
        if cfg.compressor != d.compressor {
            v.push(format!("--compressor {}", cfg.compressor.name()));
        }
        if cfg.compress_threshold != d.compress_threshold {
            v.push(format!("--compress-threshold {}", cfg.compress_threshold));
        }
        if let Some(t) = cfg.tune {
            v.push(format!(
                "--deflate-tune {},{},{},{}",
                t.good, t.lazy, t.nice, t.chain
            ));
        }
        if v.is_empty() && cfg.mem_level == d.mem_level {
            return "(defaults: native compressor level 1, 15-bit windows, context takeover)"
                .to_owned();
        }
        if cfg.mem_level != d.mem_level {
            v.push(format!("--mem-level {}", cfg.mem_level));
        }
        v.join(" ")
    }
}

fn with(name: &'static str, cfg: DeflateConfig) -> Setting {
    Setting {
        name,
        cfg: Some(cfg),
    }
}

fn window(bits: u8, level: u32) -> DeflateConfig {
    DeflateConfig::default()
        .with_level(level)
        .with_server_max_window_bits(Some(bits))
        .with_client_max_window_bits(Some(bits))
}

/// Every built-in setting, in report order.
pub fn all() -> Vec<Setting> {
    let d = DeflateConfig::default;
    let level = |level| d().with_level(level);
    // memLevel is a zlib knob: these settings use the zlib-family backend.
    let mem = |mem_level| {
        level(6)
            .with_mem_level(mem_level)
            .with_compressor(Compressor::Zlib)
    };
    let nct = |level| {
        d().with_level(level)
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
    };
    let zlib = |level| d().with_level(level).with_compressor(Compressor::Zlib);
    vec![
        Setting {
            name: "off",
            cfg: None,
        },
        with("default", d()),
        with("balanced", DeflateConfig::balanced()),
        with("smallest", DeflateConfig::smallest()),
        with("level6", level(6)),
        with("level2", level(2)),
        with("level3", level(3)),
        with("level4", level(4)),
        with("level5", level(5)),
        with("level7", level(7)),
        with("level8", level(8)),
        with("mem6", mem(6)),
        with("mem4", mem(4)),
        with(
            "lean",
            window(10, 6)
                .with_mem_level(2)
                .with_compressor(Compressor::Zlib),
        ),
        with("window14", window(14, 6)),
        with("window13", window(13, 6)),
        with("window12", window(12, 6)),
        with("window9", window(9, 6)),
        with("w14-l3", window(14, 3)),
        with("w13-l3", window(13, 3)),
        with("w12-l3", window(12, 3)),
        with("w14-l1", window(14, 1)),
        with("w13-l1", window(13, 1)),
        with("w12-l1", window(12, 1)),
        with("no-ctx", nct(6)),
        with("no-ctx-l1", nct(1)),
        // Fan-out (`wsx::broadcast`): the server's output is shared by
        // every recipient, so its CPU is paid once per message, its bytes
        // once per recipient. (`level6` is `DeflateConfig::broadcast_cohorts`:
        // context takeover, served by cohorts.)
        with("broadcast", DeflateConfig::broadcast()),
        // The zlib-family backend compiled in, for comparison (`zlib1` was
        // the default before the native compressor).
        with("zlib1", zlib(1)),
        with("zlib3", zlib(3)),
        with("zlib6", zlib(6)),
        with("zlib9", zlib(9)),
    ]
}

/// The settings named in `names` (in the given order; `level1` means
/// `default`, `level9` means `smallest`), or every setting when `names` is
/// empty.
pub fn select(names: &[String]) -> Result<Vec<Setting>, String> {
    let all = all();
    if names.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<Setting> = Vec::with_capacity(names.len());
    for n in names {
        let n = n.trim();
        let want = match n {
            "level1" => "default",
            "level9" => "smallest",
            n => n,
        };
        let Some(s) = all.iter().find(|s| s.name == want) else {
            let known: Vec<&str> = all.iter().map(|s| s.name).collect();
            return Err(format!(
                "--settings: unknown setting {n:?} (known: {})",
                known.join(", ")
            ));
        };
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// The flags of a `--setting`: `wsx serve`'s permessage-deflate flags.
#[derive(Debug, Parser)]
#[command(name = "--setting", no_binary_name = true)]
struct SettingFlags {
    #[command(flatten)]
    deflate: crate::args::DeflateArgs,
    /// Not a setting (here so that `--deflate-frame`'s conflict with it
    /// resolves); refused.
    #[arg(long, hide = true)]
    mux: bool,
}

/// A setting of the user's: `NAME=FLAGS`, FLAGS being `wsx serve`'s
/// permessage-deflate flags (`--no-deflate` for none).
pub fn custom(spec: &str) -> Result<Setting, String> {
    let err = |why: String| format!("--setting {spec:?}: {why}");
    let (name, flags) = spec
        .split_once('=')
        .ok_or_else(|| err("expected NAME=FLAGS".to_owned()))?;
    let name = name.trim();
    if name.is_empty() || name.contains(|c: char| c == ',' || c.is_whitespace()) {
        return Err(err(
            "the name must be non-empty, without commas or spaces".to_owned()
        ));
    }
    if all().iter().any(|s| s.name == name) || matches!(name, "level1" | "level9") {
        return Err(err(format!("{name:?} is a built-in setting")));
    }
    // Only the permessage-deflate flags: any other `wsx serve` flag would
    // be ignored here, so it is refused.
    let parsed = SettingFlags::try_parse_from(flags.split_whitespace())
        .map_err(|e| err(e.render().to_string().trim().to_owned()))?;
    let deflate = &parsed.deflate;
    if deflate.deflate_frame || parsed.mux {
        return Err(err(
            "--deflate-frame and --mux are not permessage-deflate settings".to_owned(),
        ));
    }
    let cfg = crate::extensions::deflate_config(deflate);
    if let Some(c) = &cfg {
        c.validate().map_err(|e| err(e.to_string()))?;
    }
    Ok(Setting {
        // A handful of bytes per setting, for the life of this one-shot
        // command: settings are named by `&'static str`.
        name: Box::leak(name.to_owned().into_boxed_str()),
        cfg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_configs_valid() {
        let all = all();
        for (i, s) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|o| o.name != s.name), "{}", s.name);
            if let Some(c) = &s.cfg {
                assert!(c.validate().is_ok(), "{}", s.name);
            }
        }
        // Every level 1..=9 at 15 bits (level 1 is the default, level 9
        // `smallest`).
        for l in 1..=9u32 {
            assert!(all
                .iter()
                .any(|s| s.cfg.as_ref().is_some_and(|c| c.level == l
                    && c.server_max_window_bits.is_none()
                    && !c.server_no_context_takeover
                    && c.mem_level == 8)));
        }
    }

    #[test]
    fn flags_parse_as_wsx_serve_flags() {
        for s in all() {
            let flags = s.flags();
            if flags.starts_with('(') {
                continue;
            }
            let mut argv = vec!["wsx", "serve"];
            argv.extend(flags.split_whitespace());
            let parsed = crate::args::Cli::try_parse_from(&argv);
            assert!(parsed.is_ok(), "{}: {flags}", s.name);
        }
        assert_eq!(
            select(&["window12".into()]).map(|v| v[0].flags()),
            Ok(
                "--deflate-level 6 --server-max-window-bits 12 --client-max-window-bits 12"
                    .to_owned()
            )
        );
    }

    #[test]
    fn select_by_name() {
        let v = select(&["level6".into(), "level1".into(), "off".into()]).unwrap();
        let names: Vec<&str> = v.iter().map(|s| s.name).collect();
        assert_eq!(names, ["level6", "default", "off"]);
        assert!(select(&["nope".into()]).is_err());
        assert_eq!(select(&[]).map(|v| v.len()), Ok(all().len()));
    }

    #[test]
    fn custom_settings_parse_as_serve_flags() {
        let s = custom(
            "mine=--deflate-level 3 --server-max-window-bits 13 --client-max-window-bits 13 \
             --compress-threshold 64",
        )
        .unwrap();
        assert_eq!(s.name, "mine");
        let c = s.cfg.clone().unwrap();
        assert_eq!(
            (c.level, c.server_max_window_bits, c.client_max_window_bits),
            (3, Some(13), Some(13))
        );
        assert_eq!(c.compress_threshold, 64);
        assert_eq!(
            s.flags(),
            "--deflate-level 3 --server-max-window-bits 13 --client-max-window-bits 13 \
             --compress-threshold 64"
        );
        let t = custom("t=--deflate-level 2 --deflate-tune 8,16,64,6").unwrap();
        assert_eq!(
            t.cfg.as_ref().and_then(|c| c.tune),
            Some(ws_deflate::backend::Tune {
                good: 8,
                lazy: 16,
                nice: 64,
                chain: 6
            })
        );
        assert_eq!(t.flags(), "--deflate-level 2 --deflate-tune 8,16,64,6");
        assert!(custom("plain=--no-deflate").unwrap().cfg.is_none());
        assert!(custom("zl=--compressor zlib --mem-level 4")
            .unwrap()
            .cfg
            .is_some_and(|c| c.compressor == Compressor::Zlib && c.mem_level == 4));
        for bad in [
            "no-equals",
            "=--deflate-level 2",
            "a b=--deflate-level 2",
            "default=--deflate-level 2",
            "level9=--deflate-level 2",
            "x=--deflate-level 12",
            "x=--no-such-flag",
            "x=--deflate-frame",
            "x=--deflate-tune 1,2,3",
            "x=--deflate-tune 8,16,64,0",
            "x=--deflate-tune 8,16,300,4",
            "x=--listen 127.0.0.1:1 --deflate-level 2",
            "x=--mux",
        ] {
            assert!(custom(bad).is_err(), "{bad}");
        }
    }
}
