//! Animation encoders: a sequence of RGBA frames in, an animated GIF, an H.264 MP4 or a PNG-ready
//! sprite sheet out, plus readers (`inspect_gif`, `inspect_mp4`) that tell what an encoded file
//! holds.
//!
//! Every encoder checks its input first (frames present, all one size, frame rate and sizes within
//! [`AnimationLimits`]) and fails with an [`AnimationError`] before doing any work.

mod gif;
mod h264;
mod inspect;
mod mp4_mux;
mod quantize;
mod sheet;
mod timing;
mod yuv;

pub use self::gif::{GifOptions, encode_gif, encode_gif_with_limits};
pub use self::h264::{Mp4Options, encode_mp4, encode_mp4_with_limits};
pub use self::inspect::{
    GifInfo, Mp4Info, Mp4Sample, Mp4Track, check_mp4, demux_mp4, inspect_gif, inspect_mp4,
};
pub use self::sheet::{sprite_sheet, sprite_sheet_with_limits};
pub use self::timing::gif_delays_cs;
pub use image::RgbaImage;

/// Errors from the animation encoders.
#[derive(Debug, thiserror::Error)]
pub enum AnimationError {
    /// The frame list was empty.
    #[error("no frames to encode")]
    NoFrames,
    /// A frame's size differs from the first frame's.
    #[error(
        "frame {index} is {found_width}x{found_height}, expected {width}x{height} like frame 0"
    )]
    FrameSizeMismatch {
        /// Index of the offending frame.
        index: usize,
        /// Size of frame 0.
        width: u32,
        /// Size of frame 0.
        height: u32,
        /// Size of the offending frame.
        found_width: u32,
        /// Size of the offending frame.
        found_height: u32,
    },
    /// A size or count is over its limit.
    #[error("{what} is {value}, over the limit of {limit}")]
    TooLarge {
        /// What was measured (e.g. "frame width", "frame count", "sheet pixels").
        what: &'static str,
        /// The measured value.
        value: u64,
        /// The limit it exceeded.
        limit: u64,
    },
    /// The frame rate is 0 or above the maximum (`AnimationLimits::max_fps`, 120 by default; GIF
    /// at most 100).
    #[error(
        "frame rate out of range: it must be at least 1 and at most 120 (GIF: 100) or the configured limit"
    )]
    InvalidFps,
    /// A parameter is out of range (e.g. zero columns, zero-sized frames).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The underlying encoder failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Bytes handed to an `inspect_*` reader are not a well-formed file of that kind.
    #[error("malformed {kind}: {reason}")]
    Malformed {
        /// "GIF" or "MP4".
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Explicit limits shared by the encoders; the plain `encode_*` functions use the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnimationLimits {
    /// Most frames in one animation (default 3 600: two minutes at 30 fps).
    pub max_frames: usize,
    /// Widest frame, in pixels (default 4 096).
    pub max_width: u32,
    /// Tallest frame, in pixels (default 4 096).
    pub max_height: u32,
    /// Most pixels summed over all frames (default 600 M, about 2.4 GB of RGBA input).
    pub max_total_pixels: u64,
    /// Most pixels in one sprite sheet (default 64 M: a 8 192 × 8 192 sheet).
    pub max_sheet_pixels: u64,
    /// Highest frame rate accepted (default 120). GIF is further capped at 100 fps, where the
    /// delay reaches its 1 cs resolution.
    pub max_fps: u32,
}

impl Default for AnimationLimits {
    fn default() -> Self {
        Self {
            max_frames: 3_600,
            max_width: 4_096,
            max_height: 4_096,
            max_total_pixels: 600_000_000,
            max_sheet_pixels: 64 * 1024 * 1024,
            max_fps: 120,
        }
    }
}

/// Checks that `frames` is non-empty, uniformly sized and within `limits`; returns the size.
pub(crate) fn check_frames(
    frames: &[RgbaImage],
    limits: &AnimationLimits,
) -> Result<(u32, u32), AnimationError> {
    let first = frames.first().ok_or(AnimationError::NoFrames)?;
    let (width, height) = first.dimensions();
    if width == 0 || height == 0 {
        return Err(AnimationError::InvalidParameter(format!(
            "frames are {width}x{height}; both sides must be at least 1"
        )));
    }
    too_large("frame count", frames.len() as u64, limits.max_frames as u64)?;
    too_large("frame width", width.into(), limits.max_width.into())?;
    too_large("frame height", height.into(), limits.max_height.into())?;
    let total = u64::from(width) * u64::from(height) * frames.len() as u64;
    too_large("total pixels", total, limits.max_total_pixels)?;
    for (index, frame) in frames.iter().enumerate() {
        let (found_width, found_height) = frame.dimensions();
        if (found_width, found_height) != (width, height) {
            return Err(AnimationError::FrameSizeMismatch {
                index,
                width,
                height,
                found_width,
                found_height,
            });
        }
    }
    Ok((width, height))
}

/// Checks `fps` is in `1..=max`.
pub(crate) fn check_fps(fps: u32, max: u32) -> Result<(), AnimationError> {
    if fps == 0 || fps > max {
        return Err(AnimationError::InvalidFps);
    }
    Ok(())
}

/// `Err(TooLarge)` when `value > limit`.
pub(crate) fn too_large(what: &'static str, value: u64, limit: u64) -> Result<(), AnimationError> {
    if value > limit {
        return Err(AnimationError::TooLarge { what, value, limit });
    }
    Ok(())
}

/// Composites one RGBA pixel onto an opaque background (alpha blend, rounded).
#[inline]
pub(crate) fn composite(pixel: [u8; 4], background: [u8; 3]) -> [u8; 3] {
    let alpha = u32::from(pixel[3]);
    if alpha == 255 {
        return [pixel[0], pixel[1], pixel[2]];
    }
    let mix = |fg: u8, bg: u8| -> u8 {
        let value = u32::from(fg) * alpha + u32::from(bg) * (255 - alpha);
        // (value + 127) / 255, at most 255.
        ((value + 127) / 255) as u8
    };
    [
        mix(pixel[0], background[0]),
        mix(pixel[1], background[1]),
        mix(pixel[2], background[2]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_frame_list_is_rejected() {
        assert!(matches!(
            check_frames(&[], &AnimationLimits::default()),
            Err(AnimationError::NoFrames)
        ));
    }

    #[test]
    fn a_frame_of_another_size_is_rejected_with_its_index() {
        let frames = [
            RgbaImage::new(4, 4),
            RgbaImage::new(4, 4),
            RgbaImage::new(4, 5),
        ];
        match check_frames(&frames, &AnimationLimits::default()) {
            Err(AnimationError::FrameSizeMismatch {
                index: 2,
                width: 4,
                height: 4,
                found_width: 4,
                found_height: 5,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn limits_on_count_and_size_are_enforced() {
        let limits = AnimationLimits {
            max_frames: 2,
            max_width: 8,
            ..AnimationLimits::default()
        };
        let three = vec![RgbaImage::new(4, 4); 3];
        assert!(matches!(
            check_frames(&three, &limits),
            Err(AnimationError::TooLarge {
                what: "frame count",
                value: 3,
                limit: 2
            })
        ));
        let wide = [RgbaImage::new(9, 1)];
        assert!(matches!(
            check_frames(&wide, &limits),
            Err(AnimationError::TooLarge {
                what: "frame width",
                ..
            })
        ));
        assert!(matches!(
            check_frames(&[RgbaImage::new(0, 3)], &limits),
            Err(AnimationError::InvalidParameter(_))
        ));
    }

    #[test]
    fn fps_must_be_between_one_and_the_maximum() {
        assert!(check_fps(0, 120).is_err());
        assert!(check_fps(121, 120).is_err());
        assert!(check_fps(1, 120).is_ok());
        assert!(check_fps(120, 120).is_ok());
    }

    #[test]
    fn compositing_blends_onto_the_background() {
        assert_eq!(composite([10, 20, 30, 255], [255, 255, 255]), [10, 20, 30]);
        assert_eq!(composite([10, 20, 30, 0], [1, 2, 3]), [1, 2, 3]);
        assert_eq!(composite([0, 0, 0, 128], [255, 255, 255]), [127, 127, 127]);
    }
}
