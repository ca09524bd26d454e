#![doc = include_str!("../README.md")]

pub mod annotation;
pub mod cascade_train;
pub mod eval;
pub mod export;
pub mod formats;
pub mod geometry;
pub mod nms;
pub mod synth;
pub mod train;
pub mod video;

pub use annotation::{
    AnnotationError, Annotations, AttributeSpec, Attributes, Frame, FrameBox, InputType, KeyFrame,
    Label, Shape, Track,
};
pub use geometry::BBox;

/// Progress reporting with cancellation, shared by the long-running steps (video decoding,
/// synthesis, training): called with a stage name and a fraction in `[0, 1]`; returning `false`
/// asks the step to stop, which it does with its `Canceled` error.
pub trait Progress {
    /// Reports progress; `false` cancels.
    fn report(&mut self, stage: &str, fraction: f64) -> bool;
}

impl<F: FnMut(&str, f64) -> bool> Progress for F {
    fn report(&mut self, stage: &str, fraction: f64) -> bool {
        self(stage, fraction)
    }
}

/// A [`Progress`] that never cancels and reports nowhere.
pub fn no_progress() -> impl Progress {
    |_: &str, _: f64| true
}
