//! Image decoding with limits: dimensions are checked from the header before any pixel is decoded.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::sniff::{MediaKind, sniff};

/// Bounds on what [`decode_image`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width or height, in pixels.
    pub max_side: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Largest number of bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_side: 20_000,
            max_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Why an image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not one of the image types atelier reads.
    #[error("the data is not a JPEG, PNG, WebP or GIF image")]
    UnsupportedType,
    /// The header names dimensions beyond the configured limits.
    #[error(
        "image is {width}×{height} pixels, beyond the limit of {max_side} per side and {max_pixels} pixels"
    )]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The per-side limit in force.
        max_side: u32,
        /// The pixel-count limit in force.
        max_pixels: u64,
    },
    /// Decoding would allocate more than the configured memory limit.
    #[error("decoding the image would need more than {0} bytes of memory")]
    MemoryLimit(u64),
    /// The header names an empty image.
    #[error("image has zero width or height")]
    Empty,
    /// The data is corrupt or truncated.
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(String),
}

fn image_format(kind: MediaKind) -> Option<ImageFormat> {
    match kind {
        MediaKind::Jpeg => Some(ImageFormat::Jpeg),
        MediaKind::Png => Some(ImageFormat::Png),
        MediaKind::Webp => Some(ImageFormat::WebP),
        MediaKind::Gif => Some(ImageFormat::Gif),
        _ => None,
    }
}

fn reader<'a>(
    bytes: &'a [u8],
    limits: &DecodeLimits,
) -> Result<ImageReader<Cursor<&'a [u8]>>, DecodeError> {
    let format = sniff(bytes)
        .and_then(image_format)
        .ok_or(DecodeError::UnsupportedType)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    Ok(reader)
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty);
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

/// Reads an image's dimensions from its header only, enforcing `limits`.
pub fn read_dimensions(bytes: &[u8], limits: &DecodeLimits) -> Result<(u32, u32), DecodeError> {
    let decoder = reader(
        bytes,
        &DecodeLimits {
            max_side: u32::MAX,
            ..*limits
        },
    )?
    .into_decoder()
    .map_err(|err| DecodeError::Corrupt(err.to_string()))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    Ok((width, height))
}

/// Whether a JPEG's entropy-coded data ends with the end-of-image marker. JPEG decoders quietly
/// grey-fill a file cut short, so truncation is checked here: after the last start-of-scan
/// marker (`FF DA`) there must be an end-of-image marker (`FF D9`); inside scan data a literal
/// `FF` is always followed by `00` or a restart marker, so the pair cannot occur by chance.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|pair| pair == [0xFF, 0xDA]);
    match last_scan {
        Some(scan) => bytes[scan..].windows(2).any(|pair| pair == [0xFF, 0xD9]),
        None => false,
    }
}

/// Decodes a whole image, refusing it before allocation when it exceeds `limits`.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DynamicImage, DecodeError> {
    read_dimensions(bytes, limits)?;
    if sniff(bytes) == Some(MediaKind::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(DecodeError::Corrupt(
            "the JPEG data ends before its end-of-image marker".into(),
        ));
    }
    let reader = reader(bytes, limits)?;
    reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => DecodeError::MemoryLimit(limits.max_alloc_bytes),
        other => DecodeError::Corrupt(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{OutputFormat, encode};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            width,
            height,
            image::Rgb([10, 20, 30]),
        ));
        encode(&image, OutputFormat::Png).expect("encode")
    }

    /// A valid PNG signature and IHDR chunk claiming `width × height`, with no pixel data.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_small_png_decodes_to_its_pixels() {
        let image = decode_image(&png(3, 2), &DecodeLimits::default()).expect("decode");
        assert_eq!((image.width(), image.height()), (3, 2));
        assert_eq!(image.to_rgb8().get_pixel(2, 1).0, [10, 20, 30]);
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        let err = read_dimensions(&png_header_only(30_000, 30_000), &DecodeLimits::default())
            .expect_err("must refuse");
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 30_000,
                    height: 30_000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn pixel_count_is_limited_separately_from_sides() {
        let limits = DecodeLimits {
            max_side: 100,
            max_pixels: 50,
            max_alloc_bytes: 1 << 20,
        };
        assert!(matches!(
            read_dimensions(&png(10, 6), &limits),
            Err(DecodeError::TooLarge { .. })
        ));
        assert_eq!(
            read_dimensions(&png(10, 5), &limits).expect("fits"),
            (10, 5)
        );
    }

    #[test]
    fn truncated_data_is_corrupt_not_a_panic() {
        let bytes = png(64, 64);
        let err = decode_image(&bytes[..bytes.len() / 2], &DecodeLimits::default())
            .expect_err("truncated");
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn a_jpeg_cut_short_is_corrupt() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            32,
            32,
            image::Rgb([200, 10, 10]),
        ));
        let jpeg = encode(&image, OutputFormat::Jpeg { quality: 90 }).expect("jpeg");
        assert!(decode_image(&jpeg, &DecodeLimits::default()).is_ok());
        let cut = &jpeg[..jpeg.len() - 10];
        assert!(matches!(
            decode_image(cut, &DecodeLimits::default()),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn text_is_an_unsupported_type() {
        assert!(matches!(
            decode_image(b"just some text, not an image", &DecodeLimits::default()),
            Err(DecodeError::UnsupportedType)
        ));
    }
}
