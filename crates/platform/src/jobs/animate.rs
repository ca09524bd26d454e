//! The `animate` job kind: a drawing (an image upload) turned into an animated character —
//! GIF, MP4 and/or a PNG sprite sheet, plus the figure's mask — with the character (joints,
//! mesh, where the joints came from) in the result. Progress names the pipeline stages
//! (`segment`, `skeleton`, `rig`, `retarget`, `render`, `encode`).

use atelier_animate::{
    AnalyzeParams, AnimateError, Background, FileFormat, Joint, Motion, ProduceError,
    ProduceRequest, Produced, RenderParams, Stage, produce, skeleton,
};
use atelier_imaging::decode_image;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::animate_limits::{self, AnimateLimits};
use super::{JobContext, JobFailure, JobKind, StoredOutput};
use crate::{
    Platform, PlatformError, PlatformResult, accounts::User, error::InputError, storage::Storage,
    uploads,
};

/// Animates a drawing with a built-in motion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Animate;

/// The `animate` job's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnimateParams {
    /// The drawing (must be the job owner's image upload).
    pub upload_id: String,
    /// `walk`, `wave`, `jump`, `dance` or `run` (default `dance`).
    #[serde(default = "default_motion")]
    pub motion: String,
    /// Edited joints (AnimatedDrawings layout, image pixels); estimated from the drawing if absent.
    #[serde(default)]
    pub joints: Option<Vec<Joint>>,
    /// Frames per second, 1–60 (default 24).
    #[serde(default = "default_fps")]
    pub fps: u32,
    /// Length in seconds, up to 20 (default 3).
    #[serde(default = "default_duration")]
    pub duration_s: f32,
    /// Frame width and height, 32–1024 (default 384).
    #[serde(default = "default_size")]
    pub size: u32,
    /// Background colour `[r, g, b]`; absent = transparent (the MP4 then uses white).
    #[serde(default)]
    pub background: Option<[u8; 3]>,
    /// Any of `gif`, `mp4`, `png` (sprite sheet); default `["gif"]`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
}

fn default_motion() -> String {
    "dance".to_owned()
}
fn default_fps() -> u32 {
    24
}
fn default_duration() -> f32 {
    3.0
}
fn default_size() -> u32 {
    384
}
fn default_formats() -> Vec<String> {
    vec!["gif".to_owned()]
}

/// Longest animation a job renders.
const MAX_DURATION_S: f32 = 20.0;

impl AnimateParams {
    /// Parameters for `upload_id` with every default.
    pub fn for_upload(upload_id: impl Into<String>) -> Self {
        Self {
            upload_id: upload_id.into(),
            motion: default_motion(),
            joints: None,
            fps: default_fps(),
            duration_s: default_duration(),
            size: default_size(),
            background: None,
            formats: default_formats(),
        }
    }

    /// The pipeline's render settings for these parameters (validated).
    pub fn render_params(&self) -> Result<RenderParams, AnimateError> {
        if !(32..=1024).contains(&self.size) {
            return Err(AnimateError::InvalidParams(
                "size must be between 32 and 1024".into(),
            ));
        }
        if self.duration_s > MAX_DURATION_S {
            return Err(AnimateError::InvalidParams(format!(
                "duration is limited to {MAX_DURATION_S} s"
            )));
        }
        let params = RenderParams {
            fps: self.fps,
            duration_s: self.duration_s,
            width: self.size,
            height: self.size,
            background: self
                .background
                .map_or(Background::Transparent, Background::Color),
            ..RenderParams::default()
        };
        params.frame_count()?;
        Ok(params)
    }

    /// Checks the parameters against the drawing's size and `limits`, dropping repeated
    /// formats; the cost (frames × size², the sprite sheet) is refused here, at creation.
    fn check(
        &mut self,
        width: u32,
        height: u32,
        limits: &AnimateLimits,
    ) -> Result<Motion, AnimateError> {
        let motion: Motion = self.motion.parse()?;
        let frames = self.render_params()?.frame_count()?;
        if let Some(joints) = &self.joints {
            skeleton::from_joint_list(joints, width, height)?;
        }
        // Repeats are dropped from the stored parameters too: ten `gif`s are one GIF.
        self.formats = self
            .file_formats()?
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        animate_limits::check_cost(frames as u64, self.size, &self.formats, limits)
            .map_err(AnimateError::InvalidParams)?;
        Ok(motion)
    }

