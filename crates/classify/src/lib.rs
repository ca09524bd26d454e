#![doc = include_str!("../README.md")]

pub mod classifier;
pub mod labels;
pub mod postprocess;
pub mod preprocess;

pub use classifier::{Classification, Classifier, ClassifyError, Prediction};
pub use labels::{Label, LabelError, LabelSet};
pub use preprocess::{Preprocess, PreprocessError, RgbImage};

#[cfg(test)]
mod tests {
    fn shareable<T: Send + Sync>() {}

    #[test]
    fn a_classifier_can_be_shared_between_request_handlers() {
        shareable::<crate::Classifier>();
    }
}
