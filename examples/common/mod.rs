//! Helpers shared by the examples: reading the bundled CSV data, and plotting (`plot`).
#![allow(dead_code)]

pub mod plot;

use ndarray::Array2;
use std::error::Error;
use std::path::{Path, PathBuf};

/// `examples/data/<name>`, found from the crate root whatever the working directory.
pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("data").join(name)
}

/// A numeric CSV with one header line, as an `(rows, columns)` array.
pub fn load_csv(name: &str) -> Result<Array2<f64>, Box<dyn Error>> {
    let text = std::fs::read_to_string(data_path(name))?;
    let mut values = Vec::new();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        for field in line.split(',') {
            values.push(field.trim().parse::<f64>()?);
        }
        rows += 1;
    }
    let cols = values.len() / rows.max(1);
    Ok(Array2::from_shape_vec((rows, cols), values)?)
}
