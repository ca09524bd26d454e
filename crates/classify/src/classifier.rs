//! The classification pipeline: preprocess → model → softmax → top-k → labels.

use std::sync::Arc;

use atelier_infer::{BatchingExecutor, InferError, Model, Outputs, ResolvedModel, Tensor};
use serde::Serialize;

use crate::labels::{LabelError, LabelSet};
use crate::postprocess::{softmax, top_k};
use crate::preprocess::{Preprocess, PreprocessError, RgbImage};

/// Why classifying an image failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The image could not be prepared.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// The label set could not be loaded.
    #[error(transparent)]
    Labels(#[from] LabelError),
    /// The model failed (includes [`InferError::QueueFull`]).
    #[error(transparent)]
    Infer(#[from] InferError),
    /// The model's output does not match the label set.
    #[error("the model gives {outputs} scores but the label set has {labels} classes")]
    LabelCount {
        /// Classes in the label set.
        labels: usize,
        /// Scores the model produced.
        outputs: usize,
    },
}

/// One ranked class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The model's output index.
    pub index: usize,
    /// The class id (a WordNet id for ImageNet, e.g. `n02099601`).
    pub class_id: String,
    /// The class name (e.g. `golden_retriever`).
    pub class_name: String,
    /// Softmax probability.
    pub score: f32,
}

/// The answer for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The top class's id.
    pub class_id: String,
    /// The top class's name.
    pub class_name: String,
    /// The top class's probability.
    pub score: f32,
    /// The `k` best classes, best first (the first is the top class).
    pub top_k: Vec<Prediction>,
    /// The model that answered.
    pub model: String,
}

/// A classifier: a model's preprocessing and labels. The model itself is run by the
/// caller's choice of [`Model`] or [`BatchingExecutor`].
#[derive(Debug, Clone)]
pub struct Classifier {
    model_name: String,
    preprocess: Preprocess,
    labels: Arc<LabelSet>,
}

impl Classifier {
    /// A classifier from parts.
    pub fn new(model_name: &str, preprocess: Preprocess, labels: Arc<LabelSet>) -> Self {
        Self {
            model_name: model_name.to_string(),
            preprocess,
            labels,
        }
    }

    /// The classifier a registry model describes (its input spec and label set).
    pub fn for_model(model: &ResolvedModel) -> Result<Self, ClassifyError> {
        let preprocess = Preprocess::from_spec(&model.entry.input)?;
        let labels = LabelSet::resolve(&model.entry.labels, model.labels_path.as_deref())?;
        Ok(Self::new(&model.entry.name, preprocess, labels))
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// The preprocessing.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// The label set.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// Image → `[1, 3, H, W]` input tensor.
    pub fn prepare(&self, image: RgbImage<'_>) -> Result<Tensor, ClassifyError> {
        Ok(self.preprocess.apply(image)?)
    }

    /// One image's logits → the `k` best labelled classes (`k` at least 1).
    pub fn interpret(&self, logits: &[f32], k: usize) -> Result<Classification, ClassifyError> {
        if logits.len() != self.labels.len() {
            return Err(ClassifyError::LabelCount {
                labels: self.labels.len(),
                outputs: logits.len(),
            });
        }
        let probabilities = softmax(logits);
        let top_k: Vec<Prediction> = top_k(&probabilities, k.max(1))
            .into_iter()
            .filter_map(|(index, score)| {
                self.labels.get(index).map(|label| Prediction {
                    index,
                    class_id: label.id.clone(),
                    class_name: label.name.clone(),
                    score,
                })
            })
            .collect();
        let best = top_k.first().ok_or(ClassifyError::LabelCount {
            labels: self.labels.len(),
            outputs: 0,
        })?;
        Ok(Classification {
            class_id: best.class_id.clone(),
            class_name: best.class_name.clone(),
            score: best.score,
            top_k: top_k.clone(),
            model: self.model_name.clone(),
        })
    }

    /// Interprets a model's outputs (its first output holds the logits).
    pub fn interpret_outputs(
        &self,
        outputs: &Outputs,
        k: usize,
    ) -> Result<Classification, ClassifyError> {
        self.interpret(first_output(outputs)?, k)
    }

    /// Runs `model` on one image directly (no batching).
    pub fn classify(
        &self,
        model: &mut dyn Model,
        image: RgbImage<'_>,
        k: usize,
    ) -> Result<Classification, ClassifyError> {
        let input = self.prepare(image)?;
        let outputs = model.run(&input)?;
        self.interpret(first_output(&outputs)?, k)
    }

    /// Classifies one image through a batching executor, awaiting the batch.
    pub async fn classify_batched(
        &self,
        executor: &BatchingExecutor,
        image: RgbImage<'_>,
        k: usize,
    ) -> Result<Classification, ClassifyError> {
        let input = self.prepare(image)?;
        let outputs = executor.infer(input).await?;
        self.interpret(first_output(&outputs)?, k)
    }

    /// Classifies one image through a batching executor, blocking this thread.
    pub fn classify_blocking(
        &self,
        executor: &BatchingExecutor,
        image: RgbImage<'_>,
        k: usize,
    ) -> Result<Classification, ClassifyError> {
        let input = self.prepare(image)?;
        let outputs = executor.infer_blocking(input)?;
        self.interpret(first_output(&outputs)?, k)
    }
}

fn first_output(outputs: &Outputs) -> Result<&[f32], ClassifyError> {
    outputs.first().map(Tensor::data).ok_or_else(|| {
        ClassifyError::Infer(InferError::BadOutput("the model has no output".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_infer::BackendKind;

    /// A fake model that always favours class 1.
    struct FakeModel {
        names: Vec<String>,
    }

    impl Model for FakeModel {
        fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
            let mut logits = vec![0.0f32; 3];
            logits[1] = 3.0 + input.data()[0] * 0.0;
            Ok(Outputs::new(vec![(
                "logits".into(),
                Tensor::new(vec![1, 3], logits)?,
            )]))
        }
        fn input_name(&self) -> &str {
            "input"
        }
        fn output_names(&self) -> &[String] {
            &self.names
        }
        fn backend(&self) -> BackendKind {
            BackendKind::Rten
        }
    }

    fn classifier() -> Classifier {
        let labels =
            LabelSet::from_text("n00000001 zero\nn00000002 one\nn00000003 two\n").expect("labels");
        Classifier::new("fake", Preprocess::imagenet(), Arc::new(labels))
    }

    #[test]
    fn a_fake_model_s_best_class_comes_back_with_its_id_name_and_probability() {
        let mut model = FakeModel {
            names: vec!["logits".into()],
        };
        let pixels = vec![128u8; 8 * 6 * 3];
        let image = RgbImage::new(8, 6, &pixels).expect("valid");
        let result = classifier()
            .classify(&mut model, image, 2)
            .expect("classifies");
        assert_eq!(result.class_id, "n00000002");
        assert_eq!(result.class_name, "one");
        assert_eq!(result.top_k.len(), 2);
        assert_eq!(result.model, "fake");
        // e^3 / (2 + e^3)
        assert!((result.score - 0.909_443_3).abs() < 1e-6);
    }

    #[test]
    fn logits_that_do_not_match_the_label_count_are_an_error() {
        assert!(matches!(
            classifier().interpret(&[0.0; 5], 1),
            Err(ClassifyError::LabelCount {
                labels: 3,
                outputs: 5
            })
        ));
    }
}
