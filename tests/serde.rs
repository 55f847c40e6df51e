//! Saving and loading (feature `serde`): every zoo bijector, with random parameters, in f64 and
//! f32, round-trips bit-exactly through JSON and the binary format (same parameters to the bit,
//! same outputs and log-dets to the bit in both directions, the same file when saved again); a
//! trained flow and its Adam state reload to the same log-densities, samples, gradients and
//! further training; a reloaded ActNorm never re-initialises.
#![cfg(feature = "serde")]

mod common;

use bijectors::testing::copy_params;
use bijectors::train::{Adam, Optimizer, Sgd, SgdConfig};
use bijectors::{io, presets, ActNorm, Bijector, Chain, Direction, Flow, Gradients, StandardNormal};
use common::cond::CondScale;
use common::randomized;
use common::zoo::{zoo, Case, Scalar};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::{rngs::StdRng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The test-only conditional layer joins the registry like any user-written layer.
fn register_test_layers() {
    io::register::<f64, CondScale<f64>>("tests::CondScale").unwrap();
    io::register::<f32, CondScale<f32>>("tests::CondScale").unwrap();
}

/// Every parameter, as (name, bits).
fn param_bits<F: bijectors::Float>(b: &dyn Bijector<F>) -> Vec<(String, Vec<u64>)> {
    b.params()
        .iter()
        .map(|p| (p.name.clone(), p.value.iter().map(|v| v.as_f64().to_bits()).collect()))
        .collect()
}

fn bits<F: bijectors::Float, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> Vec<u64> {
    a.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// Both formats: the model back from each, and the files.
fn round_trips<T: Serialize + DeserializeOwned>(model: &T) -> Result<Vec<(T, Vec<u8>)>, bijectors::Error> {
    let json = io::to_json(model)?;
    let bytes = io::to_bytes(model)?;
    Ok(vec![(io::from_json::<T>(&json)?, json.into_bytes()), (io::from_bytes::<T>(&bytes)?, bytes)])
}

/// A reloaded box is the same map to the bit, with the same parameters, and saves to the same file.
// The box itself is what is saved (`Box<dyn Bijector<F>>` is the serialisable type), hence `&Box`.
#[allow(clippy::borrowed_box)]
fn check_case<F: Scalar>(case: &Case, b: &Box<dyn Bijector<F>>, seed: u64) -> Result<(), TestCaseError> {
    let fail = |what: String| TestCaseError::fail(format!("{} ({}): {what}", case.name, F::NAME));
    let mut rng = StdRng::seed_from_u64(seed);
    let (x, c) = case.spec.draw(5, &mut rng);
    let x: Array2<F> = x.mapv(F::of);
    let c: Option<Array2<F>> = c.map(|c| c.mapv(F::of));
    let ctx = c.as_ref().map(|c| c.view());
    let (y, ld) = b.transform(Direction::Forward, x.view(), ctx).map_err(|e| fail(e.to_string()))?;
    let ld =
        b.log_det_in(Direction::Forward, x.view(), ctx).map_err(|e| fail(e.to_string())).map(|l| (ld, l))?;
    let (back_x, back_ld) =
        b.transform(Direction::Inverse, y.view(), ctx).map_err(|e| fail(e.to_string()))?;
    for (loaded, file) in round_trips(b).map_err(|e| fail(e.to_string()))? {
        prop_assert_eq!(param_bits(&*loaded), param_bits(&**b), "{}: parameters differ", case.name);
        let (y2, ld2) =
            loaded.transform(Direction::Forward, x.view(), ctx).map_err(|e| fail(e.to_string()))?;
        prop_assert!(bits(&y2) == bits(&y) && bits(&ld2) == bits(&ld.0), "{}: forward differs", case.name);
        let ld3 = loaded.log_det_in(Direction::Forward, x.view(), ctx).map_err(|e| fail(e.to_string()))?;
        prop_assert!(bits(&ld3) == bits(&ld.1), "{}: log_det_in differs", case.name);
        let (x2, ldi) =
            loaded.transform(Direction::Inverse, y.view(), ctx).map_err(|e| fail(e.to_string()))?;
        prop_assert!(
            bits(&x2) == bits(&back_x) && bits(&ldi) == bits(&back_ld),
            "{}: inverse differs",
            case.name
        );
        let again = if file.first() == Some(&b'{') {
            io::to_json(&loaded).map(String::into_bytes)
        } else {
            io::to_bytes(&loaded)
        };
        prop_assert!(
            again.map_err(|e| fail(e.to_string()))? == file,
            "{}: saved again, the file differs",
            case.name
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_zoo_bijector_round_trips_bit_exactly(seed in any::<u64>(), sigma in 0.05f64..0.6) {
        register_test_layers();
        for case in zoo() {
            let b64 = randomized(&case, seed, sigma);
            check_case::<f64>(&case, &b64, seed)?;
            let mut b32 = case.build::<f32>();
            copy_params(&*b64, &mut *b32).map_err(|e| TestCaseError::fail(format!("{}: {e}", case.name)))?;
            check_case::<f32>(&case, &b32, seed)?;
        }
    }
}

/// JSON keeps every f32 and f64 bit pattern: the shortest round-trip decimal of ryu, parsed back
/// by serde_json's `float_roundtrip` (f32 through f64 and back).
#[test]
fn every_float_bit_pattern_survives_json() {
    let mut rng = StdRng::seed_from_u64(5);
    let f64s: Vec<f64> = (0..20_000)
        .map(|_| f64::from_bits(rand::RngExt::random::<u64>(&mut rng)))
        .filter(|v| v.is_finite())
        .chain([0.0, -0.0, f64::MIN_POSITIVE, 5e-324, f64::MAX, -f64::MAX, 0.1, 1.0 / 3.0])
        .collect();
    let f32s: Vec<f32> = (0..20_000)
        .map(|_| f32::from_bits(rand::RngExt::random::<u32>(&mut rng)))
        .filter(|v| v.is_finite())
        .chain([0.0, -0.0, f32::MIN_POSITIVE, 1e-45, f32::MAX, 0.1, 1.0 / 3.0])
        .collect();
    let a64 = bijectors::Affine::new(Array1::from(f64s.clone()).mapv(|v: f64| v % 300.0), Array1::from(f64s))
        .expect("log-scales within ±300");
    let a32 = bijectors::Affine::new(Array1::from(f32s.clone()).mapv(|v: f32| v % 40.0), Array1::from(f32s))
        .expect("log-scales within ±40");
    let back64: bijectors::Affine<f64> = io::from_json(&io::to_json(&a64).unwrap()).unwrap();
    let back32: bijectors::Affine<f32> = io::from_json(&io::to_json(&a32).unwrap()).unwrap();
    assert_eq!(bits(back64.shift()), bits(a64.shift()));
    assert_eq!(bits(back64.log_scale()), bits(a64.log_scale()));
    assert_eq!(bits(back32.shift()), bits(a32.shift()));
    assert_eq!(bits(back32.log_scale()), bits(a32.log_scale()));
}

/// A flow trained for a few Adam steps, saved with its optimizer, reloads to the same
/// log-densities, samples (same seed) and gradients, and training on resumes identically.
#[test]
fn a_trained_flow_and_its_optimizer_resume_exactly() {
    type Moons = Flow<f64, StandardNormal, Chain<f64>>;
    let data = Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let step = |flow: &mut Moons, adam: &mut Adam<f64>, grads: &mut Gradients<f64>| {
        flow.nll_and_grad(data.view(), grads).unwrap();
        adam.step(&mut flow.params_mut(), grads).unwrap();
    };
    // The same seed and data always give the same flow: `trained(n)` is n steps from scratch.
    let trained = |steps: usize| -> (Moons, Adam<f64>) {
        let chain = presets::moons::<f64, _>(&mut StdRng::seed_from_u64(3)).unwrap();
        let mut flow = Flow::new(StandardNormal::new(2).unwrap(), chain).unwrap();
        let mut adam = Adam::<f64>::new(1e-2).unwrap();
        let mut grads = flow.zero_grads();
        for _ in 0..steps {
            step(&mut flow, &mut adam, &mut grads);
        }
        (flow, adam)
    };
    let (flow, adam) = trained(5);
    let (reference, _) = trained(8);
    let reference: Vec<Vec<u64>> =
        reference.params().iter().map(|p| p.value.iter().map(|v| v.to_bits()).collect()).collect();
    for format in ["json", "bin"] {
        let dir = std::env::temp_dir().join(format!("bijectors-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (flow_path, adam_path) = (dir.join(format!("flow.{format}")), dir.join(format!("adam.{format}")));
        io::save(&flow, &flow_path).unwrap();
        io::save(&adam, &adam_path).unwrap();
        let mut flow2: Flow<f64, StandardNormal, Chain<f64>> = io::load(&flow_path).unwrap();
        let mut adam2: Adam<f64> = io::load(&adam_path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(bits(&flow2.log_prob(data.view()).unwrap()), bits(&flow.log_prob(data.view()).unwrap()));
        let s1 = flow.sample(50, &mut StdRng::seed_from_u64(9)).unwrap();
        let s2 = flow2.sample(50, &mut StdRng::seed_from_u64(9)).unwrap();
        assert_eq!(bits(&s1), bits(&s2));
        let (mut g1, mut g2) = (flow.zero_grads(), flow2.zero_grads());
        let l1 = flow.nll_and_grad(data.view(), &mut g1).unwrap();
        let l2 = flow2.nll_and_grad(data.view(), &mut g2).unwrap();
        assert_eq!(l1.to_bits(), l2.to_bits());
        for name in g1.names() {
            assert_eq!(bits(g1.get(name).unwrap()), bits(g2.get(name).unwrap()), "{name}");
        }
        // Three more steps after reloading: the same parameters to the bit as 8 steps in one go.
        let mut grads2 = flow2.zero_grads();
        for _ in 0..3 {
            step(&mut flow2, &mut adam2, &mut grads2);
        }
        let resumed: Vec<Vec<u64>> =
            flow2.params().iter().map(|p| p.value.iter().map(|v| v.to_bits()).collect()).collect();
        assert!(resumed == reference, "{format}: training did not resume exactly");
    }
}

/// SGD with momentum resumes exactly too (its buffers are saved).
#[test]
fn sgd_momentum_state_round_trips() {
    let mut p = ndarray::arr1(&[1.0_f32, -2.0]).into_dyn();
    let mut sgd: Sgd<f32> = SgdConfig::new(0.1).momentum(0.9).build().unwrap();
    let mut g = Gradients::for_params(&[bijectors::Param::new("p", p.view())]);
    g.get_mut("p").unwrap().assign(&ndarray::arr1(&[0.5_f32, -4.0]));
    sgd.step(&mut [bijectors::ParamMut::new("p", p.view_mut())], &g).unwrap();
    let mut back: Sgd<f32> = io::from_bytes(&io::to_bytes(&sgd).unwrap()).unwrap();
    let mut q = p.clone();
    sgd.step(&mut [bijectors::ParamMut::new("p", p.view_mut())], &g).unwrap();
    back.step(&mut [bijectors::ParamMut::new("p", q.view_mut())], &g).unwrap();
    assert_eq!(bits(&p), bits(&q));
}

/// The initialised flag is part of the file: a reloaded ActNorm refuses a second initialisation,
/// and a chain's `initialize_actnorms` leaves it alone; an uninitialised one stays uninitialised.
#[test]
fn a_reloaded_actnorm_never_reinitialises() {
    let data = Array2::from_shape_fn((32, 3), |(i, j)| (i as f64 * 0.37 + j as f64).sin() * 4.0 + 1.0);
    let mut chain =
        bijectors::chain![ActNorm::<f64>::vector(3).unwrap(), ActNorm::<f64>::vector(3).unwrap()].unwrap();
    chain.get_mut::<ActNorm<f64>>(0).unwrap().initialize_forward(data.view()).unwrap();
    let trained = chain.get::<ActNorm<f64>>(0).unwrap().clone();
    for (mut back, _) in round_trips(&chain).unwrap() {
        let first = back.get::<ActNorm<f64>>(0).unwrap();
        assert!(first.is_initialized());
        assert_eq!(bits(first.bias()), bits(trained.bias()));
        assert!(!back.get::<ActNorm<f64>>(1).unwrap().is_initialized());
        assert_eq!(back.initialize_actnorms(data.view()).unwrap(), 1, "only the second is initialised");
        assert_eq!(bits(back.get::<ActNorm<f64>>(0).unwrap().log_scale()), bits(trained.log_scale()));
        assert!(back.get_mut::<ActNorm<f64>>(0).unwrap().initialize_forward(data.view()).is_err());
    }
}

/// What cannot be saved or loaded says so: an unregistered layer, another element type, another
/// version, a registered kind that names another type.
#[test]
fn refusals_name_the_problem() {
    struct Unregistered;
    impl Bijector<f64> for Unregistered {
        fn dim(&self) -> Option<usize> {
            None
        }
        fn pass(&self, args: bijectors::PassArgs<'_, f64>) -> bijectors::Result<bijectors::Pass<f64>> {
            Ok(bijectors::Pass::untaped(args.input.to_owned(), Array1::zeros(args.input.nrows())))
        }
    }
    let chain = bijectors::chain![Unregistered].unwrap();
    for e in [io::to_json(&chain).unwrap_err(), io::to_bytes(&chain).unwrap_err()] {
        assert!(e.to_string().contains("Unregistered is not registered"), "{e}");
    }
    let affine = bijectors::Affine::<f64>::identity(2).unwrap();
    let json = io::to_json(&affine).unwrap();
    let e = io::from_json::<bijectors::Affine<f32>>(&json).unwrap_err();
    assert!(e.to_string().contains("holds f64 values but the model being loaded is f32"), "{e}");
    let e =
        io::from_json::<bijectors::Affine<f64>>(&json.replace("\"version\":1", "\"version\":2")).unwrap_err();
    assert!(e.to_string().contains("format version 2"), "{e}");
    let e = io::from_json::<bijectors::Affine<f64>>(&json.replace("bijectors", "other")).unwrap_err();
    assert!(e.to_string().contains("not a bijectors file"), "{e}");
    assert!(io::register::<f64, CondScale<f64>>("Affine").is_err());
    let bytes = io::to_bytes(&chain_of_affine()).unwrap();
    let e = io::from_bytes::<Chain<f64>>(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(e.to_string().contains("reading binary"), "{e}");
}

/// A saved MADE is rebuilt through its constructors: a connectivity that breaks the
/// autoregressive layer's layout, or is not a connectivity at all, is refused by name.
#[test]
fn a_saved_made_must_fit_its_transform() {
    use bijectors::{BoundedAffine, MaskedAutoregressive, Order};
    let maf = MaskedAutoregressive::<f64, _>::with_made_layers(
        BoundedAffine::default(),
        2,
        1,
        &[3],
        Order::Natural,
        bijectors::Activation::Tanh,
        &mut StdRng::seed_from_u64(0),
    )
    .unwrap();
    let json = io::to_json(&maf).unwrap();
    let load =
        |text: &str| io::from_json::<MaskedAutoregressive<f64, BoundedAffine>>(text).unwrap_err().to_string();
    assert!(json.contains("\"outputs\":[0,1,0,1]"), "{json}");
    // per-coordinate groups [r0 t0 r1 t1] are not BoundedAffine's [r | t] layout
    let e = load(&json.replace("\"outputs\":[0,1,0,1]", "\"outputs\":[0,0,1,1]"));
    assert!(e.contains("not laid out as transform BoundedAffine reads"), "{e}");
    let e = load(&json.replace("\"outputs\":[0,1,0,1]", "\"outputs\":[0,1,0,2]"));
    assert!(e.contains("coordinate 2, but there are 2 coordinates"), "{e}");
    let e = load(&json.replace("\"order\":[0,1]", "\"order\":[1,1]"));
    assert!(e.contains("Made"), "{e}");
    let e = load(&json.replace("\"context_dim\":1", "\"context_dim\":2"));
    assert!(e.contains("weight 0 has shape"), "{e}");
}

fn chain_of_affine() -> Chain<f64> {
    bijectors::chain![bijectors::Affine::<f64>::identity(2).unwrap()].unwrap()
}

/// The safetensors export names every parameter and holds its values bit for bit.
#[test]
fn safetensors_export_holds_every_parameter() {
    let chain = presets::moons::<f32, _>(&mut StdRng::seed_from_u64(1)).unwrap();
    let bytes = io::params_to_safetensors(&chain.params()).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    for p in chain.params() {
        let info = &header[p.name.as_str()];
        assert_eq!(info["dtype"], "F32", "{}", p.name);
        let shape: Vec<usize> =
            info["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(shape, p.value.shape());
        let (start, end) = (
            info["data_offsets"][0].as_u64().unwrap() as usize,
            info["data_offsets"][1].as_u64().unwrap() as usize,
        );
        let values: Vec<f32> =
            data[start..end].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, p.value.iter().copied().collect::<Vec<_>>(), "{}", p.name);
    }
}

#[test]
fn a_saved_squeeze_round_trips_and_must_have_even_sides() {
    use bijectors::{ImageShape, Squeeze};
    let squeeze = Squeeze::new(ImageShape::new(2, 4, 6).unwrap()).unwrap();
    let json = io::to_json(&squeeze).unwrap();
    assert_eq!(io::from_json::<Squeeze>(&json).unwrap(), squeeze);
    assert!(json.contains("\"height\":4"), "{json}");
    let e = io::from_json::<Squeeze>(&json.replace("\"height\":4", "\"height\":3")).unwrap_err().to_string();
    assert!(e.contains("odd side"), "{e}");
}
