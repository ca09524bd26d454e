//! One 3D photo from bytes to output files, with no platform in sight: decode and fit the
//! photo, depth (supplied, learned or classical), layers, inpaint, render, encode. The job
//! runs it on a worker; `atelier photo3d` runs it on the command line.

use atelier_imaging::{DecodeError, DecodeLimits};
use atelier_photo3d::{
    DepthMap, LearnedDepth, ProduceError, ProduceRequest, Produced, Progress,
    produce::{self, FileFormat},
};

use super::params::{Photo3dParams, Photo3dRequestError, SOURCE_LIMITS};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Photo3dJobError {
    /// The parameters cannot make a 3D photo.
    #[error(transparent)]
    Request(#[from] Photo3dRequestError),
    /// The pipeline refused the input, failed or was canceled.
    #[error(transparent)]
    Produce(#[from] ProduceError),
}

impl Photo3dJobError {
    /// The stable kebab-case code (the job's error record).
    pub fn code(&self) -> &'static str {
        match self {
            Photo3dJobError::Request(err) => err.code(),
            Photo3dJobError::Produce(ProduceError::Pipeline(err)) => {
                super::params::pipeline_code(err)
            }
            Photo3dJobError::Produce(ProduceError::ConstantDepth) => "constant-depth",
            Photo3dJobError::Produce(ProduceError::Decode(DecodeError::UnsupportedType)) => {
                "not-an-image"
            }
            Photo3dJobError::Produce(ProduceError::Decode(_)) => "bad-image",
            Photo3dJobError::Produce(ProduceError::Encode(_)) => "encode",
        }
    }
}

impl Photo3dParams {
    /// The pipeline's request for these parameters.
    pub fn produce_request(&self) -> Result<ProduceRequest, Photo3dRequestError> {
        let formats = self
            .formats
            .iter()
            .map(|name| {
                FileFormat::parse(name).ok_or_else(|| {
                    Photo3dRequestError::InvalidParams(format!(
                        "unknown format {name:?} (mp4, gif, glb)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProduceRequest {
            path: self.camera_path()?,
            max_side: self.max_side,
            convention: self.convention()?,
            source_limits: SOURCE_LIMITS,
            formats,
        })
    }
}

/// Reads a supplied depth map for a `width`×`height` photo, refusing one of another size and
/// one without any depth variation.
pub fn read_supplied_depth(
    bytes: &[u8],
    width: u32,
    height: u32,
    params: &Photo3dParams,
) -> Result<DepthMap, Photo3dRequestError> {
    produce::read_supplied_depth(bytes, width, height, params.convention()?).map_err(
        |err| match err {
            ProduceError::ConstantDepth => Photo3dRequestError::ConstantDepth,
            ProduceError::Pipeline(err) => Photo3dRequestError::Pipeline(err),
            other => Photo3dRequestError::InvalidParams(other.to_string()),
        },
    )
}

/// Makes the 3D photo of `photo` for `params`: [`atelier_photo3d::produce`] with the request
/// these parameters make.
pub fn produce(
    photo: &[u8],
    depth: Option<&[u8]>,
    params: &Photo3dParams,
    limits: &DecodeLimits,
    model: Option<&LearnedDepth>,
    progress: Progress<'_>,
) -> Result<Produced, Photo3dJobError> {
    let request = params.produce_request()?;
    Ok(atelier_photo3d::produce(
        photo, depth, &request, limits, model, progress,
    )?)
}

#[cfg(test)]
mod tests {
    use atelier_imaging::animation::inspect_mp4;
    use atelier_photo3d::{DepthSource, no_progress, synthetic::SyntheticScene};

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
