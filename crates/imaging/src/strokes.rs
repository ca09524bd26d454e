//! Rasterising freehand strokes: each stroke is the union of round-capped segments ("capsules")
//! through its points, so caps and joins are round. Coverage is analytic (distance to the
//! segment, one pixel of anti-aliasing ramp), and taken as a maximum over the stroke's segments
//! so overlapping segments of one translucent stroke do not darken where they meet.

use image::{Rgba, RgbaImage};

/// One stroke to paint.
#[derive(Debug, Clone, PartialEq)]
pub struct StrokePath<'a> {
    /// Points in pixel coordinates (pixel centres are at `x + 0.5`).
    pub points: &'a [[f32; 2]],
    /// Line width in pixels.
    pub width: f32,
    /// Straight (non-premultiplied) RGBA colour.
    pub color: [u8; 4],
}

/// Why rendering was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrokeRenderError {
    /// The canvas is empty or larger than the limit.
    #[error("canvas {width}×{height} is outside 1–{max_side} pixels per side")]
    CanvasSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// The largest side allowed.
        max_side: u32,
    },
}

/// Largest canvas side [`render_strokes`] accepts.
pub const MAX_CANVAS_SIDE: u32 = 8192;

/// Paints `strokes` in order on a `width × height` canvas filled with `background`.
pub fn render_strokes(
    width: u32,
    height: u32,
    background: [u8; 4],
    strokes: &[StrokePath<'_>],
) -> Result<RgbaImage, StrokeRenderError> {
    if width == 0 || height == 0 || width > MAX_CANVAS_SIDE || height > MAX_CANVAS_SIDE {
        return Err(StrokeRenderError::CanvasSize {
            width,
            height,
            max_side: MAX_CANVAS_SIDE,
        });
    }
    let mut canvas = RgbaImage::from_pixel(width, height, Rgba(background));
    let mut coverage: Vec<f32> = Vec::new();
    for stroke in strokes {
        paint(&mut canvas, stroke, &mut coverage);
    }
    Ok(canvas)
}

/// The pixel box `[x0, x1) × [y0, y1)` a stroke can touch, clipped to the canvas.
fn bounds(stroke: &StrokePath<'_>, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let reach = stroke.width / 2.0 + 1.0;
    let (mut lo_x, mut lo_y, mut hi_x, mut hi_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for [x, y] in stroke.points {
        lo_x = lo_x.min(*x);
        lo_y = lo_y.min(*y);
        hi_x = hi_x.max(*x);
        hi_y = hi_y.max(*y);
    }
    let clip = |v: f32, max: u32| v.floor().clamp(0.0, max as f32) as u32;
    let x0 = clip(lo_x - reach, width);
    let y0 = clip(lo_y - reach, height);
    let x1 = clip(hi_x + reach + 1.0, width);
    let y1 = clip(hi_y + reach + 1.0, height);
    (x0 < x1 && y0 < y1).then_some((x0, y0, x1, y1))
}

fn paint(canvas: &mut RgbaImage, stroke: &StrokePath<'_>, coverage: &mut Vec<f32>) {
    if stroke.points.is_empty()
        || stroke.color[3] == 0
        || stroke.width.is_nan()
        || stroke.width <= 0.0
    {
        return;
    }
    let Some((x0, y0, x1, y1)) = bounds(stroke, canvas.width(), canvas.height()) else {
        return;
    };
    let box_w = (x1 - x0) as usize;
    coverage.clear();
    coverage.resize(box_w * (y1 - y0) as usize, 0.0);
    let radius = stroke.width / 2.0;
    let first = stroke.points[0];
    let segments = stroke
        .points
        .windows(2)
        .map(|w| (w[0], w[1]))
        .chain(std::iter::once((first, first)).filter(|_| stroke.points.len() == 1));
    for (a, b) in segments {
        let seg = StrokePath {
            points: &[a, b],
            width: stroke.width,
            color: stroke.color,
        };
        let Some((sx0, sy0, sx1, sy1)) = bounds(&seg, canvas.width(), canvas.height()) else {
            continue;
        };
        for y in sy0..sy1 {
            let row = (y - y0) as usize * box_w;
            for x in sx0..sx1 {
                let d = distance_to_segment([x as f32 + 0.5, y as f32 + 0.5], a, b);
                let c = (radius + 0.5 - d).clamp(0.0, 1.0);
                let slot = &mut coverage[row + (x - x0) as usize];
                if c > *slot {
                    *slot = c;
                }
            }
        }
    }
    let [r, g, b, a] = stroke.color.map(f32::from);
    for y in y0..y1 {
        let row = (y - y0) as usize * box_w;
        for x in x0..x1 {
            let c = coverage[row + (x - x0) as usize];
            if c <= 0.0 {
                continue;
            }
            let alpha = c * a / 255.0;
            let pixel = canvas.get_pixel_mut(x, y);
            let [dr, dg, db, da] = pixel.0.map(f32::from);
            let out_a = alpha + da / 255.0 * (1.0 - alpha);
            let mix = |src: f32, dst: f32| {
                if out_a <= 0.0 {
                    0.0
                } else {
                    (src * alpha + dst * (da / 255.0) * (1.0 - alpha)) / out_a
                }
            };
            pixel.0 = [
                mix(r, dr).round().clamp(0.0, 255.0) as u8,
                mix(g, dg).round().clamp(0.0, 255.0) as u8,
                mix(b, db).round().clamp(0.0, 255.0) as u8,
                (out_a * 255.0).round().clamp(0.0, 255.0) as u8,
            ];
        }
    }
}

/// Euclidean distance from `p` to the segment `a–b` (a point when `a == b`).
fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    (cx * cx + cy * cy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: [u8; 4] = [255, 255, 255, 255];
    const RED: [u8; 4] = [255, 0, 0, 255];

    #[test]
    fn a_horizontal_line_covers_its_width_with_soft_edges() {
        let points = [[10.0, 20.5], [50.0, 20.5]];
        let image = render_strokes(
            64,
            40,
            WHITE,
            &[StrokePath {
                points: &points,
                width: 4.0,
                color: RED,
            }],
        )
        .expect("render");
        // Centre row and ±1 are fully red; 2 px away is the half-covered edge; 4 px away is white.
        assert_eq!(image.get_pixel(30, 20).0, RED);
        assert_eq!(image.get_pixel(30, 19).0, RED);
        assert_eq!(image.get_pixel(30, 21).0, RED);
        let edge = image.get_pixel(30, 22).0;
        assert_eq!(edge[0], 255);
        assert!((100..=160).contains(&edge[1]), "anti-aliased edge {edge:?}");
        assert_eq!(image.get_pixel(30, 24).0, WHITE);
    }

    #[test]
    fn caps_are_round() {
        let points = [[20.5, 20.5], [40.5, 20.5]];
        let image = render_strokes(
            64,
            40,
            WHITE,
            &[StrokePath {
                points: &points,
                width: 10.0,
                color: RED,
            }],
        )
        .expect("render");
        assert_eq!(
            image.get_pixel(16, 20).0,
            RED,
            "the cap reaches 5 px past the end"
        );
        // At the end point's diagonal, a square cap would be painted; a round one is not.
        assert_eq!(image.get_pixel(44, 24).0, WHITE);
        assert_eq!(image.get_pixel(44, 20).0, RED);
    }

    #[test]
    fn a_single_point_is_a_dot_and_translucent_strokes_blend_once() {
        let dot = [[10.5, 10.5]];
        let zigzag = [[30.0, 10.0], [40.0, 10.0], [30.0, 10.0]];
        let half = [0, 0, 255, 128];
        let image = render_strokes(
            64,
            20,
            WHITE,
            &[
                StrokePath {
                    points: &dot,
                    width: 6.0,
                    color: RED,
                },
                StrokePath {
                    points: &zigzag,
                    width: 4.0,
                    color: half,
                },
            ],
        )
        .expect("render");
        assert_eq!(image.get_pixel(10, 10).0, RED);
        assert_eq!(image.get_pixel(10, 15).0, WHITE);
        let blended = image.get_pixel(35, 10).0;
        assert_eq!(
            blended,
            [127, 127, 255, 255],
            "overlapping segments blend once"
        );
    }

    #[test]
    fn strokes_outside_the_canvas_and_bad_sizes_are_handled() {
        let far = [[-100.0, -100.0], [-50.0, -60.0]];
        let image = render_strokes(
            8,
            8,
            WHITE,
            &[StrokePath {
                points: &far,
                width: 3.0,
                color: RED,
            }],
        )
        .expect("render");
        assert!(image.pixels().all(|p| p.0 == WHITE));
        assert!(render_strokes(0, 8, WHITE, &[]).is_err());
        assert!(render_strokes(8, MAX_CANVAS_SIDE + 1, WHITE, &[]).is_err());
    }
}
