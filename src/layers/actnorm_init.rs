//! [`Chain::initialize_actnorms`]: the data-dependent initialisation of every [`ActNorm`] of a
//! chain, in order, from a batch of data.
//!
//! In a flow the data enter through the inverse (the density direction, data → base), so a batch
//! of data meets the chain's **last** layer first. The initialisation runs that inverse pass layer
//! by layer, from the last layer to the first, and every not-yet-initialised `ActNorm` it meets is
//! initialised on the batch it receives before the batch goes through it, so that its output in
//! the data → base direction has zero mean and unit variance per channel on that batch:
//!
//! * a plain `ActNorm` runs its inverse on the way: [`ActNorm::initialize_inverse`];
//! * an `Invert<F, ActNorm<F>>` runs the wrapped layer's forward on the way:
//!   [`ActNorm::initialize_forward`];
//! * nested [`Chain`]s are entered (in the direction the batch travels through them: an
//!   `Invert<F, Chain<F>>` runs its inner chain first layer to last), and so are boxed layers
//!   and the inner chain of a [`FactorOut`] (on the kept columns; the factored ones pass);
//! * a layer with inner initialisations pending (a [`Coupling`](crate::Coupling) whose
//!   [`ConvNet`](crate::nn::ConvNet) conditioner has hidden ActNorms, see
//!   [`Bijector::pending_inner_inits`]) runs them on the batch reaching it, then maps it;
//! * any other layer maps the batch with its pass in the travelling direction.
//!
//! Already initialised ActNorms (restored ones among them) are left alone and just map the batch.
//! The walk stops after the last initialisation, so layers further on are not run. On an error
//! the layers initialised by the call are restored to their previous state.

use crate::core::params::check_finite;
use crate::core::validate;
use crate::core::{Bijector, Direction, Float, Result};
use crate::layers::{ActNorm, Chain, FactorOut, Invert};
use ndarray::{s, Array2, ArrayD, ArrayView2, Axis};
use std::any::Any;

/// What the call changed, to undo on an error: keyed by the layer's (thin) address, stable while
/// the chain is borrowed.
enum Saved<F: Float> {
    /// An ActNorm the call initialised, as it was before.
    ActNorm(usize, ActNorm<F>),
    /// A layer whose inner initialisations ran, with its parameters before.
    Inner(usize, Vec<ArrayD<F>>),
}

impl<F: Float> Saved<F> {
    /// Puts `leaf` back as it was, if it is the layer this entry saved.
    fn restore(&self, leaf: &mut dyn Bijector<F>) {
        match self {
            Saved::ActNorm(addr, old) if *addr == address(leaf) => {
                if let Some(a) = (leaf as &mut dyn Any).downcast_mut::<ActNorm<F>>() {
                    *a = old.clone();
                }
            }
            Saved::Inner(addr, old) if *addr == address(leaf) => {
                for (mut p, v) in leaf.params_mut().into_iter().zip(old) {
                    p.value.assign(v);
                }
                leaf.forget_inner_inits();
            }
            _ => {}
        }
    }
}

/// A layer's address without its vtable, to recognise it again in a second walk.
fn address<F: Float>(layer: &dyn Bijector<F>) -> usize {
    layer as *const dyn Bijector<F> as *const () as usize
}

/// How many initialisations a leaf layer still needs: one for an uninitialised ActNorm, its
/// [`pending_inner_inits`](Bijector::pending_inner_inits) otherwise.
fn pending<F: Float>(leaf: &dyn Bijector<F>) -> usize {
    match (leaf as &dyn Any).downcast_ref::<ActNorm<F>>() {
        Some(a) => usize::from(!a.is_initialized()),
        None => leaf.pending_inner_inits(),
    }
}

