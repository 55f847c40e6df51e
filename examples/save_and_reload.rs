//! Save a trained flow, reload it in a fresh process, and get the same test NLL to the last bit.
//!
//! Trains the reference moons flow (f32, Adam) for 1000 steps, saves it as JSON and in the
//! binary format under `examples/output/`, exports its parameters as safetensors for Python,
//! then runs this program again as a new process (`--reload`), which loads each file and prints
//! the bits of its test NLL; the first process checks they equal its own.
//!
//! Run: `cargo run --release --features serde --example save_and_reload`
//!
//! Read the weights from Python: `from safetensors.numpy import load_file;
//! load_file("examples/output/moons_params.safetensors")["0.net.w0"]`.

#[path = "common/mod.rs"]
mod common;

use bijectors::train::{fit, Adam, Control, FitConfig};
use bijectors::{io, presets, Chain, Flow, StandardNormal};
use rand::{rngs::StdRng, SeedableRng};
use std::error::Error;
use std::path::PathBuf;
use std::process::Command;

type MoonsFlow = Flow<f32, StandardNormal, Chain<f32>>;

/// Mean negative log-likelihood of the test file, in nats.
fn test_nll(flow: &MoonsFlow) -> Result<f32, Box<dyn Error>> {
    let test = common::load_csv("moons_test.csv")?.mapv(|v| v as f32);
    Ok(-flow.log_prob(test.view())?.mean().ok_or("empty test file")?)
}

fn output(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/output").join(name)
}

/// The second process: load the file, print the NLL's bits.
fn reload(path: &str) -> Result<(), Box<dyn Error>> {
    let flow: MoonsFlow = io::load(path)?;
    let nll = test_nll(&flow)?;
    println!("{:#010x} {nll}", nll.to_bits());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path] = args.as_slice() {
        if flag == "--reload" {
            return reload(path);
        }
    }

    let train = common::load_csv("moons_train.csv")?.mapv(|v| v as f32);
    let mut flow =
        Flow::new(StandardNormal::new(2)?, presets::moons::<f32, _>(&mut StdRng::seed_from_u64(0))?)?;
    let mut adam = Adam::new(2e-3)?;
    let report =
        fit(&mut flow, train.view(), None, &mut adam, &FitConfig::new(1000, 256).seed(0), |_, _| {
            Control::Continue
        })?;
    let nll = test_nll(&flow)?;
    println!(
        "trained {} steps in {:.1?}: test NLL {nll} nats ({:#010x})",
        report.steps,
        report.elapsed,
        nll.to_bits()
    );

    std::fs::create_dir_all(output(""))?;
    let params = output("moons_params.safetensors");
    io::save_params(&flow.params(), &params)?;
    println!(
        "parameters for other tools: {} ({} bytes)",
        params.display(),
        std::fs::metadata(&params)?.len()
    );

    for name in ["moons_flow.json", "moons_flow.bin"] {
        let path = output(name);
        io::save(&flow, &path)?;
        let size = std::fs::metadata(&path)?.len();
        let run = Command::new(std::env::current_exe()?).arg("--reload").arg(&path).output()?;
        if !run.status.success() {
            return Err(
                format!("the reloading process failed: {}", String::from_utf8_lossy(&run.stderr)).into()
            );
        }
        let printed = String::from_utf8(run.stdout)?;
        let bits = printed.split_whitespace().next().ok_or("no output from the reloading process")?;
        let same = bits == format!("{:#010x}", nll.to_bits());
        println!("{name} ({size} bytes), reloaded in a fresh process: test NLL {}", printed.trim());
        if !same {
            return Err(format!("{name}: the reloaded flow's test NLL differs").into());
        }
    }
    println!("both files reload to the same test NLL, to the last bit");
    Ok(())
}
