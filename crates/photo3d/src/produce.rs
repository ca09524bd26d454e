//! From a photo to its encoded files — the one path the `photo3d` job and `atelier photo3d`
//! share: decode and fit the photo, depth (supplied, learned or classical), layers, inpaint,
//! render, then encode each asked-for file and the depth preview, with one stage-weight table
//! for progress and a stop between stages and frames.

use atelier_imaging::{
    DecodeError, DecodeLimits,
    animation::{AnimationError, GifOptions, Mp4Options, encode_gif, encode_mp4},
    decode_image, fit_within,
};

use crate::{
    CameraPath, DepthConvention, DepthEstimate, DepthInput, DepthMap, DepthSource, LayerParams,
    LearnedDepth, Limits, Photo3dError, Progress, RenderParams, Stage, build_layers,
    depth::supplied, estimate_depth, export_glb, render,
};

/// A file a 3D photo can be written as (the depth preview is always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// An H.264 MP4 of the camera path.
    Mp4,
    /// An animated GIF of the camera path.
    Gif,
    /// The layered scene as binary glTF.
    Glb,
}

impl FileFormat {
    /// Every format, in the order the names list them.
    pub const ALL: [FileFormat; 3] = [FileFormat::Mp4, FileFormat::Gif, FileFormat::Glb];

