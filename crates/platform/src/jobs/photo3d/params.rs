//! The `photo3d` job's parameters, their validation and the typed errors of a bad request.

use atelier_photo3d::{CameraPath, DepthConvention, Limits, PathKind, Photo3dError};
use serde::{Deserialize, Serialize};

/// Output files a `photo3d` job can write (the depth preview PNG is always written).
pub const FORMATS: [&str; 3] = ["mp4", "gif", "glb"];

/// Longest video a job renders, in seconds.
pub const MAX_DURATION_S: f32 = 20.0;
/// Highest frame rate.
pub const MAX_FPS: u32 = 60;
/// Largest camera amplitude (fraction of the longer side): what the layered scene is built
/// to support without holes.
pub const MAX_AMPLITUDE: f32 = 0.05;
/// Smallest and largest working size (longer side, pixels).
pub const MAX_SIDE_RANGE: std::ops::RangeInclusive<u32> = 64..=1024;

/// The largest source photo a job accepts. The job works on a copy fitted to `max_side`, so
/// this only keeps absurd inputs (a 20 000-pixel panorama) from being decoded by a worker.
pub const SOURCE_LIMITS: Limits = Limits {
    max_side: 8192,
    max_pixels: 40_000_000,
};

/// Why a 3D-photo request cannot be served; each variant has a stable code ([`Self::code`]).
#[derive(Debug, thiserror::Error)]
pub enum Photo3dRequestError {
    /// A parameter is missing, malformed or out of range.
    #[error("{0}")]
    InvalidParams(String),
    /// The photo upload is not a still image (a video, say).
    #[error("the photo must be an image (JPEG, PNG, WebP or GIF), not {kind}")]
    NotAnImage {
        /// The upload's kind.
        kind: String,
    },
    /// The depth upload is not a PNG.
    #[error("the depth map must be an 8- or 16-bit PNG, not {kind}")]
    DepthNotPng {
        /// The upload's kind.
        kind: String,
    },
    /// The supplied depth map has one value everywhere: there is no depth to make parallax from.
    #[error(
        "the depth map has the same value everywhere: no parallax is possible (leave it out to estimate depth from the photo)"
    )]
    ConstantDepth,
    /// The pipeline refused the input (photo too large, depth map of another size…).
    #[error(transparent)]
    Pipeline(#[from] Photo3dError),
}

impl From<Photo3dRequestError> for crate::PlatformError {
    fn from(err: Photo3dRequestError) -> Self {
        use crate::error::{InputError, InputErrorClass};
        let class = match &err {
            Photo3dRequestError::NotAnImage { .. } | Photo3dRequestError::DepthNotPng { .. } => {
                InputErrorClass::UnsupportedMediaType
            }
            Photo3dRequestError::Pipeline(Photo3dError::Model(_) | Photo3dError::Encode(_)) => {
                InputErrorClass::Internal
            }
            _ => InputErrorClass::Unprocessable,
        };
        InputError {
            code: err.code(),
            message: err.to_string(),
            class,
        }
        .into()
    }
}

impl Photo3dRequestError {
    /// The stable kebab-case code (API error bodies and job error records).
    pub fn code(&self) -> &'static str {
        match self {
            Photo3dRequestError::InvalidParams(_) => "invalid-parameters",
            Photo3dRequestError::NotAnImage { .. } => "not-an-image",
            Photo3dRequestError::DepthNotPng { .. } => "depth-not-png",
            Photo3dRequestError::ConstantDepth => "constant-depth",
            Photo3dRequestError::Pipeline(err) => pipeline_code(err),
        }
    }
}

/// The stable code of a pipeline error.
pub fn pipeline_code(err: &Photo3dError) -> &'static str {
    match err {
        Photo3dError::EmptyImage { .. } => "empty-image",
        Photo3dError::TooLarge { .. } => "photo-too-large",
        Photo3dError::DepthSizeMismatch { .. } => "depth-size-mismatch",
        Photo3dError::DepthDecode(_) => "bad-depth-map",
        Photo3dError::Model(_) => "depth-model-failed",
        Photo3dError::InvalidParams(_) => "invalid-parameters",
        Photo3dError::Encode(_) => "encode",
        Photo3dError::Canceled => "canceled",
    }
}

