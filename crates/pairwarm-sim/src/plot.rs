//! Hit rate over time per strategy, as SVG or PNG (plotters).
//!
//! Text needs a TrueType font: the first of `PAIRWARM_FONT` and the usual DejaVu/Liberation
//! locations that exists is used. Without one the plot cannot be labelled, and the error
//! says how to get one.

use std::path::Path;

use plotters::prelude::*;

use crate::SimReport;

/// Why a plot was not drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No TrueType font was found to label the plot.
    #[error(
        "plotting needs a TrueType font: install one (Debian: apt-get install fonts-dejavu-core) or point PAIRWARM_FONT at a .ttf file"
    )]
    NoFont,
    /// The font file could not be read or used.
    #[error("font {path}: {reason}")]
    Font {
        /// The font file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The file name has no `.svg` or `.png` extension.
    #[error("{0}: use a .svg or .png file name")]
    Format(String),
    /// Drawing or writing the file failed.
    #[error("plot: {0}")]
    Draw(String),
}

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

fn register_font() -> Result<(), PlotError> {
    let from_env = std::env::var_os("PAIRWARM_FONT").map(std::path::PathBuf::from);
    let path = from_env
        .into_iter()
        .chain(FONT_CANDIDATES.iter().map(std::path::PathBuf::from))
        .find(|p| p.is_file());
    let Some(path) = path else {
        return Err(PlotError::NoFont);
    };
    let font_error = |reason: String| PlotError::Font {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| font_error(e.to_string()))?;
    // plotters keeps a reference for the process lifetime.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| font_error("not a usable TrueType font".into()))?;
    Ok(())
}

/// Draws one panel per L1 size with a line per strategy.
pub fn draw(report: &SimReport, path: &Path) -> Result<(), PlotError> {
    register_font()?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mut sizes: Vec<usize> = report.results.iter().map(|r| r.l1).collect();
    sizes.dedup();
    let height = 360 * sizes.len().max(1) as u32;
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
            render(report, &sizes, root)
        }
        Some("png") => {
            let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
            render(report, &sizes, root)
        }
        _ => Err(PlotError::Format(path.display().to_string())),
    }
}

fn render<DB: DrawingBackend>(
    report: &SimReport,
    sizes: &[usize],
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(format!("{err:?}"));
    root.fill(&WHITE).map_err(e)?;
    let panels = root.split_evenly((sizes.len().max(1), 1));
    let span = report.trace.span_s.max(1e-9);
    for (panel, &l1) in panels.iter().zip(sizes) {
        let rows: Vec<usize> = report
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.l1 == l1)
            .map(|(i, _)| i)
            .collect();
        let (lo, hi) = rows
            .iter()
            .flat_map(|&i| report.timelines[i].iter().filter_map(|p| p.hit_rate))
            .fold((1.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo > hi {
            (0.0, 1.0)
        } else {
            ((lo - 0.02).max(0.0), (hi + 0.02).min(1.0))
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("L1 hit rate over time, L1 = {l1} entries"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..span, lo..hi)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("trace time (s)")
            .y_desc("hit rate")
            .draw()
            .map_err(e)?;
        for (n, &i) in rows.iter().enumerate() {
            let color = Palette99::pick(n).to_rgba();
            let points: Vec<(f64, f64)> = report.timelines[i]
                .iter()
                .filter_map(|p| p.hit_rate.map(|h| (p.t_s, h)))
                .collect();
            let row = &report.results[i];
            let multi = report.results.iter().any(|r| r.l1_policy != row.l1_policy);
            let name = if multi {
                format!("{} ({})", row.strategy, row.l1_policy)
            } else {
                row.strategy.clone()
            };
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(e)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}
