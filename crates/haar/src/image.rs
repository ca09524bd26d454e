//! Borrowed grayscale images and the colour → gray conversion OpenCV uses.

use crate::HaarError;

/// The largest accepted image side, in pixels.
///
/// Integral images are 32-bit like OpenCV's; beyond this size the engine refuses the image
/// rather than risk coordinate overflow.
pub const MAX_IMAGE_DIMENSION: u32 = 1 << 15;

/// A borrowed 8-bit grayscale image: `height` rows of `width` bytes, rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct GrayImage<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
}

impl<'a> GrayImage<'a> {
    /// Wraps a pixel buffer, checking that it is non-empty, not absurdly large, and long enough.
    pub fn new(data: &'a [u8], width: u32, height: u32, stride: usize) -> Result<Self, HaarError> {
        if width == 0 || height == 0 {
            return Err(HaarError::EmptyImage { width, height });
        }
        if width > MAX_IMAGE_DIMENSION || height > MAX_IMAGE_DIMENSION {
            return Err(HaarError::ImageTooLarge {
                width,
                height,
                max: MAX_IMAGE_DIMENSION,
            });
        }
        let row_len = width as usize;
        if stride < row_len {
            return Err(HaarError::StrideTooSmall { stride, row_len });
        }
        let needed = stride * (height as usize - 1) + row_len;
        if data.len() < needed {
            return Err(HaarError::BufferTooSmall {
                needed,
                actual: data.len(),
            });
        }
        Ok(Self {
            data,
            width,
            height,
            stride,
        })
    }

    /// Wraps a tightly packed buffer (`stride == width`).
    pub fn packed(data: &'a [u8], width: u32, height: u32) -> Result<Self, HaarError> {
        Self::new(data, width, height, width as usize)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Distance between the starts of two rows, in bytes.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `y` (`width` bytes). `y` must be below `height`.
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width as usize]
    }
}

/// Fixed-point coefficients of OpenCV's `RGB2GRAY` for 8-bit images (15 fractional bits).
const R2Y: u32 = 9798;
const G2Y: u32 = 19235;
const B2Y: u32 = 3735;
const GRAY_SHIFT: u32 = 15;

/// Converts packed RGB (3 bytes per pixel) or RGBA (4 bytes per pixel, alpha ignored) pixels to
/// gray exactly as OpenCV's `cvtColor(…, COLOR_RGB2GRAY)` / `COLOR_RGBA2GRAY` does for 8-bit
/// images: `(9798 R + 19235 G + 3735 B + 2^14) >> 15`.
///
/// `channels` must be 3 or 4 and `pixels` must hold `width * height * channels` bytes.
pub fn rgb_to_gray(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
) -> Result<Vec<u8>, HaarError> {
    if channels != 3 && channels != 4 {
        return Err(HaarError::param(
            "channels",
            format!("must be 3 (RGB) or 4 (RGBA), got {channels}"),
        ));
    }
    if width == 0 || height == 0 {
        return Err(HaarError::EmptyImage { width, height });
    }
    if width > MAX_IMAGE_DIMENSION || height > MAX_IMAGE_DIMENSION {
        return Err(HaarError::ImageTooLarge {
            width,
            height,
            max: MAX_IMAGE_DIMENSION,
        });
    }
    let n = width as usize * height as usize;
    let needed = n * channels;
    if pixels.len() < needed {
        return Err(HaarError::BufferTooSmall {
            needed,
            actual: pixels.len(),
        });
    }
    Ok(pixels[..needed]
        .chunks_exact(channels)
        .map(|p| {
            let y = u32::from(p[0]) * R2Y
                + u32::from(p[1]) * G2Y
                + u32::from(p[2]) * B2Y
                + (1 << (GRAY_SHIFT - 1));
            // The weights sum to 2^15, so the shifted value is at most 255.
            (y >> GRAY_SHIFT) as u8
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_sized_image_is_rejected() {
        assert_eq!(
            GrayImage::packed(&[], 0, 5).unwrap_err(),
            HaarError::EmptyImage {
                width: 0,
                height: 5
            }
        );
    }

    #[test]
    fn a_short_buffer_is_rejected() {
        let err = GrayImage::new(&[0; 10], 4, 3, 4).unwrap_err();
        assert_eq!(
            err,
            HaarError::BufferTooSmall {
                needed: 12,
                actual: 10
            }
        );
    }

    #[test]
    fn the_last_row_needs_no_padding() {
        // Three rows of 4 pixels with a stride of 6: 6 + 6 + 4 bytes.
        let img = GrayImage::new(&[0; 16], 4, 3, 6).unwrap();
        assert_eq!(img.row(2).len(), 4);
    }

    #[test]
    fn a_stride_shorter_than_a_row_is_rejected() {
        assert!(matches!(
            GrayImage::new(&[0; 100], 10, 2, 5),
            Err(HaarError::StrideTooSmall { .. })
        ));
    }

    #[test]
    fn a_huge_image_is_rejected_before_touching_memory() {
        assert!(matches!(
            GrayImage::new(&[], 100_000, 2, 100_000),
            Err(HaarError::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn gray_conversion_uses_opencv_fixed_point_weights() {
        // Values checked against cv2.cvtColor(…, COLOR_RGB2GRAY) from OpenCV 4.x.
        let rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 200, 30];
        let gray = rgb_to_gray(&rgb, 5, 1, 3).unwrap();
        assert_eq!(gray, vec![76, 150, 29, 255, 124]);
    }

    #[test]
    fn rgba_alpha_is_ignored() {
        let gray = rgb_to_gray(&[10, 200, 30, 0, 10, 200, 30, 255], 2, 1, 4).unwrap();
        assert_eq!(gray, vec![124, 124]);
    }

    #[test]
    fn gray_conversion_refuses_two_channels() {
        assert!(matches!(
            rgb_to_gray(&[0; 8], 2, 2, 2),
            Err(HaarError::InvalidParam { .. })
        ));
    }
}
