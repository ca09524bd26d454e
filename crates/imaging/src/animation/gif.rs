//! Animated GIF encoding: one global palette ([`super::quantize`]), delays spread to keep the total
//! duration exact ([`super::timing`]), frames mapped and LZW-compressed in parallel.
//!
//! When no pixel of the animation is transparent, every frame after the first only carries the
//! rectangle that changed, with unchanged pixels inside it left transparent (disposal "keep"):
//! static backgrounds cost nothing and do not shimmer with dithering noise. With transparency every
//! frame is whole and is cleared before the next one (disposal "background").

use std::borrow::Cow;

use gif::{DisposalMethod, Encoder, Frame, Repeat};
use image::RgbaImage;
use rayon::prelude::*;

use super::quantize::{PixelMode, Quantizer, Rect};
use super::timing::gif_delays_cs;
use super::{AnimationError, AnimationLimits, check_fps, check_frames, too_large};

/// Highest frame rate GIF can carry: above 100 fps some delays would be 0 cs.
const GIF_MAX_FPS: u32 = 100;

/// Options for [`encode_gif`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GifOptions {
    /// Loop forever (NETSCAPE2.0 extension); otherwise play once. Default true.
    pub loop_forever: bool,
    /// Floyd–Steinberg dithering when the frames need more than 255 colours. Default true.
    pub dither: bool,
    /// `None` keeps transparency (alpha < 128 becomes the transparent index, other pixels are
    /// opaque); `Some(rgb)` composites every pixel onto that colour. Default `None`.
    pub background: Option<[u8; 3]>,
}

impl Default for GifOptions {
    fn default() -> Self {
        Self {
            loop_forever: true,
            dither: true,
            background: None,
        }
    }
}

/// Encodes `frames` as an animated GIF at `fps` (1–100), with the default [`AnimationLimits`].
pub fn encode_gif(
    frames: &[RgbaImage],
    fps: u32,
    options: &GifOptions,
) -> Result<Vec<u8>, AnimationError> {
    encode_gif_with_limits(frames, fps, options, &AnimationLimits::default())
}

/// Encodes `frames` as an animated GIF at `fps` (1–100) under `limits`.
pub fn encode_gif_with_limits(
    frames: &[RgbaImage],
    fps: u32,
    options: &GifOptions,
    limits: &AnimationLimits,
) -> Result<Vec<u8>, AnimationError> {
    let (width, height) = check_frames(frames, limits)?;
    check_fps(fps, limits.max_fps.min(GIF_MAX_FPS))?;
    too_large("GIF width", width.into(), u16::MAX.into())?;
    too_large("GIF height", height.into(), u16::MAX.into())?;

    let mode = match options.background {
        Some(background) => PixelMode::Composite(background),
        None => PixelMode::KeepTransparency,
    };
    let quantizer = Quantizer::for_frames(frames, mode);
    let transparent = quantizer.palette().len() as u8;
    let has_transparency = matches!(mode, PixelMode::KeepTransparency)
        && frames.par_iter().any(|f| f.pixels().any(|p| p.0[3] < 128));
    let delays = gif_delays_cs(frames.len(), fps);

    let encoded: Vec<Frame<'static>> = (0..frames.len())
        .into_par_iter()
        .map(|i| {
            let frame = &frames[i];
            let whole = Rect {
                x: 0,
                y: 0,
                width,
                height,
            };
            let (rect, dispose, previous) = if has_transparency {
                (whole, DisposalMethod::Background, None)
            } else if i == 0 {
                (whole, DisposalMethod::Keep, None)
            } else {
                let previous = &frames[i - 1];
                let rect = changed_rect(previous, frame).unwrap_or(Rect {
                    x: 0,
                    y: 0,
                    width: 1,
                    height: 1,
                });
                (rect, DisposalMethod::Keep, Some(previous))
            };
            let mut indices = quantizer.map(frame, rect, mode, options.dither, transparent);
            if let Some(previous) = previous {
                clear_unchanged(previous, frame, rect, &mut indices, transparent);
            }
            let mut out = Frame {
                delay: delays[i],
                dispose,
                transparent: Some(transparent),
                left: rect.x as u16,
                top: rect.y as u16,
                width: rect.width as u16,
                height: rect.height as u16,
                buffer: Cow::Owned(indices),
                ..Frame::default()
            };
            out.make_lzw_pre_encoded();
            out
        })
        .collect();

    let mut palette: Vec<u8> = quantizer.palette().iter().flatten().copied().collect();
    palette.extend_from_slice(&[0, 0, 0]); // the transparent slot
    let gif_error = |err: gif::EncodingError| AnimationError::Encode(format!("GIF: {err}"));
    let mut encoder =
        Encoder::new(Vec::new(), width as u16, height as u16, &palette).map_err(gif_error)?;
    if options.loop_forever {
        encoder.set_repeat(Repeat::Infinite).map_err(gif_error)?;
    }
    for frame in &encoded {
        encoder
            .write_lzw_pre_encoded_frame(frame)
            .map_err(gif_error)?;
    }
    encoder.into_inner().map_err(gif_error)
}

