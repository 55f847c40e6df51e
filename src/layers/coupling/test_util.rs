//! Test-only conditioners and the finite-difference checks of the coupling tests.

use crate::core::{
    Bijector, Cotangents, Direction, Float, Gradients, GradientsMut, Param, ParamMut, Result, Tape,
};
use crate::nn::Conditioner;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `out = act(x·W + b)` with `act` = tanh or the identity; parameters `"w"` `(in, out)`, `"b"`.
#[derive(Debug, Clone)]
pub(crate) struct TestNet<F: Float> {
    pub w: Array2<F>,
    pub b: Array1<F>,
    pub tanh: bool,
}

/// The activations a recorded [`TestNet`] pass keeps.
struct TestNetTape<F> {
    out: Array2<F>,
}

impl<F: Float> TestNet<F> {
    /// A linear map (no tanh): for hand-computed values.
    pub fn linear(w: Array2<F>, b: Array1<F>) -> Self {
        Self { w, b, tanh: false }
    }

    /// `tanh(x·W + b)` with `N(0, scale²)` weights and biases.
    pub fn random<R: Rng + ?Sized>(input: usize, output: usize, scale: f64, rng: &mut R) -> Self {
        let mut draw = || F::of(scale) * F::standard_normal(rng);
        let w = Array2::from_shape_simple_fn((input, output), &mut draw);
        let b = Array1::from_shape_simple_fn(output, &mut draw);
        Self { w, b, tanh: true }
    }
}

impl<F: Float> Conditioner<F> for TestNet<F> {
    fn input_dim(&self) -> usize {
        self.w.nrows()
    }
    fn output_dim(&self) -> usize {
        self.w.ncols()
    }
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        let mut z = x.dot(&self.w) + &self.b;
        if self.tanh {
            z.mapv_inplace(F::tanh);
        }
        let tape = if record { Tape::new(TestNetTape { out: z.clone() }) } else { Tape::none() };
        Ok((z, tape))
    }
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let out = &tape.get::<TestNetTape<F>>("TestNet")?.out;
        let mut gz = grad_out.to_owned();
        if self.tanh {
            gz.zip_mut_with(out, |g, &o| *g *= F::one() - o * o);
        }
        *grads.get_shaped("w", self.w.shape())? += &x.t().dot(&gz).into_dyn();
        *grads.get_shaped("b", self.b.shape())? += &gz.sum_axis(Axis(0)).into_dyn();
        Ok(gz.dot(&self.w.t()))
    }
    fn params(&self) -> Vec<Param<'_, F>> {
        vec![Param::new("w", self.w.view().into_dyn()), Param::new("b", self.b.view().into_dyn())]
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        vec![
            ParamMut::new("w", self.w.view_mut().into_dyn()),
            ParamMut::new("b", self.b.view_mut().into_dyn()),
        ]
    }
}

/// A ReLU network `v ↦ W_L(…relu(v W_1 + b_1)…) + b_L` (forward only), for the mirror check.
#[derive(Debug, Clone)]
pub(crate) struct ReluStack {
    pub w: Vec<Array2<f64>>,
    pub b: Vec<Array1<f64>>,
}

impl Conditioner<f64> for ReluStack {
    fn input_dim(&self) -> usize {
        self.w[0].nrows()
    }
    fn output_dim(&self) -> usize {
        self.w[self.w.len() - 1].ncols()
    }
    fn forward(&self, x: ArrayView2<f64>, _: bool) -> Result<(Array2<f64>, Tape)> {
        let mut h = x.to_owned();
        for (l, (w, b)) in self.w.iter().zip(&self.b).enumerate() {
            h = h.dot(w) + b;
            if l + 1 < self.w.len() {
                h.mapv_inplace(|v| v.max(0.0));
            }
        }
        Ok((h, Tape::none()))
    }
    fn params(&self) -> Vec<Param<'_, f64>> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, f64>> {
        Vec::new()
    }
}

/// A conditioner that claims `(input, claimed)` widths but returns `returned` columns, filled with
/// `value` (NaN to misbehave that way); its backward returns a gradient one column too wide.
#[derive(Debug, Clone)]
pub(crate) struct Liar {
    pub input: usize,
    pub claimed: usize,
    pub returned: usize,
    pub value: f64,
}

impl Conditioner<f64> for Liar {
    fn input_dim(&self) -> usize {
        self.input
    }
    fn output_dim(&self) -> usize {
        self.claimed
    }
    fn forward(&self, x: ArrayView2<f64>, _: bool) -> Result<(Array2<f64>, Tape)> {
        Ok((Array2::from_elem((x.nrows(), self.returned), self.value), Tape::none()))
    }
    fn backward(
        &self,
        x: ArrayView2<f64>,
        _: &Tape,
        _: ArrayView2<f64>,
        _: GradientsMut<'_, f64>,
    ) -> Result<Array2<f64>> {
        Ok(Array2::zeros((x.nrows(), x.ncols() + 1)))
    }
    fn params(&self) -> Vec<Param<'_, f64>> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, f64>> {
        Vec::new()
    }
}

/// Sets every parameter of `layer` to independent `N(0, scale²)` draws.
pub(crate) fn randomize<B: Bijector<f64>>(layer: &mut B, scale: f64, rng: &mut StdRng) {
    for mut p in layer.params_mut() {
        p.value.mapv_inplace(|_| scale * f64::standard_normal(rng));
    }
}

