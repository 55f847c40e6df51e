//! [`Tape`]: what a recorded pass keeps for its backward pass.

use ndarray::Array2;

/// The intermediate arrays of one recorded pass, plus the tapes of inner parts (the layers of a
/// [`Chain`](crate::Chain), the network of a coupling), in the order each implementation
/// documents. The pass's input and output are not copied into the tape: the backward pass is
/// given them alongside it.
///
/// ```
/// use bijectors::Tape;
/// use ndarray::Array2;
///
/// let mut tape = Tape::<f64>::new();
/// tape.push(Array2::zeros((2, 3)));
/// tape.push_child(Tape::new());
/// assert_eq!((tape.arrays().len(), tape.children().len()), (1, 1));
/// assert_eq!(tape.arrays()[0].dim(), (2, 3));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tape<F> {
    arrays: Vec<Array2<F>>,
    children: Vec<Tape<F>>,
}

impl<F> Tape<F> {
    /// An empty tape.
    pub fn new() -> Self {
        Self { arrays: Vec::new(), children: Vec::new() }
    }

    /// Appends an intermediate array.
    pub fn push(&mut self, a: Array2<F>) {
        self.arrays.push(a);
    }

    /// Appends the tape of an inner part.
    pub fn push_child(&mut self, child: Tape<F>) {
        self.children.push(child);
    }

    /// The recorded arrays, in the order pushed.
    pub fn arrays(&self) -> &[Array2<F>] {
        &self.arrays
    }

    /// The inner tapes, in the order pushed.
    pub fn children(&self) -> &[Tape<F>] {
        &self.children
    }

    /// Takes the recorded arrays out of the tape.
    pub fn into_arrays(self) -> Vec<Array2<F>> {
        self.arrays
    }
}
