//! `wsx ratio --svg`: per input, a scatter of CPU per message (x) against
//! wire bytes per message (y), one labelled point per setting, the Pareto
//! frontier highlighted and joined.

use std::path::Path;

use plotters::prelude::*;

use super::measure::Row;

const PANEL: (u32, u32) = (560, 420);
const HEADER: u32 = 64;

/// Round values (1, 1.5, 2, 3, 4, 5, 7 times a power of ten) in `lo..=hi`:
/// the y ticks of a log axis spanning less than a decade or two.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut decade = 1.0;
    while decade <= hi {
        for m in [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0] {
            let t = m * decade;
            if (lo..=hi).contains(&t) {
                v.push(t);
            }
        }
        decade *= 10.0;
    }
    v
}

/// Draw the chart of `rows` (grouped by input, in order) to `path`.
pub fn draw(path: &Path, rows: &[Row], contexts: usize) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    let mut inputs: Vec<&str> = Vec::new();
    for r in rows {
        if !inputs.contains(&r.input.as_str()) {
            inputs.push(&r.input);
        }
    }
    let cols = inputs.len().clamp(1, 3);
    let nrows = inputs.len().div_ceil(cols).max(1);
    let size = (PANEL.0 * cols as u32, HEADER + PANEL.1 * nrows as u32);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, body) = root.split_vertically(HEADER);
    let cpu = if contexts > 1 {
        format!("compress + decompress µs per message, {contexts} connections interleaved")
    } else {
        "compress + decompress µs per message".to_owned()
    };
    top.draw(&Text::new(
        format!("wsx ratio: CPU ({cpu}) vs wire bytes per message"),
        (12, 12),
        ("sans-serif", 20).into_font(),
    ))
    .map_err(|e| err(&e))?;
    top.draw(&Text::new(
        "red, joined: Pareto-optimal settings (nothing else is both cheaper and smaller); grey: dominated",
        (12, 40),
        ("sans-serif", 14).into_font().color(&BLACK.mix(0.6)),
    ))
    .map_err(|e| err(&e))?;
    let frontier_color = RGBColor(200, 30, 30);
    for (panel, name) in body.split_evenly((nrows, cols)).iter().zip(&inputs) {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.input == *name).collect();
        let pt = |r: &Row| (r.cpu().total(), r.wire_per_msg());
        let max_x = mine.iter().map(|r| pt(r).0).fold(1e-3, f64::max);
        let max_y = mine.iter().map(|r| pt(r).1).fold(1.0, f64::max);
        let min_y = mine.iter().map(|r| pt(r).1).fold(max_y, f64::min).max(1.0);
        let mut c = ChartBuilder::on(panel)
            .caption(*name, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(
                0f64..max_x * 1.18,
                (min_y * 0.85..max_y * 1.15)
                    .log_scale()
                    .with_key_points(ticks(min_y * 0.85, max_y * 1.15)),
            )
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_desc("CPU µs/msg")
            .y_desc("wire bytes/msg (log scale)")
            .label_style(("sans-serif", 11))
            .max_light_lines(1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        let mut front: Vec<(f64, f64)> = mine.iter().filter(|r| r.pareto).map(|r| pt(r)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        c.draw_series(std::iter::once(PathElement::new(
            front,
            frontier_color.stroke_width(2),
        )))
        .map_err(|e| err(&e))?;
        // Dominated first, so frontier points and labels stay on top.
        for on_front in [false, true] {
            let color = if on_front {
                frontier_color
            } else {
                RGBColor(130, 130, 130)
            };
            let font = ("sans-serif", if on_front { 11 } else { 9 })
                .into_font()
                .color(&color);
            c.draw_series(mine.iter().filter(|r| r.pareto == on_front).map(|r| {
                EmptyElement::at(pt(r))
                    + Circle::new((0, 0), if on_front { 4 } else { 3 }, color.filled())
                    + Text::new(r.setting.to_owned(), (5, -11), font.clone())
            }))
            .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticks_are_round_and_in_range() {
        assert_eq!(
            super::ticks(250.0, 1900.0),
            [300.0, 400.0, 500.0, 700.0, 1000.0, 1500.0]
        );
        assert_eq!(super::ticks(1.0, 1.2), [1.0]);
    }
}
