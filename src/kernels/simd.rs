//! [`vectorized`]: runs an elementwise loop ([`VectorLoop`]) compiled for the widest vector
//! instructions the CPU has, chosen at run time.
//!
//! A crate is compiled for the baseline of its target (SSE2 on x86-64) unless the final binary
//! asks for more, so loops over `exp`, `tanh` and the bounded scales would run four lanes wide on
//! a machine with sixteen. [`vectorized`] runs its loop from inside a function compiled with
//! AVX-512 (F, VL, DQ, BW) or AVX2 + FMA enabled, whichever the CPU reports (detected once by the
//! standard library and cached), so that the loop, inlined there, is vectorised for that set;
//! elsewhere, and on other architectures, it simply runs the loop.
//!
//! What a loop must look like: a [`VectorLoop`] whose `run` is `#[inline(always)]` (a closure
//! would do only while it is small enough for LLVM to inline at all three call sites; a large
//! one stays a separate baseline function), made of plain `for` loops over slices calling
//! `#[inline]` scalar code. A call that is not inlined (an ndarray `Zip::for_each`, a libm
//! function) runs at the baseline again, so the hot loop has to be written out.
//!
//! The results do not depend on the instruction set: Rust never contracts `a·b + c` into a fused
//! multiply-add on its own, and every lane computes the same IEEE operations as the scalar code,
//! so a wider vector changes the speed only, not one bit of the output.

/// A loop to run through [`vectorized`]; implement `run` with `#[inline(always)]`.
pub(crate) trait VectorLoop {
    /// What the loop returns.
    type Output;
    /// The loop.
    fn run(self) -> Self::Output;
}

/// `f.run()`, compiled for AVX-512 or AVX2 + FMA when the CPU has them (see the module docs).
#[inline]
pub(crate) fn vectorized<L: VectorLoop>(f: L) -> L::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the CPU supports every feature `with_avx512` is compiled for (checked above).
            return unsafe { x86::with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { x86::with_avx2(f) };
        }
    }
    f.run()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::VectorLoop;

    /// The loop inlined into a function compiled for AVX-512.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) fn with_avx512<L: VectorLoop>(f: L) -> L::Output {
        f.run()
    }

    /// The loop inlined into a function compiled for AVX2 + FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn with_avx2<L: VectorLoop>(f: L) -> L::Output {
        f.run()
    }
}

#[cfg(test)]
mod tests {
    use super::{vectorized, VectorLoop};
    use crate::core::{exp_f32, tanh_f32};

    struct Map<'a>(&'a [f32]);
    impl VectorLoop for Map<'_> {
        type Output = Vec<f32>;
        #[inline(always)]
        fn run(self) -> Vec<f32> {
            let mut out = vec![0.0_f32; self.0.len()];
            for (o, &v) in out.iter_mut().zip(self.0) {
                *o = exp_f32(-tanh_f32(v)) * v + 0.25;
            }
            out
        }
    }

    #[test]
    fn same_bits_as_the_scalar_code() {
        let x: Vec<f32> = (0..4099).map(|i| (i as f32 * 0.0137).sin() * 12.0 - 0.5).collect();
        let scalar: Vec<f32> = x.iter().map(|&v| exp_f32(-tanh_f32(v)) * v + 0.25).collect();
        let wide = vectorized(Map(&x));
        assert!(scalar.iter().zip(&wide).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
