#![doc = include_str!("../README.md")]

pub mod camera;
pub mod depth;
mod error;
pub mod glb;
pub mod layers;
mod limits;
mod plane;
pub mod quality;
pub mod render;
pub mod synthetic;

pub use camera::{CameraPath, PathKind, Pose};
pub use depth::{
    DepthConvention, DepthEstimate, DepthInput, DepthMap, DepthSource, LearnedDepth,
    LearnedDepthSpec, estimate_depth,
};
pub use error::Photo3dError;
pub use glb::{GlbInfo, export_glb};
pub use layers::{DepthEdge, LayerParams, LayeredScene, Vertex, build_layers};
pub use limits::Limits;
pub use plane::Plane;
pub use render::{Frame, RenderParams, render, render_frames, render_pose};

/// The stages a 3D photo goes through, as reported to progress callbacks and job status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Estimating or reading depth.
    Depth,
    /// Finding edges and building the meshes.
    Layers,
    /// Filling the disoccluded bands.
    Inpaint,
    /// Rasterising frames.
    Render,
    /// Encoding video, GIF or glTF (done by the caller).
    Encode,
}

impl Stage {
    /// The stage's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Depth => "depth",
            Stage::Layers => "layers",
            Stage::Inpaint => "inpaint",
            Stage::Render => "render",
            Stage::Encode => "encode",
        }
    }
}

/// A progress callback: a stage and the fraction of it done (0–1), answering whether to go on.
/// `false` stops the pipeline at its next check (between stages and between frames) with
/// [`Photo3dError::Canceled`]. Called from several threads while frames render.
pub type Progress<'a> = &'a (dyn Fn(Stage, f32) -> bool + Sync);

/// A progress callback that ignores progress and never stops the pipeline.
pub fn no_progress(_: Stage, _: f32) -> bool {
    true
}

/// Reports progress and turns a request to stop into [`Photo3dError::Canceled`].
pub(crate) fn report(progress: Progress<'_>, stage: Stage, done: f32) -> Result<(), Photo3dError> {
    if progress(stage, done) {
        Ok(())
    } else {
        Err(Photo3dError::Canceled)
    }
}
