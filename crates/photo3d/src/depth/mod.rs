//! Depth: where the scene's relative depth comes from, in one representation.
//!
//! A [`DepthMap`] holds *normalised disparity* in `[0, 1]`: `1` is the nearest point of
//! the scene, `0` the farthest (disparity is inverse depth, which is what monocular
//! networks such as MiDaS and Depth Anything predict, up to scale and shift). Three
//! sources produce it, and the result always names the one used ([`DepthSource`]):
//!
//! - [`learned`]: an ONNX monocular depth network run through `atelier-infer`;
//! - [`supplied`]: a depth map the user brings (8- or 16-bit PNG, as portrait modes
//!   and RGB-D cameras produce);
//! - [`classical`]: a documented heuristic for when no model is available.

pub mod classical;
pub mod learned;
pub mod supplied;

use image::RgbImage;

use crate::{Photo3dError, Plane};

pub use learned::{LearnedDepth, LearnedDepthSpec};
pub use supplied::DepthConvention;

/// Normalised disparity in `[0, 1]` (`1` = nearest), one value per photo pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap(Plane);

impl DepthMap {
    /// Wraps a plane, rescaling its values to `[0, 1]` (a constant plane becomes 0.5).
    pub fn from_disparity(plane: Plane) -> Self {
        Self(plane.normalised())
    }

    /// Wraps a plane whose values are already in `[0, 1]` (clamped, not rescaled).
    pub fn from_normalised(mut plane: Plane) -> Self {
        for v in plane.data_mut() {
            *v = if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
        Self(plane)
    }

    /// The disparity plane.
    pub fn plane(&self) -> &Plane {
        &self.0
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.0.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.0.height()
    }

    /// A greyscale preview (white = near), as users expect from portrait-mode maps.
    pub fn preview(&self) -> image::GrayImage {
        image::GrayImage::from_fn(self.width(), self.height(), |x, y| {
            image::Luma([(self.0.at(x, y) * 255.0).round().clamp(0.0, 255.0) as u8])
        })
    }

    /// The preview encoded as PNG.
    pub fn preview_png(&self) -> Result<Vec<u8>, Photo3dError> {
        let mut out = std::io::Cursor::new(Vec::new());
        self.preview()
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| Photo3dError::Encode(e.to_string()))?;
        Ok(out.into_inner())
    }
}

/// Which depth source produced a [`DepthMap`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DepthSource {
    /// A monocular depth network.
    Learned {
        /// The model's name (as in the model manifest).
        model: String,
    },
    /// A depth map supplied with the photo.
    Supplied {
        /// How its grey levels were read.
        convention: DepthConvention,
    },
    /// The classical heuristic ([`classical`]).
    Classical,
}

impl DepthSource {
    /// A short human-readable description for job results and logs.
    pub fn describe(&self) -> String {
        match self {
            DepthSource::Learned { model } => format!("learned ({model})"),
            DepthSource::Supplied { convention } => format!("supplied ({})", convention.as_str()),
            DepthSource::Classical => {
                "classical fallback (position, focus and saliency cues)".to_string()
            }
        }
    }
}

/// A depth map and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthEstimate {
    /// The normalised disparity.
    pub map: DepthMap,
    /// Its source.
    pub source: DepthSource,
}

/// Where depth should come from.
pub enum DepthInput<'a> {
    /// Run this network.
    Learned(&'a LearnedDepth),
    /// Read a depth map the user supplied (PNG or any format `image` reads).
    Supplied {
        /// The encoded file.
        bytes: &'a [u8],
        /// How to read its grey levels.
        convention: DepthConvention,
    },
    /// Use the classical heuristic.
    Classical,
}

/// Produces the depth map of `image` from `input`.
pub fn estimate_depth(
    image: &RgbImage,
    input: DepthInput<'_>,
) -> Result<DepthEstimate, Photo3dError> {
    crate::limits::check_not_empty(image.width(), image.height())?;
    match input {
        DepthInput::Learned(model) => Ok(DepthEstimate {
            map: model.estimate(image)?,
            source: DepthSource::Learned {
                model: model.spec().name.clone(),
            },
        }),
        DepthInput::Supplied { bytes, convention } => Ok(DepthEstimate {
            map: supplied::read(bytes, image.width(), image.height(), convention)?,
            source: DepthSource::Supplied { convention },
        }),
        DepthInput::Classical => Ok(DepthEstimate {
            map: classical::estimate(image),
            source: DepthSource::Classical,
        }),
    }
}

/// The luminance of an RGB image in `[0, 1]` (Rec. 601 weights).
pub(crate) fn luminance(image: &RgbImage) -> Plane {
    Plane::from_fn(image.width(), image.height(), |x, y| {
        let p = image.get_pixel(x, y).0;
        (0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])) / 255.0
    })
}
