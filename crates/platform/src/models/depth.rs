//! The learned depth model of 3D photos: the model cache's default for the `depth-estimation`
//! task, loaded once and shared by every job of the process at once (the model takes its own
//! runs in turn; everything around them runs in parallel).

use std::sync::Arc;

use atelier_infer::{Registry, Runtime};
use atelier_photo3d::{LearnedDepth, LearnedDepthSpec};

use super::ModelsError;

/// The model-manifest task a depth network is listed under.
pub const DEPTH_TASK: &str = "depth-estimation";

/// A loaded depth model, shared by the jobs of one process.
pub type SharedDepthModel = Arc<LearnedDepth>;

/// Whether the cache in `cache_dir` holds a fetched default depth model.
pub(crate) fn is_cached(cache_dir: &std::path::Path) -> bool {
    let Ok(registry) = Registry::open(cache_dir) else {
        return false;
    };
    registry
        .default_for(DEPTH_TASK)
        .is_some_and(|entry| registry.resolve(&entry.name).is_ok())
}

/// Loads the cached default depth model on `runtime` (blocking); `Ok(None)` when there is none.
pub(crate) fn load(
    cache_dir: &std::path::Path,
    runtime: &Runtime,
) -> Result<Option<SharedDepthModel>, ModelsError> {
    let Ok(registry) = Registry::open(cache_dir) else {
        return Ok(None);
    };
    let Some(entry) = registry.default_for(DEPTH_TASK) else {
        return Ok(None);
    };
    let Ok(resolved) = registry.resolve(&entry.name) else {
        return Ok(None);
    };
    let name = resolved.entry.name.clone();
    let model = runtime.load(&resolved.path).map_err(|err| {
        tracing::warn!(model = %name, path = %resolved.path.display(), error = %err, "depth model failed to load");
        ModelsError::unavailable(&name, "the model file does not load (the server log has details)")
    })?;
    let input = &resolved.entry.input;
    let spec = LearnedDepthSpec {
        input_width: input.width,
        input_height: input.height,
        mean: input.mean,
        std: input.std,
        ..LearnedDepthSpec::midas_v21_small(&name)
    };
    let model =
        LearnedDepth::new(model, spec).map_err(|err| ModelsError::unavailable(&name, err))?;
    tracing::info!(model = %name, backend = ?runtime.kind(), "depth model loaded");
    Ok(Some(Arc::new(model)))
}
