//! Hostile files (feature `serde`): valid saved flows, mutated every way we could think of —
//! truncated at every byte (binary) and every character (JSON), single bytes flipped, NaN, ±inf
//! and all-ones words written over every offset, every JSON number, flag, string, array and field
//! changed, absurd sizes, layers nested a million deep — must each load as an `Err` or as a model
//! that passes the law checks (round trips, inverse log-det, numerical-Jacobian log-det) and whose
//! log-densities and samples are finite; never a panic (caught with `catch_unwind`), never an
//! abort. A mutation that makes a parameter extreme (|θ| > 1e3: a flipped exponent byte) gives a
//! model the constructors accept too, whose round trip then loses all precision in floating
//! point; such models are counted apart and only have to stay finite or refuse.
#![cfg(feature = "serde")]

use bijectors::testing::{check_jacobian, check_laws, Config, Domain, Spec};
use bijectors::{
    chain, io, ActNorm, Activation, AdditiveCoupling, Affine, AffineCoupling, Bijector, Chain, Flow,
    ImageShape, Invertible1x1Conv, Mask, Permutation, StandardNormal,
};
use ndarray::{array, Array2};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

type Model = Flow<f64, StandardNormal, Chain<f64>>;

/// A small flow with every kind of frozen state: an initialised ActNorm, masks, a permutation,
/// an LU 1x1 convolution (P and signs), couplings with MLPs, an affine.
fn model() -> Model {
    let mut rng = StdRng::seed_from_u64(11);
    let mut chain = chain![
        ActNorm::<f64>::vector(2).unwrap(),
        AffineCoupling::<f64>::with_mlp(Mask::alternating(2, 0).unwrap(), &[3], Activation::Tanh, &mut rng)
            .unwrap(),
        Permutation::reverse(2).unwrap(),
        Invertible1x1Conv::<f64>::lu_from_matrix(
            ImageShape::vector(2).unwrap(),
            array![[0.3, 1.2], [0.9, -0.4]]
        )
        .unwrap(),
        AdditiveCoupling::<f64>::with_mlp(
            Mask::alternating(2, 1).unwrap(),
            &[2],
            Activation::Softplus,
            &mut rng
        )
        .unwrap(),
        Affine::new(array![0.2, -0.1], array![0.5, -0.25]).unwrap(),
    ]
    .unwrap();
    let data = Array2::from_shape_fn((16, 2), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 3.0 - 1.0);
    chain.initialize_actnorms(data.view()).unwrap();
    for mut p in chain.params_mut() {
        p.value.iter_mut().enumerate().for_each(|(i, v)| *v += 0.1 * ((i as f64) * 1.7).sin());
    }
    Flow::new(StandardNormal::new(2).unwrap(), chain).unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    refused: usize,
    lawful: usize,
    extreme: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.refused + self.lawful + self.extreme
    }
}

/// Loads one mutated file and judges the outcome.
fn judge(tally: &mut Tally, label: &str, load: impl FnOnce() -> bijectors::Result<Model>) {
    let outcome = catch_unwind(AssertUnwindSafe(load));
    let Ok(loaded) = outcome else { panic!("{label}: loading panicked") };
    let Ok(flow) = loaded else {
        tally.refused += 1;
        return;
    };
    let verdict = catch_unwind(AssertUnwindSafe(|| examine(&flow)));
    match verdict {
        Err(_) => panic!("{label}: the loaded model panicked"),
        Ok(Err(why)) => panic!("{label}: the loaded model is broken: {why}"),
        Ok(Ok(true)) => tally.lawful += 1,
        Ok(Ok(false)) => tally.extreme += 1,
    }
}

/// `Ok(true)`: the laws hold; `Ok(false)`: extreme parameters, finite or refusing; `Err`: broken.
fn examine(flow: &Model) -> Result<bool, String> {
    let x = Array2::from_shape_fn((8, 2), |(i, j)| (i as f64 * 0.7 + j as f64).cos() * 1.5);
    match flow.log_prob(x.view()) {
        Ok(lp) if lp.iter().any(|v| !v.is_finite()) => return Err(format!("log_prob not finite: {lp}")),
        _ => {}
    }
    match flow.sample(8, &mut StdRng::seed_from_u64(1)) {
        Ok(s) if s.iter().any(|v| !v.is_finite()) => return Err("a sample is not finite".into()),
        _ => {}
    }
    // Far outside what training produces (this model's own parameters are below 2 in size).
    let extreme = flow.params().iter().any(|p| p.value.iter().any(|v| v.abs() > 1e3));
    let spec = Spec::new(Domain::Real, 2);
    let cfg = Config { rows: 6, ..Config::default() };
    let laws =
        check_laws(flow.bijector(), &spec, &cfg).and_then(|_| check_jacobian(flow.bijector(), &spec, &cfg));
    match (laws, extreme) {
        (Ok(_), _) => Ok(true),
        (Err(_), true) => Ok(false),
        (Err(e), false) => Err(e.to_string()),
    }
}

