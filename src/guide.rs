//! # Writing your own bijector
//!
//! A layer is one type implementing [`Bijector`](crate::Bijector): its width, **one** pass for
//! both directions, its named parameters and, to be trainable, **one** backward. Everything else
//! (`forward`, `inverse`, the log-det-only methods, input/context/parameter validation, checks of
//! your output, tape bookkeeping, use inside a [`Chain`](crate::Chain) or a
//! [`Flow`](crate::Flow), the optimizers) comes with the trait.
//!
//! This page builds an elementwise layer that is not in the crate,
//!
//! ```text
//! y = x + a·tanh(x),   a = e^θ − 1 > −1   (per column; θ is the parameter "log1p_a")
//! ```
//!
//! invertible because `dy/dx = 1 + a·sech²(x) > 0` when `a > −1` (and `sech² ∈ (0, 1]`).
//!
//! * forward: `y = x + a·t`, `t = tanh x`; log-det `Σ ln(1 + a·s)`, `s = 1 − t²`;
//! * inverse: no closed form, so a **safeguarded Newton** iteration solves `x + a·tanh x = y`:
//!   the root lies in `[y − |a|, y + |a|]` (because `|a·tanh x| ≤ |a|`), each step is Newton's
//!   when it stays inside the bracket and a bisection otherwise, so it always converges;
//!   log-det `−Σ ln(1 + a·s(x))`;
//! * backward, with `G = ∂L/∂out`, `v = ∂L/∂log_det`, `u = 1 + a·s`, `ds/dx = −2ts`:
//!   - forward: `∂L/∂x = G·u − v·2ats/u`, `∂L/∂a = Σ_rows (G·t + v·s/u)`;
//!   - inverse (`x` the output): with `q = G + v·2ats/u` (the total derivative of `L` with respect
//!     to the output `x`), `∂L/∂y = q/u` and `∂L/∂a = Σ_rows (−t·q − v·s)/u`;
//!   - and `∂L/∂θ = (1 + a)·∂L/∂a`.
//!
//! The pass gets a validated input (non-empty, finite, right width) and finite parameters; the
//! trait checks its output and log-det. Here is the whole layer, trained by maximum likelihood
//! with plain gradient descent, using only the public API:
//!
//! ```
//! use bijectors::{Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut,
//!                 InputGrads, Param, ParamMut, Pass, PassArgs, PassRecord, Result};
//! use ndarray::{Array1, Array2, Zip};
//!
//! /// `y = x + a·tanh(x)` per column, `a = exp(θ) − 1`.
//! pub struct TanhResidual<F: Float> {
//!     theta: Array1<F>,
//! }
//!
//! impl<F: Float> TanhResidual<F> {
//!     pub fn new(theta: Array1<F>) -> Result<Self> {
//!         if theta.is_empty() || !theta.iter().all(|t| t.is_finite() && *t < F::of(30.0)) {
//!             return Err(Error::InvalidParameter("theta must be finite and below 30".into()));
//!         }
//!         Ok(Self { theta })
//!     }
//!     fn a(&self) -> Array1<F> {
//!         self.theta.mapv(|t| t.exp_m1())
//!     }
//! }
//!
//! /// Solves `x + a·tanh(x) = y` by Newton steps kept inside the bracket `[y − |a|, y + |a|]`.
//! fn solve<F: Float>(y: F, a: F) -> F {
//!     let (mut lo, mut hi) = (y - a.abs(), y + a.abs());
//!     let mut x = y;
//!     for _ in 0..100 {
//!         let t = x.tanh();
//!         let g = x + a * t - y;
//!         if g > F::zero() { hi = x } else { lo = x }
//!         let newton = x - g / (F::one() + a * (F::one() - t * t));
//!         let next = if newton > lo && newton < hi { newton } else { (lo + hi) / F::of(2.0) };
//!         if (next - x).abs() <= F::epsilon() * (F::one() + x.abs()) {
//!             return next;
//!         }
//!         x = next;
//!     }
//!     x
//! }
//!
//! impl<F: Float> Bijector<F> for TanhResidual<F> {
//!     fn dim(&self) -> Option<usize> {
//!         Some(self.theta.len())
//!     }
//!
//!     fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
//!         let a = self.a();
//!         let mut out = Array2::zeros(args.input.raw_dim());
//!         Zip::from(out.rows_mut()).and(args.input.rows()).for_each(|o, v| {
//!             Zip::from(o).and(v).and(&a).for_each(|o, &v, &a| {
//!                 *o = match args.direction {
//!                     Direction::Forward => v + a * v.tanh(),
//!                     Direction::Inverse => solve(v, a),
//!                 }
//!             })
//!         });
//!         // The log-det is read at the x end of the map in both directions.
//!         let x = if args.direction.is_forward() { args.input } else { out.view() };
//!         let mut log_det = Array1::zeros(x.nrows());
//!         Zip::from(&mut log_det).and(x.rows()).for_each(|ld, row| {
//!             let sum: F = row.iter().zip(&a).map(|(&x, &a)| (a * (F::one() - x.tanh().powi(2))).ln_1p()).sum();
//!             *ld = args.direction.sign::<F>() * sum;
//!         });
//!         Ok(Pass::untaped(out, log_det))
//!     }
//!
//!     fn backward(&self, record: &PassRecord<'_, F>, cot: &Cotangents<'_, F>, mut grads: GradientsMut<'_, F>)
//!         -> Result<InputGrads<F>>
//!     {
//!         let a = self.a();
//!         let forward = record.direction.is_forward();
//!         let x = if forward { record.input } else { record.output };
//!         let mut grad_in = Array2::zeros(x.raw_dim());
//!         let mut grad_a = Array1::<F>::zeros(a.len());
//!         for (r, row) in x.rows().into_iter().enumerate() {
//!             let v = cot.log_det[r];
//!             for (j, &xj) in row.iter().enumerate() {
//!                 let (t, g) = (xj.tanh(), cot.output[[r, j]]);
//!                 let s = F::one() - t * t;
//!                 let u = F::one() + a[j] * s;
//!                 let dld_dx = F::of(2.0) * a[j] * t * s / u; // d ln u / dx = −2ats/u
//!                 if forward {
//!                     grad_in[[r, j]] = g * u - v * dld_dx;
//!                     grad_a[j] += g * t + v * s / u;
//!                 } else {
//!                     let q = g + v * dld_dx;
//!                     grad_in[[r, j]] = q / u;
//!                     grad_a[j] += (-t * q - v * s) / u;
//!                 }
//!             }
//!         }
//!         let g_theta = grads.vector("log1p_a", a.len())?;
//!         Zip::from(g_theta).and(&grad_a).and(&a).for_each(|g, &ga, &a| *g += ga * (F::one() + a));
//!         Ok(InputGrads::input_only(grad_in))
//!     }
//!
//!     fn params(&self) -> Vec<Param<'_, F>> {
//!         vec![Param::new("log1p_a", self.theta.view().into_dyn())]
//!     }
//!
//!     fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
//!         vec![ParamMut::new("log1p_a", self.theta.view_mut().into_dyn())]
//!     }
//! }
//!
//! // It maps both ways and its log-dets agree.
//! let layer = TanhResidual::new(ndarray::array![0.5_f64, -0.5])?;
//! let x = ndarray::array![[0.3, -1.2], [2.0, 0.1]];
//! let (y, ld) = layer.forward_and_log_det(x.view())?;
//! let (back, ild) = layer.inverse_and_log_det(y.view())?;
//! assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
//! assert!((&ld + &ild).iter().all(|e| e.abs() < 1e-12));
//! assert!(layer.forward(ndarray::array![[f64::NAN, 0.0]].view()).is_err()); // validated for us
//!
//! // Train it by maximum likelihood on data from a "true" layer, z ~ N(0, 1), x = f(z):
//! // NLL = mean_rows(½|z|² − ln det ∂z/∂x) + const with z = f⁻¹(x), so the cotangents of the
//! // inverse pass are ∂NLL/∂z = z/n and ∂NLL/∂log_det = −1/n.
//! use rand::{rngs::StdRng, SeedableRng};
//! let mut rng = StdRng::seed_from_u64(1);
//! let truth = TanhResidual::new(ndarray::array![1.5_f64.ln_1p(), (-0.6_f64).ln_1p()])?;
//! let z = Array2::from_shape_simple_fn((4000, 2), || f64::standard_normal(&mut rng));
//! let data = truth.forward(z.view())?;
//! let mut model = TanhResidual::new(Array1::zeros(2))?;
//! let mut grads = Gradients::for_params(&model.params());
//! let n = data.nrows() as f64;
//! for _ in 0..300 {
//!     grads.zero();
//!     let rec = model.record(Direction::Inverse, data.view(), None)?;
//!     let g_z = rec.output() / n;
//!     let g_ld = Array1::from_elem(data.nrows(), -1.0 / n);
//!     model.gradient(&rec, Cotangents { output: g_z.view(), log_det: g_ld.view() }, &mut grads)?;
//!     drop(rec); // the record borrows the model: release it before the update
//!     for mut p in model.params_mut() {
//!         p.value.scaled_add(-0.5, grads.get(&p.name).unwrap());
//!     }
//! }
//! let learned = model.a();
//! assert!((learned[0] - 1.5).abs() < 0.15 && (learned[1] + 0.6).abs() < 0.1, "{learned}");
//!
//! // Finally the crate's own law suites (the `testing` feature, which this crate's tests enable):
//! // round trips, the log-det against a numerical Jacobian in both directions, the backward
//! // against finite differences (input and parameter, both directions), f32 = f64, and several
//! // hundred hostile inputs (extreme values, NaN/inf, wrong shapes, foreign tapes).
//! use bijectors::testing::{check_all, Config, Domain, Spec};
//! let mut l64 = TanhResidual::new(ndarray::array![0.4_f64, -0.3, 1.2])?;
//! let mut l32 = TanhResidual::new(Array1::<f32>::zeros(3))?;
//! let twin = TanhResidual::new(ndarray::array![0.1_f64, 0.2, 0.3])?;
//! let report = check_all(&mut l64, &mut l32, Some(&twin), &Spec::new(Domain::Real, 3), &Config::default())
//!     .unwrap_or_else(|failure| panic!("{failure}"));
//! assert!(report.hostile_cases() > 400);
//! # Ok::<(), bijectors::Error>(())
//! ```
//!
//! Downstream, the same checks run on your layers with
//! `bijectors = { version = "0.2", features = ["testing"] }` in your `[dev-dependencies]`.
//!
//! ## What to know
//!
//! * **Tapes.** A layer that needs intermediate values in its backward returns them from the
//!   pass as its own struct, `Pass { output, log_det, tape: Tape::new(MyTape { .. }) }`, only
//!   when `args.record` is set, and reads them back with `record.tape.get::<MyTape>(self.name())?`.
//!   The trait stamps each tape with the layer, direction and arrays it belongs to, so a tape
//!   handed to the wrong layer is an error, not a wrong gradient.
//! * **Context.** A conditional layer returns `Some(width)` from `context_dim`, reads
//!   `args.context` (validated: present, one row per sample, finite) and returns `∂L/∂context`
//!   in [`InputGrads::context`](crate::InputGrads).
//! * **Containers** call [`checked_pass`](crate::Bijector::checked_pass) and
//!   [`checked_backward`](crate::Bijector::checked_backward) on their parts, prefix their parts'
//!   parameter names, and split the gradient scope with
//!   [`GradientsMut::split_part`](crate::GradientsMut::split_part).
//! * **Saving** (feature `serde`). Derive `serde::Serialize` and `Deserialize` for the layer
//!   (`#[serde(with = "bijectors::io::array")]` on its `ndarray` fields keeps the dtype check of
//!   the built-in layers; a `#[serde(try_from = "...")]` form can route loading through your
//!   validating constructor), then call
//!   `bijectors::io::register::<f64, TanhResidual<f64>>("my_crate::TanhResidual")` once per
//!   scalar type before saving or loading: a [`Chain`](crate::Chain) holding it can then be
//!   saved, and its boxes reload as `TanhResidual`. A layer nobody registered is refused by name
//!   when saved.
