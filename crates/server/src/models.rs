//! The neural models a server runs: the inference runtime (chosen once, lazily, because finding
//! ONNX Runtime may mean fetching its library), the model registry, and one batching executor per
//! loaded classifier. Wiring only: preprocessing and inference live in `atelier-classify` and
//! `atelier-infer`.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use atelier_classify::{Classification, Classifier, ClassifyError, RgbImage};
use atelier_imaging::{DecodeError, DecodeLimits, decode_image};
use atelier_infer::{
    BatchObserver, BatchStats, BatchingConfig, BatchingExecutor, OrtLibraryConfig, Registry,
    RegistryError, Runtime, RuntimeConfig, RuntimeInfo, RuntimePreference, Tensor,
};
use tokio::sync::{Mutex, OnceCell};

/// How models are found and run.
#[derive(Debug, Clone)]
pub struct ModelsConfig {
    /// The model cache (fetched and imported models, and the ONNX Runtime library).
    pub cache_dir: PathBuf,
    /// Which runtime to use.
    pub runtime: RuntimePreference,
    /// Threads inside one operator.
    pub intra_threads: usize,
    /// Single-threaded instances a batch is split across (see [`atelier_infer::LanedModel`]);
    /// below 2, every batch runs on one instance with `intra_threads` threads.
    pub lanes: usize,
    /// Dynamic batching.
    pub batching: BatchingConfig,
    /// Whether missing models and the ONNX Runtime library may be fetched from their registries.
    pub allow_download: bool,
    /// The classifier used when a request names none.
    pub default_classifier: String,
    /// Choose the runtime at start-up (fetching ONNX Runtime if needed) rather than on first use.
    pub warm_up: bool,
}

impl ModelsConfig {
    /// Defaults with the cache under `data_dir/models`.
    pub fn under(data_dir: &std::path::Path) -> Self {
        Self {
            cache_dir: data_dir.join("models"),
            runtime: RuntimePreference::Auto,
            intra_threads: 2,
            lanes: 2,
            batching: BatchingConfig::default(),
            allow_download: true,
            default_classifier: "efficientnet-lite0".to_owned(),
            warm_up: true,
        }
    }
}

/// Why a model could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// No such model in the manifest or among imports.
    #[error("unknown model {0:?}; `atelier models list` shows the available ones")]
    Unknown(String),
    /// The model exists but cannot be loaded or fetched here.
    #[error("model {name} is unavailable: {message}")]
    Unavailable {
        /// The model.
        name: String,
        /// Why.
        message: String,
    },
}

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

/// The runtime, the registry and the loaded models of one server.
#[derive(Debug)]
pub struct Models {
    config: ModelsConfig,
    runtime: OnceCell<Arc<Runtime>>,
    classifiers: Mutex<HashMap<String, Arc<LoadedClassifier>>>,
}

impl Models {
    /// Nothing is loaded until first use.
    pub fn new(config: ModelsConfig) -> Self {
        Self {
            config,
            runtime: OnceCell::new(),
            classifiers: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ModelsConfig {
        &self.config
    }

    /// The runtime, chosen on first call (ONNX Runtime, else rten, with the reason).
    pub async fn runtime(&self) -> Result<Arc<Runtime>, ModelsError> {
        let config = RuntimeConfig {
            preference: self.config.runtime,
            intra_threads: self.config.intra_threads.max(1),
            intra_op_spinning: false,
            ort_library: OrtLibraryConfig {
                dylib_path: None,
                cache_dir: self.config.cache_dir.clone(),
                allow_download: self.config.allow_download,
            },
        };
        self.runtime
            .get_or_try_init(|| async move {
                let runtime = tokio::task::spawn_blocking(move || Runtime::auto(&config))
                    .await
                    .map_err(|err| unavailable("runtime", err))?
                    .map_err(|err| unavailable("runtime", err))?;
                tracing::info!(backend = ?runtime.kind(), reason = runtime.reason(), "inference runtime chosen");
                Ok(Arc::new(runtime))
            })
            .await
            .cloned()
    }

    /// The runtime's description, if it has been chosen.
    pub fn runtime_info(&self) -> Option<RuntimeInfo> {
        self.runtime.get().map(|runtime| runtime.info())
    }

    /// The classifier `name` (or the default), loading (and, if allowed, fetching) it first.
    pub async fn classifier(
        &self,
        name: Option<&str>,
    ) -> Result<Arc<LoadedClassifier>, ModelsError> {
        let name = name
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.config.default_classifier)
            .to_owned();
        let mut loaded = self.classifiers.lock().await;
        if let Some(found) = loaded.get(&name) {
            return Ok(found.clone());
        }
        let runtime = self.runtime().await?;
        let config = self.config.clone();
        let model_name = name.clone();
        let classifier =
            tokio::task::spawn_blocking(move || load_classifier(&config, &runtime, &model_name))
                .await
                .map_err(|err| unavailable(&name, err))??;
        let classifier = Arc::new(classifier);
        loaded.insert(name, classifier.clone());
        Ok(classifier)
    }
}

fn unavailable(name: &str, err: impl std::fmt::Display) -> ModelsError {
    ModelsError::Unavailable {
        name: name.to_owned(),
        message: err.to_string(),
    }
}

fn load_classifier(
    config: &ModelsConfig,
    runtime: &Runtime,
    name: &str,
) -> Result<LoadedClassifier, ModelsError> {
    let registry = Registry::open(&config.cache_dir).map_err(|err| unavailable(name, err))?;
    let resolved = match registry.resolve(name) {
        Ok(resolved) => resolved,
        Err(RegistryError::UnknownModel(_)) => return Err(ModelsError::Unknown(name.to_owned())),
        Err(RegistryError::NotFetched { .. }) if config.allow_download => {
            tracing::info!(
                model = name,
                "fetching model from its offline registry source"
            );
            registry.fetch(name).map_err(|err| unavailable(name, err))?
        }
        Err(err) => return Err(unavailable(name, err)),
    };
    let classifier = Classifier::for_model(&resolved).map_err(|err| unavailable(name, err))?;
    let path = resolved.path.clone();
    let executor = BatchingExecutor::spawn(
        name,
        &config.batching,
        || runtime.load_laned(&path, config.lanes),
        Some(observer()),
    )
    .map_err(|err| unavailable(name, err))?;
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
