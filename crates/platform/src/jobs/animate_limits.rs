//! What an `animate` job may cost, checked when the job is created rather than when the encoder
//! gives up: the frames held in memory (frames × size²) and the sprite sheet's size.

use atelier_imaging::animation::AnimationLimits;

/// The `animate` job's cost limits (`[animate]` in the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnimateLimits {
    /// Most pixels over all frames (frames × size²): the rendered frames are held in memory as
    /// RGBA, 4 bytes a pixel. Default 100 M (400 MB): 30 s at 24 fps and 384², or 5 s at 20 fps
    /// and 1024², pass; 20 s at 60 fps and 1024² (1.26 G) does not.
    pub max_frame_pixels: u64,
    /// Most pixels in the sprite sheet (`png`). Default: the encoder's own limit (64 M).
    pub max_sheet_pixels: u64,
}

impl Default for AnimateLimits {
    fn default() -> Self {
        Self {
            max_frame_pixels: 100_000_000,
            max_sheet_pixels: AnimationLimits::default().max_sheet_pixels,
        }
    }
}

/// The sprite sheet's size for `frames` square frames of side `size`: as many columns as the
/// square root of the frame count, rounded up (as the job lays it out).
pub fn sheet_pixels(frames: u64, size: u32) -> u64 {
    let columns = (frames as f64).sqrt().ceil().max(1.0) as u64;
    let rows = frames.div_ceil(columns);
    columns * rows * u64::from(size) * u64::from(size)
}

/// Checks the animation's cost against `limits`.
pub fn check_cost(
    frames: u64,
    size: u32,
    formats: &[String],
    limits: &AnimateLimits,
) -> Result<(), String> {
    let pixels = frames.saturating_mul(u64::from(size) * u64::from(size));
    if pixels > limits.max_frame_pixels {
        return Err(format!(
            "{frames} frames of {size}×{size} are {pixels} pixels; the limit is {} \
             (lower fps, duration_s or size)",
            limits.max_frame_pixels
        ));
    }
    if formats.iter().any(|f| f == "png") {
        let sheet = sheet_pixels(frames, size);
        if sheet > limits.max_sheet_pixels {
            return Err(format!(
                "the sprite sheet would be {sheet} pixels; the limit is {} \
                 (fewer or smaller frames, or no png)",
                limits.max_sheet_pixels
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audits_animation_is_too_costly_and_the_default_one_is_not() {
        let limits = AnimateLimits::default();
        let gif = vec!["gif".to_owned()];
        assert!(check_cost(1200, 1024, &gif, &limits).is_err());
        assert!(check_cost(72, 384, &gif, &limits).is_ok());
        // 600 frames of 384²: 88 M frame pixels pass, but a sheet of 25 × 24 frames does not.
        assert!(check_cost(600, 384, &gif, &limits).is_ok());
        assert!(check_cost(600, 384, &["png".to_owned()], &limits).is_err());
    }

    #[test]
    fn the_sheet_is_laid_out_square() {
        assert_eq!(sheet_pixels(72, 10), 9 * 8 * 100);
        assert_eq!(sheet_pixels(1, 10), 100);
    }
}