impl<F: Float> Chain<F> {
    /// Initialises every not-yet-initialised [`ActNorm`] of the chain, in order, from a batch of
    /// `data`, and the inner ones of its layers (the hidden ActNorms of a coupling's conv
    /// conditioner, [`ConvNetConfig::actnorm`](crate::nn::ConvNetConfig::actnorm)); returns how
    /// many were initialised (a conditioner's pair of hidden ActNorms counts once).
    ///
    /// The data enter where they do in a flow, at the chain's **last** layer, and travel the
    /// density direction (data → base) layer by layer. Every uninitialised ActNorm met is
    /// initialised on the batch it receives, so that its output in the data → base direction has
    /// zero mean and unit variance per channel: a plain `ActNorm` (whose inverse the data run)
    /// with [`initialize_inverse`](ActNorm::initialize_inverse), an `Invert<F, ActNorm<F>>`
    /// (which runs the wrapped layer's forward) with
    /// [`initialize_forward`](ActNorm::initialize_forward). Nested chains, boxed layers and
    /// `Invert<F, Chain<F>>` are entered in the direction the batch travels through them; a
    /// coupling with a pending conditioner initialisation runs it on its conditioner input (the
    /// pass-through part of the batch reaching it); other layers just map the batch. Already
    /// initialised (e.g. restored) ones are left alone, and the walk stops after the last one to
    /// initialise.
    ///
    /// Errors if `data` is not a valid batch of the chain's width, if the chain needs a context
    /// (use [`initialize_actnorms_with_context`](Chain::initialize_actnorms_with_context)), or if a
    /// layer's pass or an initialisation fails; the chain is then unchanged.
    ///
    /// ```
    /// use bijectors::{chain, ActNorm, Affine, Bijector, Chain, ImageShape, Invert};
    /// use ndarray::Array2;
    ///
    /// let shape = ImageShape::vector(2).unwrap();
    /// let mut flow: Chain<f64> = chain![
    ///     ActNorm::new(shape)?,
    ///     Affine::new(ndarray::array![0.5, -0.5], ndarray::array![1.0, 2.0])?,
    ///     Invert::new(ActNorm::new(shape)?),
    /// ]?;
    /// let data = Array2::from_shape_fn((50, 2), |(i, j)| 3.0 * (i as f64 * (j + 1) as f64).sin() + 4.0);
    /// assert_eq!(flow.initialize_actnorms(data.view())?, 2);
    /// assert!(flow.get::<ActNorm<f64>>(0).unwrap().is_initialized());
    /// // The base side is standardised: the first layer's output in the density direction.
    /// let z = flow.inverse(data.view())?;
    /// assert!(z.column(1).mean().unwrap().abs() < 1e-12);
    /// assert!((z.column(1).var(1.0) - 1.0).abs() < 1e-5);
    /// assert_eq!(flow.initialize_actnorms(data.view())?, 0); // all done: nothing re-initialised
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn initialize_actnorms(&mut self, data: ArrayView2<F>) -> Result<usize> {
        self.initialize_actnorms_with_context(data, None)
    }