    /// The asked-for files, without repeats; at least one.
    pub fn file_formats(&self) -> Result<Vec<FileFormat>, AnimateError> {
        let mut formats: Vec<FileFormat> = Vec::new();
        for name in &self.formats {
            let format: FileFormat = name.parse()?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        if formats.is_empty() {
            return Err(AnimateError::InvalidParams(
                "ask for at least one format".into(),
            ));
        }
        Ok(formats)
    }

    /// The whole pipeline request for these parameters (validated).
    pub fn produce_request(&self) -> Result<ProduceRequest, AnimateError> {
        Ok(ProduceRequest {
            analyze: AnalyzeParams {
                joints: self.joints.clone(),
                ..AnalyzeParams::default()
            },
            motion: self.motion.parse()?,
            render: self.render_params()?,
            formats: self.file_formats()?,
            mask: true,
        })
    }
}

/// The stable kebab-case code of a pipeline error (job failures and API errors).
pub fn error_code(err: &AnimateError) -> &'static str {
    match err {
        AnimateError::ImageTooLarge { .. } => "image-too-large",
        AnimateError::NoFigure => "no-figure",
        AnimateError::MultipleFigures { .. } => "multiple-figures",
        AnimateError::InvalidJoints(_) => "invalid-joints",
        AnimateError::JointOutsideImage { .. } => "joint-outside-image",
        AnimateError::UnknownMotion(_) => "unknown-motion",
        AnimateError::Bvh { .. } => "bad-motion",
        AnimateError::InvalidParams(_) => "invalid-parameters",
        AnimateError::Mesh(_) => "cannot-rig",
        AnimateError::Canceled => "canceled",
    }
}

/// The job's percent at `done` of `stage`: the pipeline's own weights, fitted between fetching
/// (0–5 %) and storing (94–100 %).
fn job_percent(stage: Stage, done: f32) -> u8 {
    (5.0 + 87.0 * produce::overall(stage, done)).round() as u8
}

/// The stable code of a failed run.
fn produce_error_code(err: &ProduceError) -> &'static str {
    match err {
        ProduceError::Animate(err) => error_code(err),
        ProduceError::Encode(_) | ProduceError::Png(_) => "encode",
    }
}

/// Runs the pipeline on a drawing's bytes, stopping when the job is canceled.
fn render_all(
    bytes: &[u8],
    request: &ProduceRequest,
    limits: &atelier_imaging::DecodeLimits,
    progress: &super::Progress,
) -> Result<Produced, JobFailure> {
    let image = decode_image(bytes, limits)
        .map_err(|err| JobFailure::abort("bad-input", err.to_string()))?
        .to_rgba8();
    let mut report = |stage: Stage, done: f32| {
        progress.report(job_percent(stage, done), stage.as_str());
        !progress.is_canceled()
    };
    atelier_animate::produce(&image, request, &mut report)
        .map_err(|err| JobFailure::abort(produce_error_code(&err), err.to_string()))
}

/// The `animate` job's result.
#[derive(Debug, Clone, Serialize)]
pub struct AnimateOutput {
    /// The motion played.
    pub motion: &'static str,
    /// Frames per second.
    pub fps: u32,
    /// Frames rendered.
    pub frame_count: usize,
    /// Seconds.
    pub duration_s: f32,
    /// Frame side, pixels.
    pub size: u32,
    /// Where the skeleton came from (`geometric`, or `user` for edited joints).
    pub skeleton_source: atelier_animate::SkeletonSource,
    /// The character: joints, mesh size, mask bounds.
    pub character: atelier_animate::CharacterInfo,
    /// The stored files by role: `gif`, `mp4`, `sprite_sheet`, `mask`.
    pub outputs: std::collections::BTreeMap<String, StoredOutput>,
}

