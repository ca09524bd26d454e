//! Synthetic scenes with exact depth, for tests and benchmarks.
//!
//! A pinhole camera at the origin looks down +Z (image y down) at textured primitives:
//! a back wall, a floor, fronto-parallel cards, axis-aligned boxes and spheres. Each
//! pixel centre is ray-cast, giving the photo, its true normalised disparity and which
//! object each pixel sees, so depth edges are known exactly.

use image::RgbImage;

use crate::Plane;

/// A primitive of a synthetic scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Object {
    /// The plane `z = depth`, filling the view behind everything.
    Wall {
        /// Its depth.
        z: f32,
    },
    /// The plane `y = height` (below the camera), up to the wall.
    Floor {
        /// Its height (positive = below).
        y: f32,
    },
    /// A fronto-parallel rectangle at depth `z`.
    Card {
        /// Left, right, top, bottom in scene units.
        rect: [f32; 4],
        /// Its depth.
        z: f32,
    },
    /// An axis-aligned box.
    Cuboid {
        /// Minimum corner.
        min: [f32; 3],
        /// Maximum corner.
        max: [f32; 3],
    },
    /// A sphere.
    Sphere {
        /// Centre.
        centre: [f32; 3],
        /// Radius.
        radius: f32,
    },
}

/// A rendered synthetic scene.
#[derive(Debug, Clone)]
pub struct SyntheticScene {
    /// The photo.
    pub image: RgbImage,
    /// True disparity, normalised to `[0, 1]` (1 = nearest).
    pub disparity: Plane,
    /// Index into the object list of what each pixel sees (`u8::MAX`: nothing).
    pub object: Vec<u8>,
}

fn hash(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5bd1_e995);
    h ^= h >> 15;
    (h & 0xffff) as f32 / 65535.0
}

/// Smooth value noise in `[0, 1]`, two octaves.
fn noise(x: f32, y: f32, seed: u32) -> f32 {
    let octave = |x: f32, y: f32, seed: u32| {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
        let (xi, yi) = (x0 as i32, y0 as i32);
        let a = hash(xi, yi, seed);
        let b = hash(xi + 1, yi, seed);
        let c = hash(xi, yi + 1, seed);
        let d = hash(xi + 1, yi + 1, seed);
        let top = a + (b - a) * sx;
        let bottom = c + (d - c) * sx;
        top + (bottom - top) * sy
    };
    0.65 * octave(x, y, seed) + 0.35 * octave(x * 3.1, y * 3.1, seed + 7)
}

const PALETTE: [[f32; 3]; 6] = [
    [90.0, 140.0, 200.0],
    [170.0, 140.0, 90.0],
    [220.0, 70.0, 60.0],
    [70.0, 180.0, 90.0],
    [240.0, 200.0, 60.0],
    [160.0, 90.0, 200.0],
];

impl SyntheticScene {
    /// A wall, a floor, two cards, a box and a sphere.
    pub fn mixed(width: u32, height: u32) -> Self {
        Self::render(
            width,
            height,
            &[
                Object::Wall { z: 8.0 },
                Object::Floor { y: 1.3 },
                Object::Card {
                    rect: [-1.5, -0.35, -0.9, 0.7],
                    z: 3.6,
                },
                Object::Cuboid {
                    min: [0.25, -0.1, 2.4],
                    max: [1.15, 0.95, 3.0],
                },
                Object::Sphere {
                    centre: [0.05, -0.55, 2.0],
                    radius: 0.3,
                },
                Object::Card {
                    rect: [0.6, 1.3, -1.0, -0.45],
                    z: 5.0,
                },
            ],
        )
    }

    /// A wall and two fronto-parallel cards: every depth edge is a clean step.
    pub fn cards(width: u32, height: u32) -> Self {
        Self::render(
            width,
            height,
            &[
                Object::Wall { z: 6.0 },
                Object::Card {
                    rect: [-1.0, 0.1, -0.7, 0.5],
                    z: 2.0,
                },
                Object::Card {
                    rect: [0.35, 1.1, -0.3, 0.8],
                    z: 3.5,
                },
            ],
        )
    }