    /// [`initialize_actnorms`](Chain::initialize_actnorms) for a conditional chain: `context` (one
    /// row per sample) reaches the conditional layers the batch goes through.
    pub fn initialize_actnorms_with_context(
        &mut self,
        data: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<usize> {
        validate::batch(&data, self.dim(), "Chain initialize_actnorms")?;
        validate::context(context.as_ref(), self.context_dim(), data.nrows())?;
        check_finite(&self.params())?;
        let mut left = 0;
        walk(self, &mut |leaf| left += pending(leaf));
        let mut saved = Vec::new();
        let mut run = Run { context, left, done: 0, saved: &mut saved };
        let outcome = run.visit(self, Direction::Inverse, data.to_owned());
        let done = run.done;
        match outcome {
            Ok(_) => Ok(done),
            Err(e) => {
                walk_mut(self, &mut |leaf| saved.iter().for_each(|s| s.restore(leaf)));
                Err(e)
            }
        }
    }
}

/// The state of one initialisation walk.
struct Run<'a, 's, F: Float> {
    context: Option<ArrayView2<'a, F>>,
    /// Initialisations still to run; the walk stops at zero.
    left: usize,
    /// Initialisations run so far.
    done: usize,
    saved: &'s mut Vec<Saved<F>>,
}

impl<F: Float> Run<'_, '_, F> {
    /// Passes `batch` through `layer` in `dir`, initialising the ActNorms met on the way; returns
    /// the output (or the batch as reached, once nothing is left to initialise).
    fn visit(&mut self, layer: &mut dyn Bijector<F>, dir: Direction, batch: Array2<F>) -> Result<Array2<F>> {
        if self.left == 0 {
            return Ok(batch);
        }
        if let Some(a) = (&mut *layer as &mut dyn Any).downcast_mut::<ActNorm<F>>() {
            if !a.is_initialized() {
                self.saved.push(Saved::ActNorm(address(&*a), a.clone()));
                a.initialize(dir, batch.view())?;
                self.left -= 1;
                self.done += 1;
                if self.left == 0 {
                    return Ok(batch);
                }
            }
            return Ok(a.transform(dir, batch.view(), None)?.0);
        }
        if let Some(chain) = (&mut *layer as &mut dyn Any).downcast_mut::<Chain<F>>() {
            let n = chain.len();
            let order: Vec<usize> = match dir {
                Direction::Forward => (0..n).collect(),
                Direction::Inverse => (0..n).rev().collect(),
            };
            let mut batch = batch;
            for i in order {
                batch = self.visit(chain.layers_mut()[i].as_mut(), dir, batch)?;
            }
            return Ok(batch);
        }
        if let Some(b) = (&mut *layer as &mut dyn Any).downcast_mut::<Box<dyn Bijector<F>>>() {
            return self.visit(b.as_mut(), dir, batch);
        }
        if let Some(inv) = (&mut *layer as &mut dyn Any).downcast_mut::<Invert<F, ActNorm<F>>>() {
            return self.visit(inv.inner_mut(), dir.flip(), batch);
        }
        if let Some(inv) = (&mut *layer as &mut dyn Any).downcast_mut::<Invert<F, Chain<F>>>() {
            return self.visit(inv.inner_mut(), dir.flip(), batch);
        }
        if let Some(inv) = (&mut *layer as &mut dyn Any).downcast_mut::<Invert<F, Box<dyn Bijector<F>>>>() {
            return self.visit(inv.inner_mut().as_mut(), dir.flip(), batch);
        }
        if let Some(f) = (&mut *layer as &mut dyn Any).downcast_mut::<FactorOut<F, Chain<F>>>() {
            let k = f.kept_shape().dim();
            return self.visit_kept(f.inner_mut(), k, dir, batch);
        }
        if let Some(f) = (&mut *layer as &mut dyn Any).downcast_mut::<FactorOut<F, Box<dyn Bijector<F>>>>() {
            let k = f.kept_shape().dim();
            return self.visit_kept(f.inner_mut().as_mut(), k, dir, batch);
        }
        let context = layer.context_dim().and(self.context);
        if layer.pending_inner_inits() > 0 {
            let before = layer.params().iter().map(|p| p.value.to_owned()).collect();
            self.saved.push(Saved::Inner(address(&*layer), before));
            let ran = layer.initialize_inner(dir, batch.view(), context)?;
            self.left = self.left.saturating_sub(ran);
            self.done += ran;
            if self.left == 0 {
                return Ok(batch);
            }
        }
        Ok(layer.transform(dir, batch.view(), context)?.0)
    }
}

impl<F: Float> Run<'_, '_, F> {
    /// A [`FactorOut`]'s step: its inner layer on the first `k` columns, the rest unchanged.
    fn visit_kept(
        &mut self,
        inner: &mut dyn Bijector<F>,
        k: usize,
        dir: Direction,
        batch: Array2<F>,
    ) -> Result<Array2<F>> {
        let kept = self.visit(inner, dir, batch.slice(s![.., ..k]).to_owned())?;
        if self.left == 0 {
            return Ok(batch);
        }
        ndarray::concatenate(Axis(1), &[kept.view(), batch.slice(s![.., k..])])
            .map_err(|e| crate::core::Error::BadLayerOutput { layer: inner.name(), reason: e.to_string() })
    }
}

/// Calls `f` on every leaf layer reachable through chains, boxes, inverts and factor-outs, in
/// layer order; an `Invert<F, ActNorm<F>>` counts as its ActNorm.
fn walk<F: Float>(layer: &dyn Bijector<F>, f: &mut dyn FnMut(&dyn Bijector<F>)) {
    let any: &dyn Any = layer;
    if let Some(chain) = any.downcast_ref::<Chain<F>>() {
        chain.layers().iter().for_each(|l| walk(l.as_ref(), f));
    } else if let Some(b) = any.downcast_ref::<Box<dyn Bijector<F>>>() {
        walk(b.as_ref(), f);
    } else if let Some(inv) = any.downcast_ref::<Invert<F, ActNorm<F>>>() {
        f(inv.inner());
    } else if let Some(inv) = any.downcast_ref::<Invert<F, Chain<F>>>() {
        walk(inv.inner(), f);
    } else if let Some(inv) = any.downcast_ref::<Invert<F, Box<dyn Bijector<F>>>>() {
        walk(inv.inner().as_ref(), f);
    } else if let Some(fo) = any.downcast_ref::<FactorOut<F, Chain<F>>>() {
        walk(fo.inner(), f);
    } else if let Some(fo) = any.downcast_ref::<FactorOut<F, Box<dyn Bijector<F>>>>() {
        walk(fo.inner().as_ref(), f);
    } else {
        f(layer);
    }
}

/// [`walk`], mutably.
fn walk_mut<F: Float>(layer: &mut dyn Bijector<F>, f: &mut dyn FnMut(&mut dyn Bijector<F>)) {
    let any: &mut dyn Any = layer;
    if let Some(chain) = any.downcast_mut::<Chain<F>>() {
        chain.layers_mut().iter_mut().for_each(|l| walk_mut(l.as_mut(), f));
    } else if let Some(b) = any.downcast_mut::<Box<dyn Bijector<F>>>() {
        walk_mut(b.as_mut(), f);
    } else if let Some(inv) = any.downcast_mut::<Invert<F, ActNorm<F>>>() {
        f(inv.inner_mut());
    } else if let Some(inv) = any.downcast_mut::<Invert<F, Chain<F>>>() {
        walk_mut(inv.inner_mut(), f);
    } else if let Some(inv) = any.downcast_mut::<Invert<F, Box<dyn Bijector<F>>>>() {
        walk_mut(inv.inner_mut().as_mut(), f);
    } else if let Some(fo) = any.downcast_mut::<FactorOut<F, Chain<F>>>() {
        walk_mut(fo.inner_mut(), f);
    } else if let Some(fo) = any.downcast_mut::<FactorOut<F, Box<dyn Bijector<F>>>>() {
        walk_mut(fo.inner_mut().as_mut(), f);
    } else {
        f(layer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Error, ImageShape};
    use crate::layers::{Affine, Invertible1x1Conv};
    use ndarray::{s, Array1};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Per-channel (mean, sample variance) of a batch of `shape` rows.
    fn stats(v: &Array2<f64>, shape: ImageShape) -> Vec<(f64, f64)> {
        let hw = shape.pixels();
        (0..shape.channels())
            .map(|c| {
                let b = v.slice(s![.., c * hw..(c + 1) * hw]);
                let m = b.mean().unwrap();
                (m, b.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (b.len() - 1) as f64)
            })
            .collect()
    }

    fn assert_standard(v: &Array2<f64>, shape: ImageShape, what: &str) {
        for (c, (m, var)) in stats(v, shape).into_iter().enumerate() {
            assert!(m.abs() < 1e-10, "{what}: channel {c} mean {m}");
            assert!((var - 1.0).abs() < 1e-4, "{what}: channel {c} variance {var}");
        }
    }

    fn data(n: usize, shape: ImageShape, seed: u64) -> Array2<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let hw = shape.pixels();
        Array2::from_shape_fn((n, shape.dim()), |(_, k)| {
            let c = (k / hw) as f64;
            (2.0 + c) + (0.3 + c) * f64::standard_normal(&mut rng)
        })
    }

    #[test]
    fn every_actnorm_is_standardised_on_the_data_side() {
        let shape = ImageShape::new(2, 2, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let inner: Chain<f64> = crate::chain![
            ActNorm::new(shape).unwrap(),
            Invertible1x1Conv::lu_random(shape, &mut rng).unwrap(),
            Invert::new(ActNorm::new(shape).unwrap()),
        ]
        .unwrap();
        let mut flow: Chain<f64> = crate::chain![
            ActNorm::new(shape).unwrap(),
            Affine::new(Array1::from_elem(8, 0.3), Array1::from_elem(8, -1.0)).unwrap(),
            inner,
            Invertible1x1Conv::dense_random(shape, &mut rng).unwrap(),
            Invert::new(ActNorm::new(shape).unwrap()),
        ]
        .unwrap();
        let x = data(64, shape, 2);
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 4);
        // Replay the density direction layer by layer and check every ActNorm's output there.
        let mut z = x.clone();
        let check = |layer: &dyn Bijector<f64>, z: &Array2<f64>, what: &str| -> Array2<f64> {
            let out = layer.inverse(z.view()).unwrap();
            if what.contains("ActNorm") {
                assert_standard(&out, shape, what);
            }
            out
        };
        z = check(flow.get::<Invert<f64, ActNorm<f64>>>(4).unwrap(), &z, "4: Invert ActNorm");
        z = check(flow.layers()[3].as_ref(), &z, "3: conv");
        let inner = flow.get::<Chain<f64>>(2).unwrap();
        z = check(inner.get::<Invert<f64, ActNorm<f64>>>(2).unwrap(), &z, "2.2: Invert ActNorm");
        z = check(inner.layers()[1].as_ref(), &z, "2.1: conv");
        z = check(inner.get::<ActNorm<f64>>(0).unwrap(), &z, "2.0: ActNorm");
        z = check(flow.layers()[1].as_ref(), &z, "1: affine");
        z = check(flow.get::<ActNorm<f64>>(0).unwrap(), &z, "0: ActNorm");
        // The inverted one was initialised forward: its inner layer's forward standardises.
        let inv = flow.get::<Invert<f64, ActNorm<f64>>>(4).unwrap();
        assert_standard(&inv.inner().forward(x.view()).unwrap(), shape, "inner forward");
        // The chain's own inverse is the same map.
        assert!((&flow.inverse(x.view()).unwrap() - &z).iter().all(|e| e.abs() < 1e-12));
        // Nothing left to do; a second call changes nothing.
        let before: Vec<_> = flow.params().iter().map(|p| p.value.to_owned()).collect();
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 0);
        let after: Vec<_> = flow.params().iter().map(|p| p.value.to_owned()).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn restored_actnorms_are_kept_and_the_walk_stops_early() {
        let shape = ImageShape::vector(2).unwrap();
        let restored =
            ActNorm::from_params(shape, ndarray::array![1.0, 2.0], ndarray::array![0.5, -0.5]).unwrap();
        // Layer 0 is restored; after layer 1 nothing is left, so layer 0 never runs (and the
        // Exp-free chain needs no domain checks there).
        let mut flow: Chain<f64> =
            crate::chain![restored.clone(), ActNorm::new(shape).unwrap(), restored.clone()].unwrap();
        let x = data(20, shape, 3);
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 1);
        assert_eq!(flow.get::<ActNorm<f64>>(0).unwrap(), &restored);
        assert_eq!(flow.get::<ActNorm<f64>>(2).unwrap(), &restored);
        // Layer 1 saw the data after the restored layer 2's inverse.
        let seen = restored.inverse(x.view()).unwrap();
        assert_standard(&flow.get::<ActNorm<f64>>(1).unwrap().inverse(seen.view()).unwrap(), shape, "1");
        // An empty chain, or one without ActNorms, initialises nothing.
        assert_eq!(Chain::<f64>::new().initialize_actnorms(x.view()).unwrap(), 0);
    }