    /// The name a request uses and the role of the file among a job's outputs.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Mp4 => "mp4",
            FileFormat::Gif => "gif",
            FileFormat::Glb => "glb",
        }
    }

    /// The format called `name`, if any.
    pub fn parse(name: &str) -> Option<FileFormat> {
        FileFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What to make of a photo.
#[derive(Debug, Clone)]
pub struct ProduceRequest {
    /// The camera's path through the scene (kind, length, rate, amplitude).
    pub path: CameraPath,
    /// The photo is fitted to this longer side before anything else.
    pub max_side: u32,
    /// How a supplied depth map's values read.
    pub convention: DepthConvention,
    /// The largest source photo accepted (checked before fitting).
    pub source_limits: Limits,
    /// The files to write, in order.
    pub formats: Vec<FileFormat>,
}

/// One encoded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// `mp4`, `gif`, `glb` or `depth` (the depth preview PNG).
    pub name: &'static str,
    /// The encoded file.
    pub bytes: Vec<u8>,
    /// Pixel size, for images and videos.
    pub dimensions: Option<(u32, u32)>,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Produced {
    /// The asked-for formats in order, then the depth preview.
    pub files: Vec<OutputFile>,
    /// Where the depth came from.
    pub depth_source: DepthSource,
    /// Frames in the video and GIF.
    pub frame_count: usize,
    /// The working size (the photo fitted to `max_side`).
    pub size: (u32, u32),
    /// Depth discontinuities the scene was cut along.
    pub edges: usize,
    /// Triangles in the layered mesh.
    pub triangles: usize,
}

/// Why a run made nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The pipeline refused the input or the parameters, or was canceled.
    #[error(transparent)]
    Pipeline(#[from] Photo3dError),
    /// The supplied depth map has one value everywhere: there is no depth to make parallax from.
    #[error(
        "the depth map has the same value everywhere: no parallax is possible (leave it out to estimate depth from the photo)"
    )]
    ConstantDepth,
    /// The photo cannot be decoded.
    #[error("the photo cannot be decoded: {0}")]
    Decode(#[from] DecodeError),
    /// Encoding the video or GIF failed.
    #[error("encoding failed: {0}")]
    Encode(#[from] AnimationError),
}

/// The share of the whole run each stage takes, as (start, end) fractions: the one weight table
/// both the job's percent and the command line's bar are drawn from.
pub fn stage_span(stage: Stage) -> (f32, f32) {
    match stage {
        Stage::Depth => (0.0, 0.17),
        Stage::Layers => (0.17, 0.34),
        Stage::Inpaint => (0.34, 0.46),
        Stage::Render => (0.46, 0.8),
        Stage::Encode => (0.8, 1.0),
    }
}

/// The fraction of the whole run done at `done` (0–1) of `stage`.
pub fn overall(stage: Stage, done: f32) -> f32 {
    let (start, end) = stage_span(stage);
    start + (end - start) * done.clamp(0.0, 1.0)
}

/// Reads a supplied depth map for a `width`×`height` photo, refusing one of another size and
/// one without any depth variation.
pub fn read_supplied_depth(
    bytes: &[u8],
    width: u32,
    height: u32,
    convention: DepthConvention,
) -> Result<DepthMap, ProduceError> {
    let map = supplied::read(bytes, width, height, convention)?;
    let (lo, hi) = map.plane().min_max();
    if hi - lo < 1e-6 {
        return Err(ProduceError::ConstantDepth);
    }
    Ok(map)
}

/// Makes the 3D photo of `photo` (with the optional depth map `depth`, else `model`, else the
/// classical estimate), reporting the pipeline's stages to `progress` (which may stop it).
pub fn produce(
    photo: &[u8],
    depth: Option<&[u8]>,
    request: &ProduceRequest,
    limits: &DecodeLimits,
    model: Option<&LearnedDepth>,
    progress: Progress<'_>,
) -> Result<Produced, ProduceError> {
    let path = &request.path;
    path.validate()?;
    crate::report(progress, Stage::Depth, 0.0)?;
    let decoded = decode_image(photo, limits)?;
    request
        .source_limits
        .check(decoded.width(), decoded.height())?;
    let supplied_map = depth
        .map(|bytes| {
            read_supplied_depth(bytes, decoded.width(), decoded.height(), request.convention)
        })
        .transpose()?;
    let image = fit_within(&decoded, request.max_side).to_rgb8();
    drop(decoded);
    let (width, height) = image.dimensions();
    let estimate = match (supplied_map, model) {
        (Some(map), _) => DepthEstimate {
            map: DepthMap::from_normalised(map.plane().resized(width, height)),
            source: DepthSource::Supplied {
                convention: request.convention,
            },
        },
        (None, Some(model)) => estimate_depth(&image, DepthInput::Learned(model))?,
        (None, None) => estimate_depth(&image, DepthInput::Classical)?,
    };
    crate::report(progress, Stage::Depth, 1.0)?;
    let layer_params = LayerParams {
        max_amplitude: path.amplitude,
        ..LayerParams::default()
    };
    let scene = build_layers(&image, &estimate.map, &layer_params, progress)?;
    let moving = request
        .formats
        .iter()
        .any(|f| matches!(f, FileFormat::Mp4 | FileFormat::Gif));
    let frames = if moving {
        render(&scene, path, &RenderParams::default(), progress)?
    } else {
        Vec::new()
    };
    let mut files = Vec::with_capacity(request.formats.len() + 1);
    for (i, format) in request.formats.iter().enumerate() {
        crate::report(
            progress,
            Stage::Encode,
            i as f32 / request.formats.len() as f32,
        )?;
        let (bytes, dimensions) = match format {
            FileFormat::Mp4 => (
                encode_mp4(&frames, path.fps, &Mp4Options::default())?,
                Some((width, height)),
            ),
            FileFormat::Gif => (
                encode_gif(&frames, path.fps, &GifOptions::default())?,
                Some((width, height)),
            ),
            FileFormat::Glb => (export_glb(&scene)?, None),
        };
        files.push(OutputFile {
            name: format.name(),
            bytes,
            dimensions,
        });
    }
    files.push(OutputFile {
        name: "depth",
        bytes: estimate.map.preview_png()?,
        dimensions: Some((width, height)),
    });
    progress(Stage::Encode, 1.0);
    Ok(Produced {
        files,
        depth_source: estimate.source,
        frame_count: path.frame_count(),
        size: (width, height),
        edges: scene.edges.len(),
        triangles: scene.triangle_count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_weights_cover_the_run_in_order() {
        let mut end = 0.0;
        for stage in [
            Stage::Depth,
            Stage::Layers,
            Stage::Inpaint,
            Stage::Render,
            Stage::Encode,
        ] {
            let (a, b) = stage_span(stage);
            assert_eq!(a, end, "{stage:?} starts where the last stage ended");
            assert!(b > a);
            end = b;
        }
        assert_eq!(end, 1.0);
    }

    #[test]
    fn formats_parse_by_name() {
        for format in FileFormat::ALL {
            assert_eq!(FileFormat::parse(format.name()), Some(format));
        }
        assert_eq!(FileFormat::parse("avi"), None);
    }
}