/// The smallest rectangle holding every pixel that differs between `a` and `b`, or `None`.
fn changed_rect(a: &RgbaImage, b: &RgbaImage) -> Option<Rect> {
    let stride = a.width() as usize * 4;
    let rows = a
        .as_raw()
        .chunks_exact(stride)
        .zip(b.as_raw().chunks_exact(stride));
    let (mut left, mut right, mut top, mut bottom) = (usize::MAX, 0, usize::MAX, 0);
    for (y, (row_a, row_b)) in rows.enumerate() {
        if row_a == row_b {
            continue;
        }
        let pixels = || row_a.chunks_exact(4).zip(row_b.chunks_exact(4));
        let first = pixels().position(|(p, q)| p != q).unwrap_or(0);
        let last = pixels().rposition(|(p, q)| p != q).unwrap_or(first);
        left = left.min(first);
        right = right.max(last);
        top = top.min(y);
        bottom = y;
    }
    (top != usize::MAX).then(|| Rect {
        x: left as u32,
        y: top as u32,
        width: (right - left + 1) as u32,
        height: (bottom - top + 1) as u32,
    })
}

/// Sets to `transparent` the indices of pixels in `rect` that are the same in both frames, so the
/// previous frame shows through.
fn clear_unchanged(
    previous: &RgbaImage,
    frame: &RgbaImage,
    rect: Rect,
    indices: &mut [u8],
    transparent: u8,
) {
    let stride = frame.width() as usize * 4;
    let (left, right) = (rect.x as usize * 4, (rect.x + rect.width) as usize * 4);
    let rows = previous
        .as_raw()
        .chunks_exact(stride)
        .zip(frame.as_raw().chunks_exact(stride))
        .skip(rect.y as usize)
        .zip(indices.chunks_exact_mut(rect.width as usize));
    for ((before, now), out) in rows {
        let pixels = before[left..right]
            .chunks_exact(4)
            .zip(now[left..right].chunks_exact(4));
        for ((p, q), index) in pixels.zip(out) {
            if p == q {
                *index = transparent;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_rectangle_bounds_every_difference() {
        let a = RgbaImage::new(10, 8);
        let mut b = a.clone();
        assert_eq!(changed_rect(&a, &b), None);
        b.put_pixel(3, 2, image::Rgba([1, 0, 0, 0]));
        b.put_pixel(7, 5, image::Rgba([0, 0, 0, 1]));
        b.put_pixel(5, 4, image::Rgba([0, 1, 0, 0]));
        assert_eq!(
            changed_rect(&a, &b),
            Some(Rect {
                x: 3,
                y: 2,
                width: 5,
                height: 4
            })
        );
    }

    #[test]
    fn gif_rejects_rates_whose_delays_would_round_to_zero() {
        let frames = [RgbaImage::new(2, 2)];
        let err = encode_gif(&frames, 101, &GifOptions::default());
        assert!(matches!(
            err,
            Err(AnimationError::InvalidFps { fps: 101, max: 100 })
        ));
    }
}