    #[test]
    fn a_failure_restores_the_chain() {
        // One row: the 1×1×2 image ActNorm (2 values per channel) initialises, the vector one
        // (1 value per channel) cannot; the first is then rolled back.
        let (img, vec) = (ImageShape::new(1, 1, 2).unwrap(), ImageShape::vector(2).unwrap());
        let mut flow: Chain<f64> =
            crate::chain![ActNorm::new(vec).unwrap(), ActNorm::new(img).unwrap()].unwrap();
        let one = ndarray::array![[1.0, 3.0]];
        assert!(matches!(flow.initialize_actnorms(one.view()), Err(Error::InvalidParameter(_))));
        assert!(!flow.get::<ActNorm<f64>>(1).unwrap().is_initialized());
        assert_eq!(flow.get::<ActNorm<f64>>(1).unwrap(), &ActNorm::new(img).unwrap());
        // Bad data is refused up front.
        assert!(matches!(
            flow.initialize_actnorms(Array2::zeros((3, 5)).view()),
            Err(Error::WidthMismatch { expected: 2, got: 5 })
        ));
        assert!(matches!(
            flow.initialize_actnorms(ndarray::array![[f64::NAN, 0.0]].view()),
            Err(Error::NonFinite { .. })
        ));
        // With two rows both work.
        assert_eq!(flow.initialize_actnorms(ndarray::array![[1.0, 3.0], [2.0, 0.0]].view()).unwrap(), 2);
    }

