//! The `animate` job kind: a drawing (an image upload) turned into an animated character —
//! GIF, MP4 and/or a PNG sprite sheet, plus the figure's mask — with the character (joints,
//! mesh, where the joints came from) in the result. Progress names the pipeline stages
//! (`segment`, `skeleton`, `rig`, `retarget`, `render`, `encode`).

use atelier_animate::{
    AnalyzeParams, AnimateError, Background, Joint, Motion, RenderParams, Stage, skeleton,
};
use atelier_imaging::{
    DynamicImage, OutputFormat,
    animation::{GifOptions, Mp4Options, encode_gif, encode_mp4, sprite_sheet},
    decode_image, encode,
};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::animate_limits::{self, AnimateLimits};
use super::{JobContext, JobFailure, JobHandler};
use crate::{Platform, PlatformError, PlatformResult, accounts::User, storage::Storage, uploads};

/// Animates a drawing with a built-in motion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Animate;

/// Output files an `animate` job can write.
pub const FORMATS: [&str; 3] = ["gif", "mp4", "png"];

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
        self.formats = animate_limits::normalise_formats(&self.formats, &FORMATS)
            .map_err(AnimateError::InvalidParams)?;
        animate_limits::check_cost(frames as u64, self.size, &self.formats, limits)
            .map_err(AnimateError::InvalidParams)?;
        Ok(motion)
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
    }
}

/// Progress percent at the end of each stage.
fn stage_span(stage: Stage) -> (u8, u8) {
    match stage {
        Stage::Segment => (5, 15),
        Stage::Skeleton => (15, 18),
        Stage::Rig => (18, 22),
        Stage::Retarget => (22, 35),
        Stage::Render => (35, 65),
        Stage::Encode => (65, 92),
    }
}

/// Everything a finished run produced, before storing.
struct Rendered {
    files: Vec<(&'static str, Vec<u8>, (u32, u32))>,
    character: atelier_animate::CharacterInfo,
    frames: usize,
}

fn render_all(
    bytes: &[u8],
    params: &AnimateParams,
    motion: Motion,
    limits: &atelier_imaging::DecodeLimits,
    progress: &super::Progress,
) -> Result<Rendered, JobFailure> {
    let fail = |err: AnimateError| JobFailure::abort(error_code(&err), err.to_string());
    let image = decode_image(bytes, limits)
        .map_err(|err| JobFailure::abort("bad-input", err.to_string()))?
        .to_rgba8();
    let mut report = |stage: Stage, f: f32| {
        let (a, b) = stage_span(stage);
        progress.report(
            a + ((f32::from(b - a)) * f.clamp(0.0, 1.0)) as u8,
            stage.as_str(),
        );
    };
    let analyze = AnalyzeParams {
        joints: params.joints.clone(),
        ..AnalyzeParams::default()
    };
    let character = atelier_animate::analyze(&image, &analyze, &mut report).map_err(fail)?;
    let render = params.render_params().map_err(fail)?;
    let frames = atelier_animate::render(&character, motion, &render, &mut report).map_err(fail)?;
    let encode_err = |err: atelier_imaging::animation::AnimationError| {
        JobFailure::abort("encode", err.to_string())
    };
    let size = (render.width, render.height);
    let mut files = Vec::new();
    for (i, format) in params.formats.iter().enumerate() {
        report(Stage::Encode, i as f32 / params.formats.len() as f32);
        let bytes = match format.as_str() {
            "gif" => encode_gif(
                &frames.frames,
                frames.fps,
                &GifOptions {
                    background: params.background,
                    ..GifOptions::default()
                },
            )
            .map_err(encode_err)?,
            "mp4" => encode_mp4(
                &frames.frames,
                frames.fps,
                &Mp4Options {
                    background: params.background.unwrap_or([255, 255, 255]),
                    ..Mp4Options::default()
                },
            )
            .map_err(encode_err)?,
            _ => {
                let columns = (frames.frames.len() as f64).sqrt().ceil() as u32;
                let sheet = sprite_sheet(&frames.frames, columns).map_err(encode_err)?;
                let dims = sheet.dimensions();
                let png = encode(&DynamicImage::ImageRgba8(sheet), OutputFormat::Png)
                    .map_err(|err| JobFailure::abort("encode", err.to_string()))?;
                files.push(("png", png, dims));
                continue;
            }
        };
        files.push((if format == "gif" { "gif" } else { "mp4" }, bytes, size));
    }
    let mask = character.mask_image();
    let dims = mask.dimensions();
    let png = encode(&DynamicImage::ImageLuma8(mask), OutputFormat::Png)
        .map_err(|err| JobFailure::abort("encode", err.to_string()))?;
    files.push(("mask", png, dims));
    report(Stage::Encode, 1.0);
    Ok(Rendered {
        files,
        character: character.info(),
        frames: frames.frames.len(),
    })
}

impl JobHandler for Animate {
    fn kind(&self) -> &'static str {
        "animate"
    }

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: Value,
    ) -> BoxFuture<'a, PlatformResult<Value>> {
        Box::pin(async move {
            let mut params: AnimateParams = serde_json::from_value(params)
                .map_err(|err| PlatformError::Invalid(format!("bad animate params: {err}")))?;
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
                .map_err(|err| PlatformError::Invalid(err.to_string()))?;
            serde_json::to_value(params).map_err(PlatformError::internal)
        })
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobFailure>> {
        Box::pin(async move {
            let params: AnimateParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|err| JobFailure::abort("bad-params", err.to_string()))?;
            let motion: Motion = params.motion.parse().map_err(|err: AnimateError| {
                JobFailure::abort(error_code(&err), err.to_string())
            })?;
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
            let job_params = params.clone();
            let rendered = tokio::task::spawn_blocking(move || {
                render_all(&bytes, &job_params, motion, &limits, &progress)
            })
            .await
            .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
            ctx.progress.report(94, "store");
            let mut outputs = serde_json::Map::new();
            for (name, bytes, dims) in rendered.files {
                let output = uploads::store_output(
                    &ctx.platform,
                    ctx.job.owner_id,
                    &ctx.job.id,
                    bytes,
                    Some(dims),
                )
                .await?;
                let key = match name {
                    "png" => "sprite_sheet",
                    other => other,
                };
                outputs.insert(
                    key.to_owned(),
                    serde_json::json!({ "upload_id": output.id, "kind": output.kind, "size": output.size, "width": dims.0, "height": dims.1 }),
                );
            }
            Ok(serde_json::json!({
                "motion": motion.name(),
                "fps": params.fps,
                "frame_count": rendered.frames,
                "duration_s": params.duration_s,
                "size": params.size,
                "skeleton_source": rendered.character.skeleton_source,
                "character": rendered.character,
                "outputs": outputs,
            }))
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
        p.formats = vec!["gif".into(), "mp4".into(), "gif".into(), "GIF".into()];
        p.check(100, 100, &AnimateLimits::default()).expect("valid");
        assert_eq!(p.formats, ["gif", "mp4"]);
    }
}
