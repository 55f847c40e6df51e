//! Grids of small grey-scale images (digits, samples, reconstructions) written as one PNG with
//! plotters' pure-Rust bitmap backend.
#![allow(dead_code)]

use ndarray::ArrayView2;
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;

/// Screen pixels per image pixel.
const ZOOM: u32 = 6;

/// Screen pixels between neighbouring images.
const GAP: u32 = 2;

/// Writes the rows of `images` (each a row-major `side×side` image with values in `[0, 1]`, 0
/// black) as a grid of `columns` images per line to the PNG file `path`. Values outside `[0, 1]`
/// are clamped; a non-finite value is drawn red, so that it cannot pass for ink.
pub fn save_grid(
    path: &Path,
    images: ArrayView2<f64>,
    side: usize,
    columns: usize,
) -> Result<(), Box<dyn Error>> {
    if images.ncols() != side * side || columns == 0 {
        return Err(format!("{} columns are not {side}×{side} images", images.ncols()).into());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let lines = images.nrows().div_ceil(columns) as u32;
    let cell = side as u32 * ZOOM + GAP;
    let root =
        BitMapBackend::new(path, (columns as u32 * cell + GAP, lines * cell + GAP)).into_drawing_area();
    root.fill(&RGBColor(128, 128, 160))?;
    for (k, image) in images.rows().into_iter().enumerate() {
        let (x0, y0) = ((k % columns) as u32 * cell + GAP, (k / columns) as u32 * cell + GAP);
        for (p, &v) in image.iter().enumerate() {
            let color = if v.is_finite() {
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                RGBColor(g, g, g)
            } else {
                RGBColor(255, 0, 0)
            };
            let (x, y) = (x0 + (p % side) as u32 * ZOOM, y0 + (p / side) as u32 * ZOOM);
            let corner = |dx: u32, dy: u32| ((x + dx) as i32, (y + dy) as i32);
            root.draw(&Rectangle::new([corner(0, 0), corner(ZOOM, ZOOM)], color.filled()))?;
        }
    }
    root.present()?;
    Ok(())
}
