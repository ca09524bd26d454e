//! Image classifiers: loading one from the registry (fetching it when allowed) onto its own
//! batching executor, and turning an encoded image into its input.

use std::sync::Arc;

use atelier_classify::{Classification, Classifier, ClassifyError, RgbImage};
use atelier_imaging::{DecodeError, DecodeLimits, decode_image};
use atelier_infer::{BatchObserver, BatchStats, BatchingExecutor, RegistryError, Runtime, Tensor};

use super::{ModelsConfig, ModelsError};

/// A loaded classifier and the executor running its network.
#[derive(Debug)]
pub struct LoadedClassifier {
    /// Preprocessing and labels.
    pub classifier: Classifier,
    /// The batching executor.
    pub executor: BatchingExecutor,
}

/// Why an encoded image could not become a model input.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The bytes are not a decodable image within the limits.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The decoded image could not be preprocessed.
    #[error(transparent)]
    Classify(#[from] ClassifyError),
}

impl LoadedClassifier {
    /// Decodes an encoded image under `limits` (any colour type: grey, 16-bit and alpha become
    /// 8-bit RGB) and prepares the model's input. CPU-bound: call it off the async runtime.
    pub fn prepare_encoded(
        &self,
        bytes: &[u8],
        limits: &DecodeLimits,
    ) -> Result<Tensor, PrepareError> {
        let rgb = decode_image(bytes, limits)?.into_rgb8();
        let image =
            RgbImage::new(rgb.width(), rgb.height(), rgb.as_raw()).map_err(ClassifyError::from)?;
        Ok(self.classifier.prepare(image)?)
    }

    /// Runs a prepared input through the batching executor and ranks `top_k` classes.
    pub async fn classify_prepared(
        &self,
        input: Tensor,
        top_k: usize,
    ) -> Result<Classification, ClassifyError> {
        let outputs = self.executor.infer(input).await?;
        self.classifier.interpret_outputs(&outputs, top_k)
    }
}

/// Loads classifier `name` on `runtime` (blocking: call it off the async runtime).
pub(crate) fn load(
    config: &ModelsConfig,
    runtime: &Runtime,
    name: &str,
) -> Result<LoadedClassifier, ModelsError> {
    let unavailable = |err: &dyn std::fmt::Display| ModelsError::unavailable(name, err);
    let registry = config.registry().map_err(|err| unavailable(&err))?;
    let resolved = match registry.resolve(name) {
        Ok(resolved) => resolved,
        Err(RegistryError::UnknownModel(_)) => return Err(ModelsError::Unknown(name.to_owned())),
        Err(RegistryError::NotFetched { .. }) if config.allow_download => {
            tracing::info!(
                model = name,
                "fetching model from its offline registry source"
            );
            registry.fetch(name).map_err(|err| unavailable(&err))?
        }
        Err(err) => {
            tracing::warn!(model = name, error = %err, "model not available");
            return Err(unavailable(
                &"not in the model cache (see `atelier models fetch`)",
            ));
        }
    };
    let classifier = Classifier::for_model(&resolved).map_err(|err| unavailable(&err))?;
    let path = resolved.path.clone();
    let executor = BatchingExecutor::spawn(
        name,
        &config.batching,
        || runtime.load_laned(&path, config.lanes),
        Some(observer()),
    )
    .map_err(|err| {
        tracing::warn!(model = name, path = %path.display(), error = %err, "model failed to load");
        unavailable(&"the model file does not load (the server log has details)")
    })?;
    tracing::info!(model = name, backend = ?runtime.kind(), "classifier loaded");
    Ok(LoadedClassifier {
        classifier,
        executor,
    })
}

/// Feeds every batch's figures to the metrics recorder.
fn observer() -> BatchObserver {
    Arc::new(|stats: &BatchStats| {
        let model = stats.name.to_string();
        metrics::histogram!("atelier_infer_batch_size", "model" => model.clone())
            .record(stats.batch_size as f64);
        metrics::histogram!("atelier_infer_queue_seconds", "model" => model.clone())
            .record(stats.max_queue_time.as_secs_f64());
        metrics::histogram!("atelier_infer_seconds", "model" => model.clone())
            .record(stats.inference_time.as_secs_f64());
        if !stats.ok {
            metrics::counter!("atelier_infer_failures_total", "model" => model).increment(1);
        }
    })
}
