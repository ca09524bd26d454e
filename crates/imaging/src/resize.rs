//! Resizing that keeps the aspect ratio.

use image::{DynamicImage, imageops::FilterType};

/// The size of a `width × height` image scaled to fit inside `max_side × max_side`
/// (never enlarged, never below one pixel).
pub fn fitted_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side || longest == 0 {
        return (width, height);
    }
    let scale = f64::from(max_side) / f64::from(longest);
    let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max_side);
    (scaled(width), scaled(height))
}

/// Scales `image` down to fit inside `max_side × max_side` with a Lanczos3 filter.
pub fn fit_within(image: &DynamicImage, max_side: u32) -> DynamicImage {
    let (width, height) = fitted_size(image.width(), image.height(), max_side);
    if (width, height) == (image.width(), image.height()) {
        return image.clone();
    }
    image.resize_exact(width, height, FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_image_is_fitted_by_its_width() {
        assert_eq!(fitted_size(1000, 500, 256), (256, 128));
        assert_eq!(fitted_size(500, 1000, 256), (128, 256));
    }

    #[test]
    fn a_small_image_is_not_enlarged() {
        assert_eq!(fitted_size(100, 50, 256), (100, 50));
    }

    #[test]
    fn a_very_thin_image_keeps_one_pixel() {
        assert_eq!(fitted_size(10_000, 1, 100), (100, 1));
    }

    #[test]
    fn fit_within_produces_the_fitted_size() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::new(40, 20));
        let out = fit_within(&image, 10);
        assert_eq!((out.width(), out.height()), (10, 5));
    }
}
