//! `wsx ratio --svg`: per input, a scatter of CPU per message (x) against
//! wire bytes per message (y), one labelled point per setting, the Pareto
//! frontier highlighted and joined.

use std::path::Path;

use plotters::prelude::*;

use super::measure::Row;

const PANEL: (u32, u32) = (560, 420);
const HEADER: u32 = 64;

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
        let mut c = ChartBuilder::on(panel)
            .caption(*name, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..max_x * 1.18, 0f64..max_y * 1.08)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_desc("CPU µs/msg")
            .y_desc("wire bytes/msg")
            .label_style(("sans-serif", 11))
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