/// A batch of standard normal rows.
pub(crate) fn normal<F: Float>(n: usize, d: usize, rng: &mut StdRng) -> Array2<F> {
    Array2::from_shape_simple_fn((n, d), || F::standard_normal(rng))
}

/// Five-point central difference of `f` at 0 along one coordinate, step `h`.
fn five_point(f: impl Fn(f64) -> f64, h: f64) -> f64 {
    (f(-2.0 * h) - 8.0 * f(-h) + 8.0 * f(h) - f(2.0 * h)) / (12.0 * h)
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-7 * want.abs().max(1.0),
        "{what}: backward {got} vs finite differences {want}"
    );
}

/// Checks `layer`'s backward in `direction` against finite differences of
/// `L = Σ w ⊙ out + Σ u ⊙ log_det` (random `w`, `u`): `∂L/∂input`, `∂L/∂context` and every
/// parameter; also that the recorded pass equals the plain one exactly and that a second backward
/// adds the same gradients again.
pub(crate) fn check_gradients<B: Bijector<f64>>(
    layer: &mut B,
    x: &Array2<f64>,
    ctx: Option<&Array2<f64>>,
    direction: Direction,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (n, d) = x.dim();
    let w: Array2<f64> = normal(n, d, &mut rng);
    let u: Array1<f64> = normal::<f64>(1, n, &mut rng).row(0).to_owned();
    let loss = |layer: &B, x: &Array2<f64>, c: Option<&Array2<f64>>| {
        let (o, l) = layer.transform(direction, x.view(), c.map(|c| c.view())).unwrap();
        (&o * &w).sum() + (&l * &u).sum()
    };
    let (plain, plain_ld) = layer.transform(direction, x.view(), ctx.map(|c| c.view())).unwrap();
    let mut grads = Gradients::for_params(&layer.params());
    let (gin, twice) = {
        let rec = layer.record(direction, x.view(), ctx.map(|c| c.view())).unwrap();
        assert_eq!(
            (rec.output(), rec.log_det()),
            (&plain, &plain_ld),
            "recorded pass differs from the plain one"
        );
        let cot = Cotangents { output: w.view(), log_det: u.view() };
        let gin = layer.gradient(&rec, cot, &mut grads).unwrap();
        let mut twice = grads.clone();
        assert_eq!(layer.gradient(&rec, cot, &mut twice).unwrap(), gin);
        (gin, twice)
    };
    for (a, b) in twice.arrays().iter().zip(grads.arrays()) {
        assert!(a.iter().zip(b).all(|(a, b)| (a - 2.0 * b).abs() <= 1e-12 * b.abs().max(1.0)));
    }
    let h = 1e-3;
    for ((r, c), &g) in gin.input.indexed_iter() {
        let fd = five_point(
            |e| {
                let mut xp = x.clone();
                xp[[r, c]] += e;
                loss(layer, &xp, ctx)
            },
            h,
        );
        assert_close(g, fd, &format!("dL/dx[{r}, {c}] ({direction:?})"));
    }
    match (ctx, &gin.context) {
        (None, None) => {}
        (Some(cx), Some(gc)) => {
            for ((r, c), &g) in gc.indexed_iter() {
                let fd = five_point(
                    |e| {
                        let mut cp = cx.clone();
                        cp[[r, c]] += e;
                        loss(layer, x, Some(&cp))
                    },
                    h,
                );
                assert_close(g, fd, &format!("dL/dcontext[{r}, {c}] ({direction:?})"));
            }
        }
        (c, g) => panic!("context {:?} but context gradient {:?}", c.is_some(), g.is_some()),
    }
    let names: Vec<String> = layer.params().iter().map(|p| p.name.clone()).collect();
    for (p, name) in names.iter().enumerate() {
        let len = layer.params()[p].value.len();
        for k in 0..len {
            let nudge = |layer: &mut B, e: f64| {
                *layer.params_mut()[p].value.iter_mut().nth(k).unwrap() += e;
            };
            let mut at = |e: f64| {
                nudge(layer, e);
                let l = loss(layer, x, ctx);
                nudge(layer, -e);
                l
            };
            let fd = (at(-2.0 * h) - 8.0 * at(-h) + 8.0 * at(h) - at(2.0 * h)) / (12.0 * h);
            let g = *grads.get(name).unwrap().iter().nth(k).unwrap();
            assert_close(g, fd, &format!("dL/d{name}[{k}] ({direction:?})"));
        }
    }
}

pub(crate) use crate::layers::fd::log_abs_det;

/// Per-row `log|det J|` of `f` at the rows of `x`, `J` by central differences with step `h`.
pub(crate) fn fd_log_det(f: impl Fn(ArrayView2<f64>) -> Array2<f64>, x: &Array2<f64>, h: f64) -> Array1<f64> {
    let (n, d) = x.dim();
    let mut jac = vec![Array2::<f64>::zeros((d, d)); n];
    for j in 0..d {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.column_mut(j).mapv_inplace(|v| v + h);
        xm.column_mut(j).mapv_inplace(|v| v - h);
        let (fp, fm) = (f(xp.view()), f(xm.view()));
        for (r, jr) in jac.iter_mut().enumerate() {
            for i in 0..d {
                jr[[i, j]] = (fp[[r, i]] - fm[[r, i]]) / (2.0 * h);
            }
        }
    }
    jac.into_iter().map(log_abs_det).collect()
}