/// The `photo3d` job's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Photo3dParams {
    /// The photo (must be the job owner's image upload).
    pub upload_id: String,
    /// A depth map of the photo's size (the owner's 8- or 16-bit PNG upload); estimated if absent.
    #[serde(default)]
    pub depth_upload_id: Option<String>,
    /// How to read the depth map: `disparity` (brighter = nearer) or `depth` (brighter =
    /// farther); absent = by bit depth (8-bit disparity, 16-bit depth).
    #[serde(default)]
    pub depth_convention: Option<String>,
    /// Camera path: `zoom-in`, `dolly-zoom`, `swing` or `circle` (default).
    #[serde(default = "default_path")]
    pub path: String,
    /// Seconds, in (0, 20] (default 4).
    #[serde(default = "default_duration")]
    pub duration: f32,
    /// Frames per second, 1–60 (default 30).
    #[serde(default = "default_fps")]
    pub fps: u32,
    /// Largest displacement of the nearest content as a fraction of the longer side, in
    /// (0, 0.05] (default 0.03).
    #[serde(default = "default_amplitude")]
    pub amplitude: f32,
    /// Any of `mp4`, `gif`, `glb`; default `["mp4", "glb"]`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// The working size: the photo is fitted to this longer side, 64–1024 (default 512).
    #[serde(default = "default_max_side")]
    pub max_side: u32,
}

fn default_path() -> String {
    "circle".to_owned()
}
fn default_duration() -> f32 {
    4.0
}
fn default_fps() -> u32 {
    30
}
fn default_amplitude() -> f32 {
    0.03
}
fn default_formats() -> Vec<String> {
    vec!["mp4".to_owned(), "glb".to_owned()]
}
fn default_max_side() -> u32 {
    512
}

impl Photo3dParams {
    /// Parameters for `upload_id` with every default.
    pub fn for_upload(upload_id: impl Into<String>) -> Self {
        Self {
            upload_id: upload_id.into(),
            depth_upload_id: None,
            depth_convention: None,
            path: default_path(),
            duration: default_duration(),
            fps: default_fps(),
            amplitude: default_amplitude(),
            formats: default_formats(),
            max_side: default_max_side(),
        }
    }

    /// Checks every parameter and normalises the format list (lower case, no repeats).
    pub fn validate(&mut self) -> Result<(), Photo3dRequestError> {
        let bad = |m: String| Err(Photo3dRequestError::InvalidParams(m));
        self.camera_path()?;
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= MAX_DURATION_S) {
            return bad(format!(
                "duration must be in (0, {MAX_DURATION_S}] seconds, got {}",
                self.duration
            ));
        }
        if !(1..=MAX_FPS).contains(&self.fps) {
            return bad(format!("fps must be in 1..={MAX_FPS}, got {}", self.fps));
        }
        if !(self.amplitude.is_finite() && self.amplitude > 0.0 && self.amplitude <= MAX_AMPLITUDE)
        {
            return bad(format!(
                "amplitude must be in (0, {MAX_AMPLITUDE}], got {}",
                self.amplitude
            ));
        }
        if !MAX_SIDE_RANGE.contains(&self.max_side) {
            return bad(format!(
                "max_side must be in {}..={}, got {}",
                MAX_SIDE_RANGE.start(),
                MAX_SIDE_RANGE.end(),
                self.max_side
            ));
        }
        let mut formats: Vec<String> = Vec::new();
        for format in &self.formats {
            let format = format.trim().to_ascii_lowercase();
            if !FORMATS.contains(&format.as_str()) {
                return bad(format!("unknown format {format:?} (mp4, gif, glb)"));
            }
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        if formats.is_empty() {
            return bad("ask for at least one format (mp4, gif, glb)".into());
        }
        self.formats = formats;
        self.convention()?;
        if self.depth_convention.is_some() && self.depth_upload_id.is_none() {
            return bad("depth_convention only applies with a depth map (depth_upload_id)".into());
        }
        Ok(())
    }