#[test]
fn truncated_files_are_refused_at_every_offset() {
    let m = model();
    let bytes = io::to_bytes(&m).unwrap();
    let json = io::to_json(&m).unwrap();
    let mut tally = Tally::default();
    for end in 0..bytes.len() {
        judge(&mut tally, &format!("binary cut at {end}"), || io::from_bytes(&bytes[..end]));
    }
    for (end, _) in json.char_indices() {
        judge(&mut tally, &format!("JSON cut at {end}"), || io::from_json(&json[..end]));
    }
    println!(
        "truncations: {tally:?} of {} cases ({} binary bytes, {} JSON chars)",
        tally.total(),
        bytes.len(),
        json.len()
    );
    assert_eq!(tally.refused, tally.total(), "a truncated file loaded");
    // Trailing bytes are refused too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(io::from_bytes::<Model>(&longer).is_err());
}

#[test]
fn corrupted_binary_files_are_refused_or_lawful() {
    let bytes = io::to_bytes(&model()).unwrap();
    let mut tally = Tally::default();
    for at in 0..bytes.len() {
        for mask in [0x01u8, 0x10, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[at] ^= mask;
            judge(&mut tally, &format!("byte {at} ^ {mask:#x}"), || io::from_bytes(&b));
        }
        for word in [
            f64::NAN.to_bits(),
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            u64::MAX,
            1e300f64.to_bits(),
        ] {
            let mut b = bytes.clone();
            let end = (at + 8).min(b.len());
            b[at..end].copy_from_slice(&word.to_le_bytes()[..end - at]);
            judge(&mut tally, &format!("word {word:#x} at {at}"), || io::from_bytes(&b));
        }
    }
    println!("binary corruptions: {tally:?} of {} cases", tally.total());
    assert!(tally.refused > 0 && tally.lawful > 0);
}

/// Every node of a JSON tree, by path, with the mutations that apply to it.
fn mutations(v: &Value) -> Vec<Value> {
    match v {
        Value::Number(_) => [
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(0.5),
            serde_json::json!(1e308),
            serde_json::json!(-1e308),
            serde_json::json!(1u64 << 60),
            serde_json::json!(u64::MAX),
            Value::Null,
        ]
        .to_vec(),
        Value::Bool(b) => vec![Value::Bool(!b), serde_json::json!(1)],
        Value::String(_) => vec![
            serde_json::json!("f32"),
            serde_json::json!(""),
            serde_json::json!("Chain"),
            serde_json::json!(7),
        ],
        Value::Array(a) => {
            let mut out = vec![Value::Array(vec![])];
            if let Some(first) = a.first() {
                out.push(Value::Array(a[1..].to_vec()));
                out.push(Value::Array(a.iter().chain([first]).cloned().collect()));
            }
            out
        }
        Value::Object(o) => {
            let mut out = vec![Value::Object(Default::default())];
            for k in o.keys() {
                let mut smaller = o.clone();
                smaller.remove(k);
                out.push(Value::Object(smaller));
            }
            let mut extra = o.clone();
            extra.insert("extra".into(), Value::Null);
            out.push(Value::Object(extra));
            out
        }
        Value::Null => vec![serde_json::json!(0)],
    }
}

