//! Plotting helpers shared by the examples: side-by-side panels (scatter plots of points and heat
//! maps of a density on a grid) written as one PNG.
//!
//! plotters is used with its pure-Rust bitmap backend and the `ab_glyph` text renderer, and the
//! font (DejaVu Sans, see `examples/assets/DejaVu-LICENSE.txt`) is compiled into the binary, so the
//! examples build and draw on a bare machine: no system fonts, no fontconfig, no C libraries.
#![allow(dead_code)]

use ndarray::{Array1, Array2, ArrayView2, Axis};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use std::error::Error;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

/// The embedded font. plotters' default text family is "sans-serif"; it is registered under that name.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Width of one panel in pixels; its height follows from the window so that both axes have the
/// same scale (a circle looks like a circle).
const PANEL_WIDTH: u32 = 480;

/// Pixels of a panel outside its plotting area: margins, caption, tick labels.
const MARGIN: u32 = 12;
const CAPTION: u32 = 36;
const X_LABELS: u32 = 30;
const Y_LABELS: u32 = 40;

/// Cells per side of a heat map's grid (the log-density is evaluated at `GRID * GRID` points).
const GRID: usize = 160;

/// A log-density evaluated on a batch of points `(n, 2)`, returning `n` values.
pub type LogDensity<'a> = Box<dyn Fn(ArrayView2<f64>) -> Result<Array1<f64>, Box<dyn Error>> + 'a>;

/// One panel of a figure.
pub enum Panel<'a> {
    /// A scatter plot of the rows of an `(n, 2)` array.
    Scatter {
        /// Caption above the panel.
        title: String,
        /// The points, one per row.
        points: ArrayView2<'a, f64>,
        /// Marker colour.
        color: RGBColor,
    },
    /// A heat map of `exp(log_density)` on a regular grid over the figure's window, scaled so that
    /// its largest value is the top of the colour map.
    Density {
        /// Caption above the panel.
        title: String,
        /// The (possibly unnormalised) log-density; non-finite values are drawn as zero density.
        log_density: LogDensity<'a>,
    },
}

/// The rectangle of the plane shown in every panel of a figure (same axes on all panels, so that
/// they can be compared by eye).
#[derive(Clone, Debug)]
pub struct Window {
    /// Horizontal range (first coordinate).
    pub x: Range<f64>,
    /// Vertical range (second coordinate).
    pub y: Range<f64>,
}

impl Window {
    /// The bounding box of the rows of `points`, widened by `margin` times its size on each side.
    pub fn around(points: ArrayView2<f64>, margin: f64) -> Window {
        let lo = points.fold_axis(Axis(0), f64::INFINITY, |a, &b| a.min(b));
        let hi = points.fold_axis(Axis(0), f64::NEG_INFINITY, |a, &b| a.max(b));
        let widen = |k: usize| {
            let pad = margin * (hi[k] - lo[k]);
            (lo[k] - pad)..(hi[k] + pad)
        };
        Window { x: widen(0), y: widen(1) }
    }

    /// Whether the point lies in the window.
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        self.x.contains(&x) && self.y.contains(&y)
    }

    /// The centres of a `n × n` grid of cells covering the window, as an `(n * n, 2)` array in
    /// row-major order (row `i` = i-th value of the second coordinate from the bottom).
    fn grid_centres(&self, n: usize) -> Array2<f64> {
        let (dx, dy) = ((self.x.end - self.x.start) / n as f64, (self.y.end - self.y.start) / n as f64);
        Array2::from_shape_fn((n * n, 2), |(r, c)| {
            let (i, j) = (r / n, r % n);
            if c == 0 {
                self.x.start + (j as f64 + 0.5) * dx
            } else {
                self.y.start + (i as f64 + 0.5) * dy
            }
        })
    }
}

/// Registers the embedded font with plotters (once per process; later calls are free).
fn register_embedded_font() -> Result<(), Box<dyn Error>> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the embedded font examples/assets/DejaVuSans.ttf could not be parsed".into())
    }
}

