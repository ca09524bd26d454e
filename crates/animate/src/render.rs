//! Rasterising posed meshes: textured triangles with bilinear sampling of the drawing
//! (premultiplied alpha, so the soft mask edge gives anti-aliased silhouettes), composited in
//! each frame's part order (seam fills first, then the body parts back to front as the motion
//! orders them) over a transparent or coloured background. Frames render in parallel.

use atelier_imaging::rounding::round_to_u8;
use image::{Rgba, RgbaImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::geom::Point;
use crate::mesh::Mesh;
use crate::parts::{DrawOrder, Part};

/// A mesh's triangles grouped for drawing: the seam fills, drawn first in every frame, and each
/// body part's own triangles (in mesh order), drawn in the frame's [`DrawOrder`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layers {
    /// Seam fills, behind every part.
    pub fills: Vec<usize>,
    /// Each part's triangles, indexed like [`Part::ALL`].
    pub parts: [Vec<usize>; 5],
}

impl Layers {
    /// Group triangles by their part (`parts`, one per triangle); triangles from `fills_from`
    /// on are seam fills.
    pub fn new(parts: &[Part], fills_from: usize) -> Layers {
        let mut layers = Layers::default();
        for (t, &part) in parts.iter().enumerate() {
            if t >= fills_from {
                layers.fills.push(t);
            } else {
                layers.parts[part.index()].push(t);
            }
        }
        layers
    }

    /// Triangles in drawing order (back to front) for a frame drawn in `order`.
    pub fn ordered<'s>(&'s self, order: &'s DrawOrder) -> impl Iterator<Item = usize> + 's {
        self.fills
            .iter()
            .chain(order.0.iter().flat_map(|p| self.parts[p.index()].iter()))
            .copied()
    }
}

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
    /// The mesh's triangles grouped by part.
    pub layers: &'a Layers,
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
    /// Draw many frames in parallel, each with its vertex positions and part order.
    pub fn draw_all(&self, frames: &[Vec<Point>], orders: &[DrawOrder]) -> Vec<RgbaImage> {
        frames
            .par_iter()
            .zip(orders)
            .map(|(f, o)| self.draw(f, o))
            .collect()
    }

    /// Draw one frame: vertex positions `posed`, parts drawn back to front in `order`.
    pub fn draw(&self, posed: &[Point], order: &DrawOrder) -> RgbaImage {
        let Scene {
            tex,
            mesh,
            layers,
            fit,
            width,
            height,
            background,
        } = *self;
        let (w, h) = (width as usize, height as usize);
        let mut buf = vec![[0f32; 4]; w * h];
        for ti in layers.ordered(order) {
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
                        let q = |v: f32| round_to_u8((v / c[3]).clamp(0.0, 1.0) * 255.0);
                        Rgba([
                            q(c[0]),
                            q(c[1]),
                            q(c[2]),
                            round_to_u8(c[3].clamp(0.0, 1.0) * 255.0),
                        ])
                    }
                }
                Background::Color(bg) => {
                    let k = 1.0 - c[3].clamp(0.0, 1.0);
                    let q = |v: f32, b: u8| {
                        round_to_u8((v + f32::from(b) / 255.0 * k).clamp(0.0, 1.0) * 255.0)
                    };
                    Rgba([q(c[0], bg[0]), q(c[1], bg[1]), q(c[2], bg[2]), 255])
                }
            };
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20×10 drawing: a red torso on the left half, a blue arm on the right half, each a
    /// square of two triangles; the arm's two triangles are followed by one seam fill.
    fn torso_and_arm() -> (Texture, Mesh, Vec<Part>) {
        let img = RgbaImage::from_fn(20, 10, |x, _| {
            if x < 10 {
                Rgba([255, 0, 0, 255])
            } else {
                Rgba([0, 0, 255, 255])
            }
        });
        let tex = Texture::new(&img, &[1.0; 200]);
        let p = Point::new;
        let mesh = Mesh {
            vertices: vec![
                p(1.0, 1.0),
                p(9.0, 1.0),
                p(9.0, 9.0),
                p(1.0, 9.0),
                p(11.0, 1.0),
                p(19.0, 1.0),
                p(19.0, 9.0),
                p(11.0, 9.0),
            ],
            triangles: vec![[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [4, 6, 7]],
        };
        let parts = vec![
            Part::Torso,
            Part::Torso,
            Part::RightArm,
            Part::RightArm,
            Part::RightArm,
        ];
        (tex, mesh, parts)
    }

    #[test]
    fn seam_fills_come_first_then_the_parts_in_the_frames_order() {
        let (_, _, parts) = torso_and_arm();
        let layers = Layers::new(&parts, 4);
        assert_eq!(layers.fills, vec![4]);
        assert_eq!(layers.parts[Part::Torso.index()], vec![0, 1]);
        assert_eq!(layers.parts[Part::RightArm.index()], vec![2, 3]);
        let front = DrawOrder::default();
        assert_eq!(
            layers.ordered(&front).collect::<Vec<_>>(),
            vec![4, 0, 1, 2, 3]
        );
        let behind = DrawOrder::from_depths([-0.5, 0.0, 0.0, 0.0], 0.02);
        assert_eq!(
            layers.ordered(&behind).collect::<Vec<_>>(),
            vec![4, 2, 3, 0, 1]
        );
    }

    #[test]
    fn the_torso_covers_an_arm_behind_it_and_an_arm_in_front_covers_the_torso() {
        let (tex, mesh, parts) = torso_and_arm();
        let layers = Layers::new(&parts, 4);
        let scene = Scene {
            tex: &tex,
            mesh: &mesh,
            layers: &layers,
            fit: Fit {
                scale: 1.0,
                offset: Point::default(),
            },
            width: 20,
            height: 10,
            background: Background::Color([255, 255, 255]),
        };
        // The arm slides 6 pixels left, over the torso's right edge: they overlap for
        // 5 ≤ x < 9.
        let mut posed = mesh.vertices.clone();
        for v in &mut posed[4..] {
            v.x -= 6.0;
        }
        let behind = DrawOrder::from_depths([-0.5, 0.0, 0.0, 0.0], 0.02);
        let in_front = DrawOrder::from_depths([0.5, 0.0, 0.0, 0.0], 0.02);
        let (red, blue, white) = ([255, 0, 0, 255], [0, 0, 255, 255], [255; 4]);
        let frames = scene.draw_all(&[posed.clone(), posed], &[behind, in_front]);
        for (frame, overlap) in frames.iter().zip([red, blue]) {
            for x in 5..9 {
                assert_eq!(frame.get_pixel(x, 5).0, overlap, "x {x}");
            }
            // Outside the overlap each part shows itself, and where the arm was is empty.
            assert_eq!(frame.get_pixel(3, 5).0, red);
            assert_eq!(frame.get_pixel(11, 5).0, blue);
            assert_eq!(frame.get_pixel(16, 5).0, white);
        }
    }
}
