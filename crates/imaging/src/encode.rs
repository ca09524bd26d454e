//! Still-image encoders (PNG, JPEG) that return bytes.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, codecs::jpeg::JpegEncoder};

/// A still-image output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Lossless PNG, alpha kept.
    Png,
    /// JPEG at the given quality (1–100); alpha is dropped.
    Jpeg {
        /// Quality, 1–100.
        quality: u8,
    },
}

impl OutputFormat {
    /// The media type of the encoded bytes.
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Png => "image/png",
            OutputFormat::Jpeg { .. } => "image/jpeg",
        }
    }
}

/// Why encoding failed.
#[derive(Debug, thiserror::Error)]
#[error("could not encode image: {0}")]
pub struct EncodeError(String);

/// Encodes `image` in `format`.
pub fn encode(image: &DynamicImage, format: OutputFormat) -> Result<Vec<u8>, EncodeError> {
    let mut out = Cursor::new(Vec::new());
    match format {
        OutputFormat::Png => image
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|err| EncodeError(err.to_string()))?,
        OutputFormat::Jpeg { quality } => {
            let rgb = image.to_rgb8();
            JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .encode_image(&rgb)
                .map_err(|err| EncodeError(err.to_string()))?
        }
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::{MediaKind, sniff};

    #[test]
    fn encoded_bytes_carry_the_right_magic_number() {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::new(4, 4));
        assert_eq!(
            sniff(&encode(&image, OutputFormat::Png).expect("png")),
            Some(MediaKind::Png)
        );
        assert_eq!(
            sniff(&encode(&image, OutputFormat::Jpeg { quality: 80 }).expect("jpeg")),
            Some(MediaKind::Jpeg)
        );
    }
}
