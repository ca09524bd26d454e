//! The detector studio's networks: the frozen EfficientNet-Lite0 feature trunk every training
//! and every trained detector runs on (made once from the manifest's checkpoint by
//! `Registry::fetch_backbone`, loaded once per process), and trained heads, each loaded once per
//! process by detector id (a stored detector never changes).

use std::sync::{Arc, Mutex};

use atelier_detector::train::{features::Backbone, head::Head};
use atelier_infer::Runtime;

use super::{ModelsConfig, ModelsError};

/// The manifest model whose checkpoint gives the studio's backbone.
pub const BACKBONE_MODEL: &str = "efficientnet-lite0";
/// The backbone's input width (multiple of 32); images are scaled to fit and padded.
pub const BACKBONE_WIDTH: usize = 320;
/// The backbone's input height (multiple of 32).
pub const BACKBONE_HEIGHT: usize = 256;

/// The loaded backbone, one user at a time (the runtime session keeps scratch state).
pub struct StudioBackbone(pub Mutex<Backbone>);

impl std::fmt::Debug for StudioBackbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StudioBackbone")
    }
}

/// A trained detector as served: its head and its class names (class index order).
#[derive(Debug, Clone)]
pub struct LoadedDetector {
    /// The head's weights.
    pub head: Head,
    /// Label names by class index.
    pub labels: Vec<String>,
    /// Label ids by class index.
    pub label_ids: Vec<i64>,
}

/// Makes (first time) and loads the backbone (blocking).
pub(crate) fn load_backbone(
    config: &ModelsConfig,
    runtime: &Runtime,
) -> Result<StudioBackbone, ModelsError> {
    let registry = config
        .registry()
        .map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))?;
    let path = match registry.fetch_backbone(BACKBONE_MODEL) {
        Ok(path) => path,
        Err(err) => {
            tracing::warn!(error = %err, "detector backbone unavailable");
            return Err(ModelsError::unavailable(BACKBONE_MODEL, err));
        }
    };
    let model = runtime
        .load(&path)
        .map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))?;
    let backbone = Backbone::new(model, BACKBONE_WIDTH, BACKBONE_HEIGHT)
        .map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))?;
    tracing::info!(backend = ?runtime.kind(), "detector backbone loaded");
    Ok(StudioBackbone(Mutex::new(backbone)))
}

/// The backbone's ONNX bytes (made first if needed; blocking), for exporting a detector.
pub(crate) fn backbone_onnx(config: &ModelsConfig) -> Result<Vec<u8>, ModelsError> {
    let registry = config
        .registry()
        .map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))?;
    let path = registry
        .fetch_backbone(BACKBONE_MODEL)
        .map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))?;
    std::fs::read(&path).map_err(|err| ModelsError::unavailable(BACKBONE_MODEL, err))
}

/// Shared handle to the backbone.
pub type SharedBackbone = Arc<StudioBackbone>;
