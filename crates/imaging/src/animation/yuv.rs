//! RGBA → I420 (YUV 4:2:0, BT.601 limited range) for the H.264 encoder: alpha is composited onto a
//! background; odd sides are padded to even, and sides under 16 to 16, by repeating the last
//! column / row.

use image::RgbaImage;

use super::composite;

/// One frame as three I420 planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct I420 {
    /// Padded (even) width.
    pub width: usize,
    /// Padded (even) height.
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

/// OpenH264 refuses pictures smaller than one macroblock on either side.
const MIN_SIDE: u32 = 16;

/// The size a `width` × `height` frame is padded to: even, and at least 16 on each side.
pub(crate) fn padded_size(width: u32, height: u32) -> (u32, u32) {
    let pad = |side: u32| (side + (side & 1)).max(MIN_SIDE);
    (pad(width), pad(height))
}

#[inline]
fn luma(c: [u8; 3]) -> u8 {
    let [r, g, b] = c.map(i32::from);
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

#[inline]
fn chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    // Inputs are sums of four pixels; the shift by 10 divides by 4 × 256.
    let u = ((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 512) >> 10) + 128;
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

/// Converts `frame` to padded I420 after compositing onto `background`.
pub(crate) fn rgba_to_i420(frame: &RgbaImage, background: [u8; 3]) -> I420 {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (pw, ph) = padded_size(frame.width(), frame.height());
    let (pw, ph) = (pw as usize, ph as usize);
    let raw = frame.as_raw();
    let rgb_at = |x: usize, y: usize| -> [u8; 3] {
        let at = (y.min(h - 1) * w + x.min(w - 1)) * 4;
        composite([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]], background)
    };
    let mut y_plane = vec![0u8; pw * ph];
    let mut u_plane = vec![0u8; pw / 2 * (ph / 2)];
    let mut v_plane = vec![0u8; pw / 2 * (ph / 2)];
    for cy in 0..ph / 2 {
        for cx in 0..pw / 2 {
            let mut sum = [0i32; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (cx * 2 + dx, cy * 2 + dy);
                let c = rgb_at(x, y);
                y_plane[y * pw + x] = luma(c);
                for k in 0..3 {
                    sum[k] += i32::from(c[k]);
                }
            }
            let (u, v) = chroma(sum[0], sum[1], sum[2]);
            u_plane[cy * (pw / 2) + cx] = u;
            v_plane[cy * (pw / 2) + cx] = v;
        }
    }
    I420 {
        width: pw,
        height: ph,
        y: y_plane,
        u: u_plane,
        v: v_plane,
    }
}

/// BT.601 limited-range YUV → RGB, for tests that check decoded colours.
#[cfg(test)]
pub(crate) fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = f64::from(y) - 16.0;
    let d = f64::from(u) - 128.0;
    let e = f64::from(v) - 128.0;
    let clamp = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    [
        clamp(1.164 * c + 1.596 * e),
        clamp(1.164 * c - 0.392 * d - 0.813 * e),
        clamp(1.164 * c + 2.017 * d),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_convert_to_the_bt601_limited_range_values() {
        let cases = [
            ([0, 0, 0], (16, 128, 128)),
            ([255, 255, 255], (235, 128, 128)),
            ([255, 0, 0], (82, 90, 240)),
            ([0, 255, 0], (144, 54, 34)),
            ([0, 0, 255], (41, 240, 110)),
        ];
        for (rgb, (y, u, v)) in cases {
            let frame = RgbaImage::from_pixel(2, 2, image::Rgba([rgb[0], rgb[1], rgb[2], 255]));
            let yuv = rgba_to_i420(&frame, [0, 0, 0]);
            assert_eq!((yuv.y[0], yuv.u[0], yuv.v[0]), (y, u, v), "{rgb:?}");
            let back = yuv_to_rgb(y, u, v);
            for k in 0..3 {
                assert!(back[k].abs_diff(rgb[k]) <= 2, "{rgb:?} → {back:?}");
            }
        }
    }

    #[test]
    fn odd_sizes_are_padded_by_repeating_the_edge() {
        let mut frame = RgbaImage::from_pixel(17, 19, image::Rgba([0, 0, 0, 255]));
        for y in 0..19 {
            frame.put_pixel(16, y, image::Rgba([255, 255, 255, 255]));
        }
        let yuv = rgba_to_i420(&frame, [0, 0, 0]);
        assert_eq!((yuv.width, yuv.height), (18, 20));
        for row in yuv.y.chunks_exact(18) {
            assert_eq!(&row[15..], &[16, 235, 235]);
        }
        assert_eq!(yuv.u.len(), 9 * 10);
        assert_eq!(padded_size(3, 1), (16, 16));
        assert_eq!(padded_size(640, 361), (640, 362));
    }

    #[test]
    fn transparent_pixels_take_the_background_colour() {
        let frame = RgbaImage::from_pixel(16, 16, image::Rgba([0, 0, 0, 0]));
        let yuv = rgba_to_i420(&frame, [255, 255, 255]);
        assert_eq!(yuv.y, vec![235; 256]);
    }
}