/// Draws `panels` side by side over the same `window` and writes them to the PNG file `path`.
pub fn save_panels(path: &Path, window: &Window, panels: &[Panel]) -> Result<(), Box<dyn Error>> {
    register_embedded_font()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let size = (PANEL_WIDTH * panels.len() as u32, panel_height(window));
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        let title = match panel {
            Panel::Scatter { title, .. } | Panel::Density { title, .. } => title.as_str(),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(MARGIN)
            .x_label_area_size(X_LABELS)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(window.x.clone(), window.y.clone())?;
        match panel {
            Panel::Scatter { points, color, .. } => {
                let style = color.mix(0.35).filled();
                // Points outside the window would be drawn pinned to its border: leave them out.
                let inside = points.rows().into_iter().map(|p| (p[0], p[1])).filter(|p| window.contains(*p));
                chart.draw_series(inside.map(|p| Circle::new(p, 1, style)))?;
            }
            Panel::Density { log_density, .. } => draw_heat_map(&mut chart, window, log_density)?,
        }
        // Axes last, so that a heat map does not cover them; no grid lines, they would clutter it.
        chart.configure_mesh().disable_mesh().label_style(("sans-serif", 14)).draw()?;
    }
    root.present()?;
    Ok(())
}

/// Panel height in pixels giving both axes of `window` the same scale (clamped to a sensible range).
fn panel_height(window: &Window) -> u32 {
    let plot_width = f64::from(PANEL_WIDTH - Y_LABELS - 2 * MARGIN);
    let aspect = (window.y.end - window.y.start) / (window.x.end - window.x.start);
    let plot_height = (plot_width * aspect).round().clamp(200.0, 900.0) as u32;
    plot_height + CAPTION + X_LABELS + 2 * MARGIN
}

/// Fills the chart with one rectangle per grid cell coloured by the density at the cell's centre.
fn draw_heat_map<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    window: &Window,
    log_density: &LogDensity,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let centres = window.grid_centres(GRID);
    let log_p = log_density(centres.view())?;
    if log_p.len() != centres.nrows() {
        return Err(
            format!("log-density returned {} values for {} points", log_p.len(), centres.nrows()).into()
        );
    }
    // Subtract the largest log-density before exponentiating: unnormalised targets can have huge
    // log-values, and the picture only needs the density relative to its peak.
    let top = log_p.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
    let (dx, dy) =
        ((window.x.end - window.x.start) / GRID as f64, (window.y.end - window.y.start) / GRID as f64);
    let cells = centres.rows().into_iter().zip(log_p.iter()).map(|(c, &lp)| {
        let level = if lp.is_finite() && top.is_finite() { (lp - top).exp() } else { 0.0 };
        let color = ViridisRGB::get_color(level);
        let (x0, y0) = (c[0] - 0.5 * dx, c[1] - 0.5 * dy);
        Rectangle::new([(x0, y0), (x0 + dx, y0 + dy)], color.filled())
    });
    chart.draw_series(cells).map_err(|e| e.to_string())?;
    Ok(())
}

/// The figure of a density fit: (a) the training data, (b) samples from the fitted flow and (c) its
/// density as a heat map, all over the window spanned by the data.
pub fn data_samples_density(
    path: &Path,
    data: ArrayView2<f64>,
    samples: ArrayView2<f64>,
    log_density: LogDensity,
) -> Result<(), Box<dyn Error>> {
    let window = Window::around(data, 0.08);
    let panels = [
        Panel::Scatter {
            title: format!("(a) training data, n = {}", data.nrows()),
            points: data,
            color: BLUE,
        },
        Panel::Scatter {
            title: format!("(b) flow samples, n = {}", samples.nrows()),
            points: samples,
            color: RED,
        },
        Panel::Density { title: "(c) flow density".into(), log_density },
    ];
    save_panels(path, &window, &panels)
}
