//! From a drawing to its encoded files — the one path the `animate` job and `atelier animate`
//! share: analyse, pose, render, then encode each asked-for format (and the figure's mask),
//! with one stage-weight table for progress and a stop between stages and chunks of frames.

use std::str::FromStr;

use atelier_imaging::{
    DynamicImage, EncodeError, OutputFormat,
    animation::{AnimationError, GifOptions, Mp4Options, encode_gif, encode_mp4, sprite_sheet},
    encode,
};
use image::RgbaImage;
use serde::{Deserialize, Serialize};

use crate::{
    AnalyzeParams, AnimateError, CharacterInfo, Motion, Progress, RenderParams, Stage,
    render::Background,
};

/// A file an animation can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// An animated GIF (transparent where the background is).
    Gif,
    /// An H.264 MP4 (the background, or white, behind the figure).
    Mp4,
    /// A PNG sprite sheet: every frame in a near-square grid.
    #[serde(rename = "png")]
    SpriteSheet,
}

impl FileFormat {
    /// Every format, in the order the names list them.
    pub const ALL: [FileFormat; 3] = [FileFormat::Gif, FileFormat::Mp4, FileFormat::SpriteSheet];

    /// The name a request uses: `gif`, `mp4` or `png`.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Gif => "gif",
            FileFormat::Mp4 => "mp4",
            FileFormat::SpriteSheet => "png",
        }
    }

    /// The role the file plays among a job's outputs: `gif`, `mp4` or `sprite_sheet`.
    pub fn role(self) -> &'static str {
        match self {
            FileFormat::Gif => "gif",
            FileFormat::Mp4 => "mp4",
            FileFormat::SpriteSheet => "sprite_sheet",
        }
    }
}

impl FromStr for FileFormat {
    type Err = AnimateError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        FileFormat::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| {
                AnimateError::InvalidParams(format!("unknown format {name:?} (gif, mp4, png)"))
            })
    }
}

/// What to make of a drawing.
#[derive(Debug, Clone)]
pub struct ProduceRequest {
    /// Figure finding and (optionally edited) joints.
    pub analyze: AnalyzeParams,
    /// The motion to play.
    pub motion: Motion,
    /// Frame size, rate, length and background.
    pub render: RenderParams,
    /// The files to write, in order.
    pub formats: Vec<FileFormat>,
    /// Whether to write the figure's mask as a PNG too (role `mask`).
    pub mask: bool,
}

/// One encoded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedFile {
    /// `gif`, `mp4`, `sprite_sheet` or `mask`.
    pub role: &'static str,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// Pixel width and height.
    pub dimensions: (u32, u32),
}

/// Everything a run made.
#[derive(Debug, Clone)]
pub struct Produced {
    /// The files, in the order of [`ProduceRequest::formats`], then the mask.
    pub files: Vec<ProducedFile>,
    /// The character: joints, mesh, mask bounds, where the joints came from.
    pub character: CharacterInfo,
    /// Frames rendered.
    pub frame_count: usize,
}

/// Why a run made nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The drawing, the joints or the parameters were refused, or the run was canceled.
    #[error(transparent)]
    Animate(#[from] AnimateError),
    /// Encoding the GIF, MP4 or sprite sheet failed.
    #[error("encoding failed: {0}")]
    Encode(#[from] AnimationError),
    /// Encoding a PNG failed.
    #[error("encoding failed: {0}")]
    Png(#[from] EncodeError),
}

/// The share of the whole run each stage takes, as (start, end) fractions: the one weight table
/// both the job's percent and the command line's bar are drawn from.
pub fn stage_span(stage: Stage) -> (f32, f32) {
    match stage {
        Stage::Segment => (0.0, 0.12),
        Stage::Skeleton => (0.12, 0.15),
        Stage::Rig => (0.15, 0.2),
        Stage::Retarget => (0.2, 0.35),
        Stage::Render => (0.35, 0.65),
        Stage::Encode => (0.65, 1.0),
    }
}

/// The fraction of the whole run done at `done` (0–1) of `stage`.
pub fn overall(stage: Stage, done: f32) -> f32 {
    let (start, end) = stage_span(stage);
    start + (end - start) * done.clamp(0.0, 1.0)
}

/// Makes the asked-for files of `image`, reporting progress to `progress` (which may stop it).
pub fn produce(
    image: &RgbaImage,
    request: &ProduceRequest,
    progress: Progress<'_>,
) -> Result<Produced, ProduceError> {
    let character = crate::analyze(image, &request.analyze, progress)?;
    let frames = crate::render(&character, request.motion, &request.render, progress)?;
    let background = match request.render.background {
        Background::Transparent => None,
        Background::Color(rgb) => Some(rgb),
    };
    let size = (request.render.width, request.render.height);
    let mut files = Vec::with_capacity(request.formats.len() + 1);
    for (i, format) in request.formats.iter().enumerate() {
        if !progress(Stage::Encode, i as f32 / request.formats.len() as f32) {
            return Err(AnimateError::Canceled.into());
        }
        let (bytes, dimensions) = match format {
            FileFormat::Gif => {
                let options = GifOptions {
                    background,
                    ..GifOptions::default()
                };
                (encode_gif(&frames.frames, frames.fps, &options)?, size)
            }
            FileFormat::Mp4 => {
                let options = Mp4Options {
                    background: background.unwrap_or([255, 255, 255]),
                    ..Mp4Options::default()
                };
                (encode_mp4(&frames.frames, frames.fps, &options)?, size)
            }
            FileFormat::SpriteSheet => {
                let columns = (frames.frames.len() as f64).sqrt().ceil() as u32;
                let sheet = sprite_sheet(&frames.frames, columns)?;
                let dimensions = sheet.dimensions();
                (
                    encode(&DynamicImage::ImageRgba8(sheet), OutputFormat::Png)?,
                    dimensions,
                )
            }
        };
        files.push(ProducedFile {
            role: format.role(),
            bytes,
            dimensions,
        });
    }
    if request.mask {
        let mask = character.mask_image();
        let dimensions = mask.dimensions();
        files.push(ProducedFile {
            role: "mask",
            bytes: encode(&DynamicImage::ImageLuma8(mask), OutputFormat::Png)?,
            dimensions,
        });
    }
    progress(Stage::Encode, 1.0);
    Ok(Produced {
        files,
        character: character.info(),
        frame_count: frames.frames.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_and_name_their_roles() {
        let parsed: Vec<FileFormat> = ["gif", "mp4", "png"]
            .iter()
            .map(|name| name.parse().expect("known"))
            .collect();
        assert_eq!(parsed, FileFormat::ALL);
        let roles: Vec<&str> = parsed.iter().map(|f| f.role()).collect();
        assert_eq!(roles, ["gif", "mp4", "sprite_sheet"]);
        assert!(matches!(
            "avi".parse::<FileFormat>(),
            Err(AnimateError::InvalidParams(_))
        ));
    }

    #[test]
    fn the_stage_weights_cover_the_run_in_order() {
        let stages = [
            Stage::Segment,
            Stage::Skeleton,
            Stage::Rig,
            Stage::Retarget,
            Stage::Render,
            Stage::Encode,
        ];
        let mut end = 0.0;
        for stage in stages {
            let (a, b) = stage_span(stage);
            assert_eq!(a, end, "{stage:?} starts where the last stage ended");
            assert!(b > a);
            end = b;
        }
        assert_eq!(end, 1.0);
        assert!((overall(Stage::Render, 0.5) - 0.5).abs() < 1e-6);
    }
}