    #[test]
    fn boxed_and_inverted_chains_are_entered() {
        let shape = ImageShape::vector(3).unwrap();
        // Invert<Chain>: the data run through the inner chain forward, first layer first.
        let inner: Chain<f64> = crate::chain![
            ActNorm::new(shape).unwrap(),
            Affine::new(Array1::from_elem(3, 1.0), Array1::zeros(3)).unwrap()
        ]
        .unwrap();
        let boxed: Box<dyn Bijector<f64>> = Box::new(ActNorm::<f64>::new(shape).unwrap());
        let mut flow: Chain<f64> = crate::chain![Invert::new(inner), boxed].unwrap();
        let x = data(30, shape, 4);
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 2);
        let boxed = flow.get::<Box<dyn Bijector<f64>>>(1).unwrap();
        let z = boxed.inverse(x.view()).unwrap();
        assert_standard(&z, shape, "boxed");
        let inner = flow.get::<Invert<f64, Chain<f64>>>(0).unwrap().inner();
        assert_standard(&inner.get::<ActNorm<f64>>(0).unwrap().forward(z.view()).unwrap(), shape, "inner");
    }

    type NormalizedCoupling =
        crate::layers::Coupling<f64, crate::nn::ConvNet<f64>, crate::layers::BoundedAffine>;

    /// A checkerboard affine coupling on `shape` whose conv conditioner has hidden ActNorms.
    fn normalized_coupling(shape: ImageShape, rng: &mut StdRng) -> NormalizedCoupling {
        use crate::layers::{BoundedAffine, Coupling, Mask, ScaleBound};
        let cfg = crate::nn::ConvNetConfig::new(3).actnorm(true).zero_last_layer(false);
        let bound = BoundedAffine::new(ScaleBound::Tanh).unwrap();
        Coupling::with_conv(shape, Mask::checkerboard(shape, 0).unwrap(), bound, 0, &cfg, rng).unwrap()
    }

    #[test]
    fn conv_conditioner_actnorms_are_initialised_on_the_data_reaching_them() {
        use crate::nn::Conditioner;
        let shape = ImageShape::new(1, 2, 4).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let coupling = normalized_coupling(shape, &mut rng);
        let mut flow: Chain<f64> = crate::chain![
            coupling.clone(),
            ActNorm::new(shape).unwrap(),
            Box::new(Invert::new(coupling)) as Box<dyn Bijector<f64>>,
        ]
        .unwrap();
        let x = data(40, shape, 6);
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 3);
        // The last layer saw x itself: its conditioner standardises on the masked x.
        let last = flow.layers()[2].as_ref();
        assert_eq!(last.pending_inner_inits(), 0);
        let first = flow.get::<NormalizedCoupling>(0).unwrap();
        assert!(first.conditioner().is_normalization_initialized());
        // The first one saw the data after the other two layers' inverses; check its hidden Z.
        let seen = flow.layers()[1].inverse(last.inverse(x.view()).unwrap().view()).unwrap();
        let passed = seen.select(Axis(1), first.mask().pass_through());
        let (_, tape) = first.conditioner().forward(passed.view(), true).unwrap();
        let z = &tape.get::<crate::nn::ConvNetTape<f64>>("ConvNet").unwrap().pre_activations()[1];
        for c in z.axis_iter(Axis(1)) {
            assert!(c.mean().unwrap().abs() < 1e-10 && (c.var(1.0) - 1.0).abs() < 1e-8);
        }
        assert_eq!(flow.initialize_actnorms(x.view()).unwrap(), 0);
    }

    #[test]
    fn a_failure_restores_conv_conditioner_actnorms_too() {
        use crate::nn::Conditioner;
        // One row: the coupling (8 pixels) initialises first, then the vector ActNorm (one value
        // per channel) fails; the coupling's conditioner is rolled back.
        let shape = ImageShape::new(1, 2, 4).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let coupling = normalized_coupling(shape, &mut rng);
        let before = coupling.clone();
        let mut flow: Chain<f64> = crate::chain![ActNorm::vector(8).unwrap(), coupling].unwrap();
        let one = data(1, shape, 8);
        // Alone, the coupling does initialise on that row (so the rollback below is not vacuous).
        let mut alone: Chain<f64> = crate::chain![before.clone()].unwrap();
        assert_eq!(alone.initialize_actnorms(one.view()).unwrap(), 1);
        assert_ne!(alone.get::<NormalizedCoupling>(0).unwrap().conditioner(), before.conditioner());
        assert!(flow.initialize_actnorms(one.view()).is_err());
        let after = flow.get::<NormalizedCoupling>(1).unwrap();
        assert_eq!(after.conditioner(), before.conditioner());
        assert!(after.conditioner().needs_data_init());
        assert_eq!(flow.initialize_actnorms(data(2, shape, 9).view()).unwrap(), 2);
    }
}
