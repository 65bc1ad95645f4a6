//! `--svg`: a latency-by-percentile plot (one line per request kind and metric, first byte
//! and total), drawn with plotters' SVG backend. The x axis is the percentile on the usual
//! HdrHistogram log scale, `x = -log10(1 - q)`, so 50, 90, 99, 99.9, 99.99 and 99.999 are
//! evenly spaced; the y axis is latency in milliseconds.

use std::path::Path;

use std::ops::Range;

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;

use crate::stats::Stats;

/// Largest x plotted: 99.999th percentile.
const X_MAX: f64 = 5.0;

/// `x = -log10(1 - q)` → the percentile label.
pub fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The x axis: linear in `-log10(1 - q)` from 0 to [`X_MAX`], ticks at the percentiles
/// 50, 90, 99, … labelled as such.
struct PercentileAxis;

impl Ranged for PercentileAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = value / X_MAX;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        std::iter::once(2f64.log10())
            .chain((1..=5).map(f64::from))
            .collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..X_MAX
    }
}

impl ValueFormatter<f64> for PercentileAxis {
    fn format(value: &f64) -> String {
        percentile_label(*value)
    }
}

/// Points `(x, ms)` of a µs histogram from the median to the 99.999th percentile.
pub fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let start = 2f64.log10();
    let steps = 100;
    (0..=steps)
        .map(|i| {
            let x = start + (X_MAX - start) * f64::from(i) / f64::from(steps);
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect()
}

/// Writes the plot of `stats` to `path`.
pub fn write_svg(stats: &Stats, title: &str, path: &Path) -> Result<(), String> {
    let mut series = Vec::new();
    for (kind, k) in &stats.kinds {
        series.push((format!("{} ttfb", kind.name()), curve(&k.ttfb)));
        series.push((format!("{} total", kind.name()), curve(&k.total)));
    }
    series.retain(|(_, pts)| !pts.is_empty());
    let y_max = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(0.001)
        * 1.1;
    draw(&series, title, y_max, path).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn draw(
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
    y_max: f64,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(PercentileAxis, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(percentile_label(2f64.log10()), "50");
        assert_eq!(percentile_label(1.0), "90");
        assert_eq!(percentile_label(3.0), "99.9");
        assert_eq!(percentile_label(4.0), "99.99");
    }

    #[test]
    fn curve_points() {
        let mut h = crate::stats::histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let c = curve(&h);
        assert_eq!(c.len(), 101);
        assert!((c[0].1 - 500.0).abs() < 1.0, "{:?}", c[0]);
        assert!((c[100].1 - 1000.0).abs() < 1.0);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
