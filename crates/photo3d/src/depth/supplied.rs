//! Depth maps supplied by the user, beside the photo.
//!
//! Conventions ([`DepthConvention`]):
//! - **8-bit** maps (portrait modes, most editing tools, depth estimators' PNG exports)
//!   are *disparity*: brighter = nearer. That is the `Auto` reading.
//! - **16-bit** maps (RGB-D cameras: Kinect, RealSense, Azure Kinect) are *metric depth*
//!   (usually millimetres): brighter = farther, `0` = no measurement. That is the `Auto`
//!   reading too; missing pixels are filled from their neighbours.
//! - `Disparity` or `Depth` force one reading whatever the bit depth.
//!
//! The map must have exactly the photo's size; it is checked from the header before
//! anything is decoded.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};

use super::DepthMap;
use crate::{Photo3dError, Plane};

/// How to read a supplied depth map's grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepthConvention {
    /// 8-bit = disparity (brighter nearer); 16-bit = depth (brighter farther, 0 missing).
    #[default]
    Auto,
    /// Brighter = nearer, whatever the bit depth.
    Disparity,
    /// Brighter = farther, `0` = missing, whatever the bit depth.
    Depth,
}

impl DepthConvention {
    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DepthConvention::Auto => "auto",
            DepthConvention::Disparity => "disparity",
            DepthConvention::Depth => "depth",
        }
    }

    /// Parses `auto`, `disparity` or `depth`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "disparity" | "near-bright" => Some(Self::Disparity),
            "depth" | "far-bright" => Some(Self::Depth),
            _ => None,
        }
    }
}

/// Reads a supplied depth map for a `width`×`height` photo.
pub fn read(
    bytes: &[u8],
    width: u32,
    height: u32,
    convention: DepthConvention,
) -> Result<DepthMap, Photo3dError> {
    if bytes.is_empty() {
        return Err(Photo3dError::DepthDecode("the file is empty".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Photo3dError::DepthDecode(e.to_string()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Photo3dError::DepthDecode(e.to_string()))?;
    if (w, h) != (width, height) {
        return Err(Photo3dError::DepthSizeMismatch {
            width,
            height,
            got_width: w,
            got_height: h,
        });
    }
    let decoded = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Photo3dError::DepthDecode(e.to_string()))?
        .decode()
        .map_err(|e| Photo3dError::DepthDecode(e.to_string()))?;
    let sixteen_bit = matches!(
        decoded,
        DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_)
    );
    let grey = decoded.into_luma16();
    let values = Plane::from_fn(w, h, |x, y| f32::from(grey.get_pixel(x, y).0[0]) / 65535.0);
    let as_depth = match convention {
        DepthConvention::Auto => sixteen_bit,
        DepthConvention::Disparity => false,
        DepthConvention::Depth => true,
    };
    if !as_depth {
        return Ok(DepthMap::from_disparity(values));
    }
    // Depth: disparity = 1 / depth; zeros are holes, filled from their neighbours.
    let mut disparity = values;
    let mut known = Vec::with_capacity(disparity.data().len());
    for v in disparity.data_mut() {
        known.push(*v > 0.0);
        *v = if *v > 0.0 { 1.0 / *v } else { 0.0 };
    }
    if !known.iter().any(|&k| k) {
        return Err(Photo3dError::DepthDecode(
            "the depth map has no measured pixel (all zero)".into(),
        ));
    }
    let filled = crate::layers::inpaint::fill_plane(&disparity, &known);
    Ok(DepthMap::from_disparity(filled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma};

    fn png<P>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
    where
        P: image::PixelWithColorType,
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_8_bit_map_reads_brighter_as_nearer() {
        let img = ImageBuffer::from_fn(4, 2, |x, _| Luma([(x * 80) as u8]));
        let map = read(&png(&img), 4, 2, DepthConvention::Auto).unwrap();
        assert_eq!(map.plane().at(0, 0), 0.0);
        assert_eq!(map.plane().at(3, 1), 1.0);
    }

    #[test]
    fn a_16_bit_map_reads_as_metric_depth_with_holes_filled() {
        // Left half 1000 mm (near), right half 4000 mm (far), one missing pixel.
        let img = ImageBuffer::from_fn(8, 2, |x, y| {
            Luma([if (x, y) == (1, 0) {
                0u16
            } else if x < 4 {
                1000
            } else {
                4000
            }])
        });
        let map = read(&png(&img), 8, 2, DepthConvention::Auto).unwrap();
        assert_eq!(map.plane().at(0, 0), 1.0);
        assert_eq!(map.plane().at(7, 1), 0.0);
        assert!(
            map.plane().at(1, 0) > 0.9,
            "the hole takes its neighbours' depth"
        );
        let forced = read(&png(&img), 8, 2, DepthConvention::Disparity).unwrap();
        assert_eq!(
            forced.plane().at(7, 1),
            1.0,
            "forced disparity: brighter nearer"
        );
    }

    #[test]
    fn a_map_of_the_wrong_size_is_rejected_before_decoding() {
        let img = ImageBuffer::from_fn(4, 2, |_, _| Luma([9u8]));
        let err = read(&png(&img), 5, 2, DepthConvention::Auto).unwrap_err();
        assert!(matches!(
            err,
            Photo3dError::DepthSizeMismatch {
                got_width: 4,
                width: 5,
                ..
            }
        ));
    }

    #[test]
    fn empty_or_garbage_bytes_are_a_decode_error() {
        assert!(matches!(
            read(&[], 1, 1, DepthConvention::Auto),
            Err(Photo3dError::DepthDecode(_))
        ));
        assert!(matches!(
            read(b"not an image at all", 1, 1, DepthConvention::Auto),
            Err(Photo3dError::DepthDecode(_))
        ));
    }
}