    /// The camera path these parameters describe.
    pub fn camera_path(&self) -> Result<CameraPath, Photo3dRequestError> {
        let kind = PathKind::parse(&self.path).ok_or_else(|| {
            Photo3dRequestError::InvalidParams(format!(
                "unknown path {:?} (zoom-in, dolly-zoom, swing, circle)",
                self.path
            ))
        })?;
        Ok(CameraPath {
            kind,
            duration: self.duration,
            fps: self.fps,
            amplitude: self.amplitude,
        })
    }

    /// How the supplied depth map is read.
    pub fn convention(&self) -> Result<DepthConvention, Photo3dRequestError> {
        match self.depth_convention.as_deref() {
            None => Ok(DepthConvention::Auto),
            Some("disparity") => Ok(DepthConvention::Disparity),
            Some("depth") => Ok(DepthConvention::Depth),
            Some(other) => Err(Photo3dRequestError::InvalidParams(format!(
                "unknown depth_convention {other:?} (disparity, depth)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_errors_become_coded_input_errors_of_the_right_class() {
        use crate::{PlatformError, error::InputErrorClass};
        let coded = |err: Photo3dRequestError| match PlatformError::from(err) {
            PlatformError::Input(input) => (input.code, input.class),
            other => panic!("not an input error: {other}"),
        };
        assert_eq!(
            coded(Photo3dRequestError::ConstantDepth),
            ("constant-depth", InputErrorClass::Unprocessable)
        );
        assert_eq!(
            coded(Photo3dRequestError::NotAnImage { kind: "mp4".into() }),
            ("not-an-image", InputErrorClass::UnsupportedMediaType)
        );
    }

    use super::*;

    fn params() -> Photo3dParams {
        serde_json::from_value(serde_json::json!({ "upload_id": "upl_x" })).expect("valid")
    }

    #[test]
    fn defaults_are_a_four_second_circle_as_mp4_and_glb() {
        let mut p = params();
        p.validate().expect("valid");
        assert_eq!(p, Photo3dParams::for_upload("upl_x"));
        assert_eq!(p.camera_path().expect("path").frame_count(), 120);
        assert_eq!(p.formats, ["mp4", "glb"]);
    }

    #[test]
    fn formats_are_normalised_and_repeats_dropped() {
        let mut p = params();
        p.formats = vec!["GIF".into(), " mp4".into(), "gif".into()];
        p.validate().expect("valid");
        assert_eq!(p.formats, ["gif", "mp4"]);
    }

    #[test]
    fn each_out_of_range_parameter_is_refused_with_invalid_parameters() {
        let cases: [fn(&mut Photo3dParams); 10] = [
            |p| p.path = "spiral".into(),
            |p| p.duration = 0.0,
            |p| p.duration = 21.0,
            |p| p.fps = 61,
            |p| p.amplitude = 0.06,
            |p| p.amplitude = 0.0,
            |p| p.formats = vec![],
            |p| p.formats = vec!["avi".into()],
            |p| p.max_side = 4096,
            |p| p.depth_convention = Some("depth".into()),
        ];
        for (i, break_it) in cases.iter().enumerate() {
            let mut p = params();
            break_it(&mut p);
            let err = p.validate().expect_err("refused");
            assert_eq!(err.code(), "invalid-parameters", "case {i}: {err}");
        }
        let mut p = params();
        p.depth_upload_id = Some("upl_d".into());
        p.depth_convention = Some("sideways".into());
        assert_eq!(
            p.validate().expect_err("refused").code(),
            "invalid-parameters"
        );
    }

    #[test]
    fn a_panorama_of_20k_pixels_is_over_the_source_limit() {
        let err = Photo3dRequestError::from(
            SOURCE_LIMITS
                .check(20_000, 1_000)
                .expect_err("over the limit"),
        );
        assert_eq!(err.code(), "photo-too-large");
        assert!(
            SOURCE_LIMITS.check(6000, 4000).is_ok(),
            "a 24 MP photo is fine"
        );
    }
}
