//! Sprite sheets: all frames of an animation in one image, row-major in a fixed number of columns,
//! on a transparent background (encode it with [`crate::encode`] as PNG).

use image::RgbaImage;

use super::{AnimationError, AnimationLimits, check_frames, too_large};

/// Lays `frames` out row-major in `columns` columns (fewer when there are fewer frames), with the
/// default [`AnimationLimits`]. Frame `i` lands at column `i % columns`, row `i / columns`.
pub fn sprite_sheet(frames: &[RgbaImage], columns: u32) -> Result<RgbaImage, AnimationError> {
    sprite_sheet_with_limits(frames, columns, &AnimationLimits::default())
}

/// Like [`sprite_sheet`], refusing sheets over `limits.max_sheet_pixels` before allocating.
pub fn sprite_sheet_with_limits(
    frames: &[RgbaImage],
    columns: u32,
    limits: &AnimationLimits,
) -> Result<RgbaImage, AnimationError> {
    if columns == 0 {
        return Err(AnimationError::InvalidParameter(
            "columns must be at least 1".into(),
        ));
    }
    let (width, height) = check_frames(frames, limits)?;
    let count = frames.len() as u64;
    let columns = u64::from(columns).min(count);
    let rows = count.div_ceil(columns);
    let sheet_width = columns * u64::from(width);
    let sheet_height = rows * u64::from(height);
    too_large(
        "sheet pixels",
        sheet_width * sheet_height,
        limits.max_sheet_pixels,
    )?;
    let sheet_width = u32::try_from(sheet_width).map_err(|_| AnimationError::TooLarge {
        what: "sheet width",
        value: sheet_width,
        limit: u32::MAX.into(),
    })?;
    let sheet_height = u32::try_from(sheet_height).map_err(|_| AnimationError::TooLarge {
        what: "sheet height",
        value: sheet_height,
        limit: u32::MAX.into(),
    })?;

    let mut sheet = RgbaImage::new(sheet_width, sheet_height);
    let row_bytes = width as usize * 4;
    let sheet_stride = sheet_width as usize * 4;
    let raw = &mut *sheet;
    for (i, frame) in frames.iter().enumerate() {
        let (column, row) = (i as u64 % columns, i as u64 / columns);
        let left = column as usize * row_bytes;
        let top = row as usize * height as usize;
        for (y, line) in frame.as_raw().chunks_exact(row_bytes).enumerate() {
            let start = (top + y) * sheet_stride + left;
            raw[start..start + row_bytes].copy_from_slice(line);
        }
    }
    Ok(sheet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(value: u8) -> RgbaImage {
        RgbaImage::from_fn(2, 3, |x, y| image::Rgba([value, x as u8, y as u8, 255]))
    }

    #[test]
    fn frames_are_laid_out_row_major_on_transparency() {
        let frames: Vec<RgbaImage> = (1..=5).map(|v| solid(v * 10)).collect();
        let sheet = sprite_sheet(&frames, 2).expect("sheet");
        assert_eq!(sheet.dimensions(), (4, 9));
        for (i, frame) in frames.iter().enumerate() {
            let (left, top) = ((i as u32 % 2) * 2, (i as u32 / 2) * 3);
            for (x, y, pixel) in frame.enumerate_pixels() {
                assert_eq!(
                    sheet.get_pixel(left + x, top + y),
                    pixel,
                    "frame {i} at {x},{y}"
                );
            }
        }
        // The cell after the last frame stays transparent.
        for y in 6..9 {
            for x in 2..4 {
                assert_eq!(sheet.get_pixel(x, y).0, [0, 0, 0, 0]);
            }
        }
    }

    #[test]
    fn more_columns_than_frames_gives_one_tight_row() {
        let frames = vec![solid(1), solid(2)];
        let sheet = sprite_sheet(&frames, 8).expect("sheet");
        assert_eq!(sheet.dimensions(), (4, 3));
        assert_eq!(sheet.get_pixel(2, 0).0, [2, 0, 0, 255]);
    }

    #[test]
    fn bad_requests_are_refused() {
        let frames = vec![solid(1), solid(2)];
        assert!(matches!(
            sprite_sheet(&frames, 0),
            Err(AnimationError::InvalidParameter(_))
        ));
        assert!(matches!(
            sprite_sheet(&[], 2),
            Err(AnimationError::NoFrames)
        ));
        let mixed = vec![solid(1), RgbaImage::new(3, 3)];
        assert!(matches!(
            sprite_sheet(&mixed, 2),
            Err(AnimationError::FrameSizeMismatch { index: 1, .. })
        ));
        let limits = AnimationLimits {
            max_sheet_pixels: 11,
            ..AnimationLimits::default()
        };
        assert!(matches!(
            sprite_sheet_with_limits(&frames, 2, &limits),
            Err(AnimationError::TooLarge {
                what: "sheet pixels",
                value: 12,
                limit: 11
            })
        ));
    }
}
