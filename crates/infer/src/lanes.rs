//! Running one batch on several single-threaded model instances at once.
//!
//! On a few cores, one ONNX Runtime session with `n` intra-op threads spends much of its
//! time synchronising those threads between the many small operators of a CNN (DenseNet's
//! concatenations, batch norms, 1×1 convolutions). `n` sessions of one thread each, each
//! given a slice of the batch, keep every core busy on whole operators instead: measured on
//! 2 cores, DenseNet-121 gives about 23–24 images/s this way against 16–20 for one session
//! with 2 threads. A lone image gains nothing from slicing, so it runs on a multi-threaded
//! instance, which answers it about twice as fast as a single thread would.
//!
//! [`LanedModel`] is that arrangement behind the ordinary [`Model`] trait, so the batching
//! executor does not need to know about it.

use std::thread;

use crate::{BackendKind, InferError, Model, Outputs, Tensor};

/// A model that runs a lone input on a multi-threaded instance (`solo`) and splits larger
/// batches across single-threaded instances (`lanes`), one slice each, run concurrently.
pub struct LanedModel {
    solo: Box<dyn Model>,
    lanes: Vec<Box<dyn Model>>,
}

impl std::fmt::Debug for LanedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanedModel")
            .field("backend", &self.solo.backend())
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl LanedModel {
    /// Combines a multi-threaded instance with single-threaded ones of the same model.
    /// With fewer than two lanes every batch runs on `solo`.
    pub fn new(solo: Box<dyn Model>, lanes: Vec<Box<dyn Model>>) -> Self {
        Self { solo, lanes }
    }

    /// How many single-threaded instances share a batch.
    pub fn lane_count(&self) -> usize {
        self.lanes.len()
    }
}

impl Model for LanedModel {
    fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
        let batch = input.shape().first().copied().unwrap_or(0);
        if batch < 2 || self.lanes.len() < 2 {
            return self.solo.run(input);
        }
        let slices = input.slice_batch(self.lanes.len())?;
        let results: Vec<Result<Outputs, InferError>> = thread::scope(|scope| {
            let running: Vec<_> = self
                .lanes
                .iter_mut()
                .zip(&slices)
                .map(|(lane, slice)| scope.spawn(move || lane.run(slice)))
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(InferError::BadOutput("an inference lane panicked".into()))
                    })
                })
                .collect()
        });
        let parts = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Outputs::concat_batches(&parts)
    }

    fn input_name(&self) -> &str {
        self.solo.input_name()
    }

    fn output_names(&self) -> &[String] {
        self.solo.output_names()
    }

    fn backend(&self) -> BackendKind {
        self.solo.backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    /// Doubles every value; counts the items it saw.
    struct Doubler {
        names: Vec<String>,
        seen: Arc<AtomicUsize>,
    }

    impl Doubler {
        fn boxed(seen: &Arc<AtomicUsize>) -> Box<dyn Model> {
            Box::new(Self {
                names: vec!["out".into()],
                seen: seen.clone(),
            })
        }
    }

    impl Model for Doubler {
        fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
            self.seen.fetch_add(input.shape()[0], Ordering::SeqCst);
            let data = input.data().iter().map(|v| v * 2.0).collect();
            Ok(Outputs::new(vec![(
                "out".into(),
                Tensor::new(input.shape().to_vec(), data)?,
            )]))
        }
        fn input_name(&self) -> &str {
            "in"
        }
        fn output_names(&self) -> &[String] {
            &self.names
        }
        fn backend(&self) -> BackendKind {
            BackendKind::Rten
        }
    }

    fn counters() -> [Arc<AtomicUsize>; 3] {
        std::array::from_fn(|_| Arc::new(AtomicUsize::new(0)))
    }

    #[test]
    fn a_lone_input_runs_on_the_solo_instance() {
        let [solo, a, b] = counters();
        let mut model = LanedModel::new(
            Doubler::boxed(&solo),
            vec![Doubler::boxed(&a), Doubler::boxed(&b)],
        );
        let input = Tensor::new(vec![1, 3], vec![1.0, 2.0, 3.0]).expect("tensor");
        let out = model.run(&input).expect("run");
        assert_eq!(out.first().expect("out").data(), &[2.0, 4.0, 6.0]);
        assert_eq!(solo.load(Ordering::SeqCst), 1);
        assert_eq!(a.load(Ordering::SeqCst) + b.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_batch_is_split_across_lanes_and_reassembled_in_order() {
        let [solo, a, b] = counters();
        let mut model = LanedModel::new(
            Doubler::boxed(&solo),
            vec![Doubler::boxed(&a), Doubler::boxed(&b)],
        );
        let data: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let input = Tensor::new(vec![5, 2], data.clone()).expect("tensor");
        let out = model.run(&input).expect("run");
        let tensor = out.get("out").expect("out");
        assert_eq!(tensor.shape(), &[5, 2]);
        let doubled: Vec<f32> = data.iter().map(|v| v * 2.0).collect();
        assert_eq!(tensor.data(), doubled.as_slice());
        assert_eq!(solo.load(Ordering::SeqCst), 0);
        assert_eq!(
            a.load(Ordering::SeqCst),
            3,
            "the first lane takes the odd item"
        );
        assert_eq!(b.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn with_one_lane_everything_runs_solo() {
        let [solo, a, _] = counters();
        let mut model = LanedModel::new(Doubler::boxed(&solo), vec![Doubler::boxed(&a)]);
        let input = Tensor::new(vec![4, 1], vec![1.0; 4]).expect("tensor");
        model.run(&input).expect("run");
        assert_eq!(solo.load(Ordering::SeqCst), 4);
        assert_eq!(a.load(Ordering::SeqCst), 0);
    }
}