/// Calls `f` with every tree that differs from `root` by one mutation.
fn each_mutant(root: &Value, f: &mut impl FnMut(&str, Value)) {
    fn walk(root: &Value, path: &mut Vec<String>, node: &Value, f: &mut dyn FnMut(&str, Value)) {
        for m in mutations(node) {
            let mut copy = root.clone();
            let pointer = format!("/{}", path.join("/"));
            let slot =
                if path.is_empty() { &mut copy } else { copy.pointer_mut(&pointer).expect("path exists") };
            *slot = m;
            f(&pointer, copy);
        }
        match node {
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(root, path, child, f);
                    path.pop();
                }
            }
            Value::Object(o) => {
                for (k, child) in o {
                    path.push(k.replace('~', "~0").replace('/', "~1"));
                    walk(root, path, child, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(root, &mut Vec::new(), root, f);
}

#[test]
fn every_json_field_changed_is_refused_or_lawful() {
    let json = io::to_json(&model()).unwrap();
    let root: Value = serde_json::from_str(&json).unwrap();
    let mut tally = Tally::default();
    each_mutant(&root, &mut |path, mutant| {
        let text = mutant.to_string();
        judge(&mut tally, &format!("JSON {path}"), || io::from_json(&text));
    });
    println!("JSON field mutations: {tally:?} of {} cases", tally.total());
    assert!(tally.refused > 0 && tally.lawful > 0);
}

/// The named cases of the issue, each with the message it must give.
#[test]
fn named_hostile_cases_say_what_is_wrong() {
    let json = io::to_json(&model()).unwrap();
    let root: Value = serde_json::from_str(&json).unwrap();
    let layer = |i: usize| format!("/model/bijector/layers/{i}/state");
    let case = |pointer: String, value: Value, expect: &str| {
        let mut v = root.clone();
        *v.pointer_mut(&pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        let e = io::from_json::<Model>(&v.to_string()).unwrap_err().to_string();
        assert!(e.contains(expect), "{pointer}: {e}");
    };
    // A header that asks for 2^60 entries, and a shape that disagrees with the data.
    case(format!("{}/bias/shape", layer(0)), serde_json::json!([1u64 << 60]), "holds 2 values");
    case(format!("{}/bias/shape", layer(0)), serde_json::json!([3]), "holds 2 values");
    case(format!("{}/bias/shape", layer(0)), serde_json::json!([1u64 << 32, 1u64 << 32]), "rank-1");
    // An invalid permutation, mask, LU sign; a singular dense weight.
    case(format!("{}/perm", layer(2)), serde_json::json!([0, 0]), "permutation");
    case(format!("{}/mask/bits", layer(1)), serde_json::json!([true, true]), "mask");
    case(format!("{}/weights/Lu/sign_s/data", layer(3)), serde_json::json!([1.0, 0.5]), "sign_s");
    case(
        format!("{}/weights", layer(3)),
        serde_json::json!({"Dense": {"weight": {"dtype": "f64", "shape": [2, 2], "data": [1.0, 2.0, 2.0, 4.0]}}}),
        "singular",
    );
    // An ActNorm flag without parameters; a parameter beyond the overflow bound.
    let mut v = root.clone();
    v.pointer_mut(&layer(0)).unwrap().as_object_mut().unwrap().remove("bias");
    let e = io::from_json::<Model>(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("bias"), "{e}");
    case(format!("{}/log_scale/data", layer(5)), serde_json::json!([1e300, 0.0]), "overflow");
    // Another element type, a width mismatch between layers, an unknown kind.
    case(format!("{}/shift/dtype", layer(5)), serde_json::json!("f32"), "holds f32 values");
    case(
        format!("{}/shift", layer(5)),
        serde_json::json!({"dtype": "f64", "shape": [3], "data": [0.0, 0.0, 0.0]}),
        "Affine",
    );
    case("/model/bijector/layers/2/kind".into(), serde_json::json!("Rotation"), "unknown layer kind");
    // NaN in the binary format (JSON cannot spell it).
    let m = model();
    let bytes = io::to_bytes(&m).unwrap();
    let target = m.bijector().get::<Affine<f64>>(5).unwrap().shift()[0].to_le_bytes();
    let at = bytes.windows(8).position(|w| w == target).expect("the shift is stored as its 8 bytes");
    let mut b = bytes.clone();
    b[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let e = io::from_bytes::<Model>(&b).unwrap_err().to_string();
    assert!(e.contains("not finite"), "{e}");
}

/// Boxed layers nested far deeper than any model: refused, without exhausting the stack, in the
/// binary format (postcard has no recursion limit of its own) and in JSON.
#[test]
fn layers_nested_a_million_deep_are_refused() {
    // postcard: the header {format: "bijectors", version: 1}, then Chain { layers: [Layer {
    // kind: "Chain", state: Chain { layers: [ ... ] } }] } a million times.
    let mut b = vec![9u8];
    b.extend_from_slice(b"bijectors");
    b.push(1);
    for _ in 0..1_000_000 {
        b.extend_from_slice(&[1, 5]);
        b.extend_from_slice(b"Chain");
    }
    b.push(0);
    let e = io::from_bytes::<Chain<f64>>(&b).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 16"), "{e}");
    let mut j = String::from(r#"{"format":"bijectors","version":1,"model":{"layers":["#);
    let depth = 100;
    j.push_str(&r#"{"kind":"Chain","state":{"layers":["#.repeat(depth));
    j.push_str(&"]}}".repeat(depth));
    j.push_str("]}}");
    let e = io::from_json::<Chain<f64>>(&j).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 16") || e.contains("recursion"), "{e}");
    // Within the limit, nesting is fine.
    let inner: Chain<f64> = io::from_json(
        &j.replace(
            &r#"{"kind":"Chain","state":{"layers":["#.repeat(depth),
            &r#"{"kind":"Chain","state":{"layers":["#.repeat(3),
        )
        .replace(&"]}}".repeat(depth), &"]}}".repeat(3)),
    )
    .unwrap();
    assert_eq!(inner.len(), 1);
}