impl JobKind for Animate {
    const KIND: &'static str = "animate";
    type Params = AnimateParams;
    type Output = AnimateOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        mut params: AnimateParams,
    ) -> BoxFuture<'a, PlatformResult<AnimateParams>> {
        Box::pin(async move {
            let upload = uploads::get_owned(platform, owner.id, &params.upload_id).await?;
            if !upload.media_kind()?.is_image() {
                return Err(PlatformError::Invalid(
                    "animate needs an image upload (the drawing)".into(),
                ));
            }
            let (w, h) = (upload.width.unwrap_or(0), upload.height.unwrap_or(0));
            let (w, h) = (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0));
            params
                .check(w, h, &platform.config().animate)
                .map_err(|err| {
                    PlatformError::from(InputError::unprocessable(
                        error_code(&err),
                        err.to_string(),
                    ))
                })?;
            Ok(params)
        })
    }

    fn run(
        &self,
        ctx: JobContext,
        params: AnimateParams,
    ) -> BoxFuture<'static, Result<AnimateOutput, JobFailure>> {
        Box::pin(async move {
            let request = params
                .produce_request()
                .map_err(|err| JobFailure::abort(error_code(&err), err.to_string()))?;
            ctx.progress.report(2, "fetch");
            // Idempotence: whatever an interrupted attempt stored goes before this one stores.
            uploads::delete_job_outputs(&ctx.platform, ctx.job.owner_id, &ctx.job.id).await?;
            let source =
                uploads::get_owned(&ctx.platform, ctx.job.owner_id, &params.upload_id).await?;
            let bytes = ctx
                .platform
                .storage()
                .get_bytes(&Storage::blob_key(&source.sha256))
                .await?;
            let limits = ctx.platform.config().uploads.decode;
            let progress = ctx.progress.clone();
            let motion = request.motion;
            let produced = tokio::task::spawn_blocking(move || {
                render_all(&bytes, &request, &limits, &progress)
            })
            .await
            .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
            ctx.progress.report(94, "store");
            let mut outputs = std::collections::BTreeMap::new();
            for file in produced.files {
                let dims = file.dimensions;
                let output = ctx.store_output(file.bytes, Some(dims)).await?;
                outputs.insert(file.role.to_owned(), StoredOutput::of(&output, Some(dims)));
            }
            Ok(AnimateOutput {
                motion: motion.name(),
                fps: params.fps,
                frame_count: produced.frame_count,
                duration_s: params.duration_s,
                size: params.size,
                skeleton_source: produced.character.skeleton_source,
                character: produced.character,
                outputs,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AnimateParams {
        serde_json::from_value(serde_json::json!({ "upload_id": "upl_x" })).expect("valid")
    }

    #[test]
    fn defaults_are_a_three_second_dance_as_gif() {
        let mut p = params();
        assert_eq!((p.motion.as_str(), p.fps, p.size), ("dance", 24, 384));
        assert_eq!(p.formats, ["gif"]);
        assert_eq!(
            p.check(100, 100, &AnimateLimits::default()).expect("valid"),
            Motion::Dance
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_their_codes() {
        let mut p = params();
        p.motion = "fly".into();
        assert_eq!(
            error_code(
                &p.check(100, 100, &AnimateLimits::default())
                    .expect_err("refused")
            ),
            "unknown-motion"
        );
        let mut p = params();
        p.formats = vec!["avi".into()];
        assert_eq!(
            error_code(
                &p.check(100, 100, &AnimateLimits::default())
                    .expect_err("refused")
            ),
            "invalid-parameters"
        );
        let mut p = params();
        p.duration_s = 60.0;
        assert_eq!(
            error_code(
                &p.check(100, 100, &AnimateLimits::default())
                    .expect_err("refused")
            ),
            "invalid-parameters"
        );
        let mut p = params();
        p.joints = Some(vec![Joint {
            name: "root".into(),
            loc: [500.0, 1.0],
            parent: None,
        }]);
        assert_eq!(
            error_code(
                &p.check(100, 100, &AnimateLimits::default())
                    .expect_err("refused")
            ),
            "joint-outside-image"
        );
    }

    #[test]
    fn a_costly_animation_is_refused_at_creation_and_formats_are_deduplicated() {
        let mut p = params();
        (p.fps, p.duration_s, p.size) = (60, 20.0, 1024);
        p.formats = vec!["gif".into(); 10];
        let err = p
            .check(100, 100, &AnimateLimits::default())
            .expect_err("too costly");
        assert_eq!(error_code(&err), "invalid-parameters");
        assert!(err.to_string().contains("pixels"), "{err}");
        let mut p = params();
        p.formats = vec!["gif".into(), "mp4".into(), "gif".into(), "gif".into()];
        p.check(100, 100, &AnimateLimits::default()).expect("valid");
        assert_eq!(p.formats, ["gif", "mp4"]);
    }
}
