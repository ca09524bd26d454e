//! One 3D photo from bytes to output files, with no platform in sight: decode and fit the
//! photo, depth (supplied, learned or classical), layers, inpaint, render, encode. The job
//! runs it on a worker; `atelier photo3d` runs it on the command line.

use atelier_imaging::{
    DecodeError, DecodeLimits,
    animation::{AnimationError, GifOptions, Mp4Options, encode_gif, encode_mp4},
    decode_image, fit_within,
};
use atelier_photo3d::{
    DepthInput, DepthMap, DepthSource, LayerParams, LearnedDepth, RenderParams, Stage,
    build_layers, depth::supplied, estimate_depth, export_glb, render,
};

use super::params::{Photo3dParams, Photo3dRequestError, SOURCE_LIMITS};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Photo3dJobError {
    /// The input or the parameters cannot make a 3D photo.
    #[error(transparent)]
    Request(#[from] Photo3dRequestError),
    /// The photo cannot be decoded.
    #[error("the photo cannot be decoded: {0}")]
    Decode(#[from] DecodeError),
    /// Encoding the video or GIF failed.
    #[error("encoding failed: {0}")]
    Encode(#[from] AnimationError),
}

impl Photo3dJobError {
    /// The stable kebab-case code (the job's error record).
    pub fn code(&self) -> &'static str {
        match self {
            Photo3dJobError::Request(err) => err.code(),
            Photo3dJobError::Decode(DecodeError::UnsupportedType) => "not-an-image",
            Photo3dJobError::Decode(_) => "bad-image",
            Photo3dJobError::Encode(_) => "encode",
        }
    }
}

impl From<atelier_photo3d::Photo3dError> for Photo3dJobError {
    fn from(err: atelier_photo3d::Photo3dError) -> Self {
        Photo3dJobError::Request(err.into())
    }
}

/// One output file.
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

/// Reads a supplied depth map for a `width`×`height` photo, refusing one of another size and
/// one without any depth variation.
pub fn read_supplied_depth(
    bytes: &[u8],
    width: u32,
    height: u32,
    params: &Photo3dParams,
) -> Result<DepthMap, Photo3dRequestError> {
    let map = supplied::read(bytes, width, height, params.convention()?)?;
    let (lo, hi) = map.plane().min_max();
    if hi - lo < 1e-6 {
        return Err(Photo3dRequestError::ConstantDepth);
    }
    Ok(map)
}

/// Makes the 3D photo of `photo` (with the optional depth map `depth`, else `model`, else the
/// classical estimate), reporting the pipeline's stages to `progress`.
pub fn produce(
    photo: &[u8],
    depth: Option<&[u8]>,
    params: &Photo3dParams,
    limits: &DecodeLimits,
    model: Option<&mut LearnedDepth>,
    progress: atelier_photo3d::Progress<'_>,
) -> Result<Produced, Photo3dJobError> {
    let path = params.camera_path()?;
    let go_on = |stage: Stage, done: f32| {
        if progress(stage, done) {
            Ok(())
        } else {
            Err(Photo3dJobError::from(
                atelier_photo3d::Photo3dError::Canceled,
            ))
        }
    };
    go_on(Stage::Depth, 0.0)?;
    let decoded = decode_image(photo, limits)?;
    SOURCE_LIMITS.check(decoded.width(), decoded.height())?;
    let supplied_map = depth
        .map(|bytes| read_supplied_depth(bytes, decoded.width(), decoded.height(), params))
        .transpose()?;
    let image = fit_within(&decoded, params.max_side).to_rgb8();
    drop(decoded);
    let (width, height) = image.dimensions();
    let estimate = match (supplied_map, model) {
        (Some(map), _) => atelier_photo3d::DepthEstimate {
            map: DepthMap::from_normalised(map.plane().resized(width, height)),
            source: DepthSource::Supplied {
                convention: params.convention()?,
            },
        },
        (None, Some(model)) => estimate_depth(&image, DepthInput::Learned(model))?,
        (None, None) => estimate_depth(&image, DepthInput::Classical)?,
    };
    go_on(Stage::Depth, 1.0)?;
    let layer_params = LayerParams {
        max_amplitude: params.amplitude,
        ..LayerParams::default()
    };
    let scene = build_layers(&image, &estimate.map, &layer_params, progress)?;
    let wants = |f: &str| params.formats.iter().any(|g| g == f);
    let frames = if wants("mp4") || wants("gif") {
        render(&scene, &path, &RenderParams::default(), progress)?
    } else {
        Vec::new()
    };
    let mut files = Vec::new();
    for (i, format) in params.formats.iter().enumerate() {
        go_on(Stage::Encode, i as f32 / params.formats.len() as f32)?;
        let (name, bytes, dimensions) = match format.as_str() {
            "mp4" => (
                "mp4",
                encode_mp4(&frames, path.fps, &Mp4Options::default())?,
                Some((width, height)),
            ),
            "gif" => (
                "gif",
                encode_gif(&frames, path.fps, &GifOptions::default())?,
                Some((width, height)),
            ),
            _ => ("glb", export_glb(&scene)?, None),
        };
        files.push(OutputFile {
            name,
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
    use atelier_imaging::animation::inspect_mp4;
    use atelier_photo3d::{no_progress, synthetic::SyntheticScene};

    use super::*;

    fn png(image: &image::RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    }

    fn quick(formats: &[&str]) -> Photo3dParams {
        Photo3dParams {
            duration: 0.5,
            fps: 8,
            formats: formats.iter().map(|f| (*f).to_owned()).collect(),
            max_side: 64,
            ..Photo3dParams::for_upload("upl_x")
        }
    }

    #[test]
    fn a_synthetic_photo_becomes_a_video_a_glb_and_a_depth_preview() {
        let scene = SyntheticScene::cards(96, 64);
        let produced = produce(
            &png(&scene.image),
            None,
            &quick(&["mp4", "glb"]),
            &DecodeLimits::default(),
            None,
            &no_progress,
        )
        .expect("produced");
        assert_eq!(produced.depth_source, DepthSource::Classical);
        assert_eq!(produced.size, (64, 43));
        let names: Vec<_> = produced.files.iter().map(|f| f.name).collect();
        assert_eq!(names, ["mp4", "glb", "depth"]);
        let mp4 = inspect_mp4(&produced.files[0].bytes).expect("mp4");
        assert_eq!(mp4.frame_count, 4);
        let glb = atelier_photo3d::glb::inspect(&produced.files[1].bytes).expect("glb");
        assert_eq!(glb.triangles, produced.triangles);
    }

    #[test]
    fn a_supplied_depth_map_is_used_and_a_flat_one_refused() {
        let scene = SyntheticScene::cards(80, 60);
        let depth =
            image::GrayImage::from_fn(80, 60, |x, _| image::Luma([if x < 40 { 40 } else { 220 }]));
        let mut depth_png = std::io::Cursor::new(Vec::new());
        depth
            .write_to(&mut depth_png, image::ImageFormat::Png)
            .expect("png");
        let produced = produce(
            &png(&scene.image),
            Some(depth_png.get_ref()),
            &quick(&["glb"]),
            &DecodeLimits::default(),
            None,
            &no_progress,
        )
        .expect("produced");
        assert!(matches!(
            produced.depth_source,
            DepthSource::Supplied { .. }
        ));
        assert!(produced.edges > 0, "the step between the halves is an edge");

        let flat = image::GrayImage::from_pixel(80, 60, image::Luma([128]));
        let mut flat_png = std::io::Cursor::new(Vec::new());
        flat.write_to(&mut flat_png, image::ImageFormat::Png)
            .expect("png");
        let err =
            read_supplied_depth(flat_png.get_ref(), 80, 60, &quick(&["glb"])).expect_err("flat");
        assert_eq!(err.code(), "constant-depth");
        let err =
            read_supplied_depth(depth_png.get_ref(), 81, 60, &quick(&["glb"])).expect_err("size");
        assert_eq!(err.code(), "depth-size-mismatch");
    }
}
