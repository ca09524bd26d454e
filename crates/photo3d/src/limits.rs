//! Size limits on the photos the pipeline accepts (explicit and configurable).

use crate::Photo3dError;

/// The largest photo the pipeline builds a scene from. Callers with larger photos
/// (e.g. a 20k-pixel panorama) get [`Photo3dError::TooLarge`]; the job resizes normal
/// photos to its working size first, so this is a guard, not the working size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest side, in pixels.
    pub max_side: u32,
    /// Pixel count.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_side: 4096,
            max_pixels: 4096 * 4096,
        }
    }
}

impl Limits {
    /// Checks a `width`×`height` photo against the limits (and that it is not empty).
    pub fn check(&self, width: u32, height: u32) -> Result<(), Photo3dError> {
        check_not_empty(width, height)?;
        if width.max(height) > self.max_side
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(Photo3dError::TooLarge {
                width,
                height,
                max_side: self.max_side,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

/// Fails with [`Photo3dError::EmptyImage`] when a side is zero.
pub(crate) fn check_not_empty(width: u32, height: u32) -> Result<(), Photo3dError> {
    if width == 0 || height == 0 {
        return Err(Photo3dError::EmptyImage { width, height });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_20k_pixel_panorama_and_an_empty_image_are_rejected() {
        let limits = Limits::default();
        assert!(matches!(
            limits.check(20_000, 2_000),
            Err(Photo3dError::TooLarge { width: 20_000, .. })
        ));
        assert!(matches!(
            limits.check(0, 10),
            Err(Photo3dError::EmptyImage { .. })
        ));
        assert!(limits.check(512, 384).is_ok());
    }
}
