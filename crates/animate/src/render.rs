//! Rasterising posed meshes: textured triangles with bilinear sampling of the drawing
//! (premultiplied alpha, so the soft mask edge gives anti-aliased silhouettes), composited in
//! layer order over a transparent or coloured background. Frames render in parallel.

use image::{Rgba, RgbaImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::geom::Point;
use crate::mesh::Mesh;

/// Frame background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    /// Fully transparent (GIF transparency, PNG alpha).
    #[default]
    Transparent,
    /// An opaque colour.
    Color([u8; 3]),
}

/// The drawing as a premultiplied RGBA float texture in work coordinates.
#[derive(Debug, Clone)]
pub struct Texture {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// Premultiplied RGBA, 0–1.
    pub texels: Vec<[f32; 4]>,
}

impl Texture {
    /// Build from the work image and a per-pixel alpha (0–1).
    pub fn new(img: &RgbaImage, alpha: &[f32]) -> Texture {
        let texels = img
            .pixels()
            .zip(alpha)
            .map(|(p, &a)| {
                let a = a * f32::from(p[3]) / 255.0;
                [
                    f32::from(p[0]) / 255.0 * a,
                    f32::from(p[1]) / 255.0 * a,
                    f32::from(p[2]) / 255.0 * a,
                    a,
                ]
            })
            .collect();
        Texture {
            width: img.width() as usize,
            height: img.height() as usize,
            texels,
        }
    }

    /// Bilinear sample at `(u, v)` pixel coordinates (texel centres at +0.5).
    pub fn sample(&self, u: f32, v: f32) -> [f32; 4] {
        let (x, y) = (u - 0.5, v - 0.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let at = |xi: i64, yi: i64| -> [f32; 4] {
            if xi < 0 || yi < 0 || xi >= self.width as i64 || yi >= self.height as i64 {
                [0.0; 4]
            } else {
                self.texels[yi as usize * self.width + xi as usize]
            }
        };
        let (xi, yi) = (x0 as i64, y0 as i64);
        let (a, b, c, d) = (
            at(xi, yi),
            at(xi + 1, yi),
            at(xi, yi + 1),
            at(xi + 1, yi + 1),
        );
        let mut o = [0.0; 4];
        for k in 0..4 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bot = c[k] + (d[k] - c[k]) * fx;
            o[k] = top + (bot - top) * fy;
        }
        o
    }
}

/// A similarity from character coordinates to the output frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Scale factor.
    pub scale: f32,
    /// Offset added after scaling.
    pub offset: Point,
}

/// Fit the union bounding box of all frames into `width × height` with a margin fraction.
pub fn fit(frames: &[Vec<Point>], width: u32, height: u32, margin: f32) -> Fit {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in frames.iter().flatten() {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    if x0 > x1 {
        return Fit {
            scale: 1.0,
            offset: Point::default(),
        };
    }
    let (w, h) = (
        width as f32 * (1.0 - 2.0 * margin),
        height as f32 * (1.0 - 2.0 * margin),
    );
    let scale = (w / (x1 - x0).max(1.0)).min(h / (y1 - y0).max(1.0));
    let offset = Point::new(
        width as f32 / 2.0 - (x0 + x1) / 2.0 * scale,
        height as f32 / 2.0 - (y0 + y1) / 2.0 * scale,
    );
    Fit { scale, offset }
}

/// Everything a frame needs apart from the posed vertex positions.
#[derive(Debug, Clone, Copy)]
pub struct Scene<'a> {
    /// The drawing.
    pub tex: &'a Texture,
    /// The rest mesh (its vertices are the texture coordinates).
    pub mesh: &'a Mesh,
    /// Triangle drawing order (back to front).
    pub order: &'a [usize],
    /// Character → frame mapping.
    pub fit: Fit,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Background.
    pub background: Background,
}

impl Scene<'_> {
    /// Draw many frames in parallel.
    pub fn draw_all(&self, frames: &[Vec<Point>]) -> Vec<RgbaImage> {
        frames.par_iter().map(|f| self.draw(f)).collect()
    }

    /// Draw one frame.
    pub fn draw(&self, posed: &[Point]) -> RgbaImage {
        let Scene {
            tex,
            mesh,
            order,
            fit,
            width,
            height,
            background,
        } = *self;
        let (w, h) = (width as usize, height as usize);
        let mut buf = vec![[0f32; 4]; w * h];
        for &ti in order {
            let t = mesh.triangles[ti];
            let s = t.map(|v| posed[v as usize] * fit.scale + fit.offset);
            let uv = t.map(|v| mesh.vertices[v as usize]);
            let area = (s[1] - s[0]).cross(s[2] - s[0]);
            if area.abs() < 1e-6 {
                continue;
            }
            let inv = 1.0 / area;
            let minx = s
                .iter()
                .map(|p| p.x)
                .fold(f32::MAX, f32::min)
                .floor()
                .max(0.0) as usize;
            let maxx = (s
                .iter()
                .map(|p| p.x)
                .fold(f32::MIN, f32::max)
                .ceil()
                .max(0.0) as usize)
                .min(w);
            let miny = s
                .iter()
                .map(|p| p.y)
                .fold(f32::MAX, f32::min)
                .floor()
                .max(0.0) as usize;
            let maxy = (s
                .iter()
                .map(|p| p.y)
                .fold(f32::MIN, f32::max)
                .ceil()
                .max(0.0) as usize)
                .min(h);
            for y in miny..maxy {
                for x in minx..maxx {
                    let p = Point::new(x as f32 + 0.5, y as f32 + 0.5);
                    let b0 = (s[2] - s[1]).cross(p - s[1]) * inv;
                    let b1 = (s[0] - s[2]).cross(p - s[2]) * inv;
                    let b2 = 1.0 - b0 - b1;
                    if b0 < -1e-5 || b1 < -1e-5 || b2 < -1e-5 {
                        continue;
                    }
                    let u = uv[0].x * b0 + uv[1].x * b1 + uv[2].x * b2;
                    let v = uv[0].y * b0 + uv[1].y * b1 + uv[2].y * b2;
                    let c = tex.sample(u, v);
                    if c[3] <= 0.0 {
                        continue;
                    }
                    let d = &mut buf[y * w + x];
                    let k = 1.0 - c[3];
                    for i in 0..4 {
                        d[i] = c[i] + d[i] * k;
                    }
                }
            }
        }
        let mut img = RgbaImage::new(width, height);
        for (px, c) in img.pixels_mut().zip(&buf) {
            *px = match background {
                Background::Transparent => {
                    if c[3] <= 1e-4 {
                        Rgba([0, 0, 0, 0])
                    } else {
                        let q = |v: f32| ((v / c[3]).clamp(0.0, 1.0) * 255.0).round() as u8;
                        Rgba([
                            q(c[0]),
                            q(c[1]),
                            q(c[2]),
                            (c[3].clamp(0.0, 1.0) * 255.0).round() as u8,
                        ])
                    }
                }
                Background::Color(bg) => {
                    let k = 1.0 - c[3].clamp(0.0, 1.0);
                    let q = |v: f32, b: u8| {
                        ((v + f32::from(b) / 255.0 * k).clamp(0.0, 1.0) * 255.0).round() as u8
                    };
                    Rgba([q(c[0], bg[0]), q(c[1], bg[1]), q(c[2], bg[2]), 255])
                }
            };
        }
        img
    }
}