    /// Ray-casts `objects` with a 55° field of view over the longer side.
    pub fn render(width: u32, height: u32, objects: &[Object]) -> Self {
        let side = width.max(height) as f32;
        let f = 0.5 * side / (55f32.to_radians() / 2.0).tan();
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let n = width as usize * height as usize;
        let mut colour = Vec::with_capacity(n);
        let mut inv_z = Vec::with_capacity(n);
        let mut object = Vec::with_capacity(n);
        for py in 0..height {
            for px in 0..width {
                let d = [(px as f32 + 0.5 - cx) / f, (py as f32 + 0.5 - cy) / f, 1.0];
                let mut best: Option<(f32, usize, [f32; 3], u32)> = None;
                for (k, o) in objects.iter().enumerate() {
                    if let Some((t, face)) = intersect(o, d)
                        && t > 0.0
                        && best.is_none_or(|b| t < b.0)
                    {
                        best = Some((t, k, [d[0] * t, d[1] * t, d[2] * t], face));
                    }
                }
                match best {
                    Some((t, k, p, face)) => {
                        let base = PALETTE[(k + face as usize) % PALETTE.len()];
                        let (u, v) = match objects[k] {
                            Object::Floor { .. } => (p[0], p[2]),
                            Object::Cuboid { .. } if face == 1 => (p[2], p[1]),
                            _ => (p[0], p[1]),
                        };
                        let mut shade = 0.55 + 0.45 * noise(u * 6.0, v * 6.0, k as u32);
                        if k % 2 == 1
                            && ((u * 4.0).floor() as i32 + (v * 4.0).floor() as i32) % 2 == 0
                        {
                            shade *= 0.75;
                        }
                        colour.push(base.map(|c| (c * shade).clamp(0.0, 255.0) as u8));
                        inv_z.push(1.0 / (t * d[2]));
                        object.push(k as u8);
                    }
                    None => {
                        colour.push([0, 0, 0]);
                        inv_z.push(0.0);
                        object.push(u8::MAX);
                    }
                }
            }
        }
        let disparity = Plane::from_vec(width, height, inv_z)
            .unwrap_or_else(|| Plane::filled(width, height, 0.0))
            .normalised();
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb(colour[y as usize * width as usize + x as usize])
        });
        Self {
            image,
            disparity,
            object,
        }
    }
}

/// Ray `t·d` against an object: the hit distance and which face (for texturing).
fn intersect(o: &Object, d: [f32; 3]) -> Option<(f32, u32)> {
    match *o {
        Object::Wall { z } => Some((z / d[2], 0)),
        Object::Floor { y } => (d[1] > 1e-6).then(|| (y / d[1], 0)),
        Object::Card { rect, z } => {
            let t = z / d[2];
            let (x, y) = (d[0] * t, d[1] * t);
            (x >= rect[0] && x <= rect[1] && y >= rect[2] && y <= rect[3]).then_some((t, 0))
        }
        Object::Cuboid { min, max } => {
            let mut t0 = f32::NEG_INFINITY;
            let mut t1 = f32::INFINITY;
            let mut face = 0;
            for k in 0..3 {
                if d[k].abs() < 1e-9 {
                    if 0.0 < min[k] || 0.0 > max[k] {
                        return None;
                    }
                    continue;
                }
                let (a, b) = (min[k] / d[k], max[k] / d[k]);
                let (near, far) = if a < b { (a, b) } else { (b, a) };
                if near > t0 {
                    t0 = near;
                    face = match k {
                        2 => 0,
                        0 => 1,
                        _ => 2,
                    };
                }
                t1 = t1.min(far);
            }
            (t0 <= t1 && t0 > 0.0).then_some((t0, face))
        }
        Object::Sphere { centre, radius } => {
            let dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let dc = d[0] * centre[0] + d[1] * centre[1] + d[2] * centre[2];
            let cc = centre[0] * centre[0] + centre[1] * centre[1] + centre[2] * centre[2];
            let disc = dc * dc - dd * (cc - radius * radius);
            (disc >= 0.0).then(|| ((dc - disc.sqrt()) / dd, 0))
        }
    }
}
