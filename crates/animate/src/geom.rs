//! Tiny 2D vector type shared by the skeleton, the mesh and the renderer.

use serde::{Deserialize, Serialize};

/// A point or vector in pixel coordinates (x right, y down).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate.
    pub x: f32,
    /// Vertical coordinate (down).
    pub y: f32,
}

impl Point {
    /// A point from its coordinates.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    /// Euclidean length of the vector.
    pub fn len(self) -> f32 {
        self.x.hypot(self.y)
    }
    /// Distance to another point.
    pub fn dist(self, o: Point) -> f32 {
        (self - o).len()
    }
    /// Dot product.
    pub fn dot(self, o: Point) -> f32 {
        self.x * o.x + self.y * o.y
    }
    /// 2D cross product (z of the 3D cross product).
    pub fn cross(self, o: Point) -> f32 {
        self.x * o.y - self.y * o.x
    }
    /// Rotate by the angle whose cosine and sine are given.
    pub fn rotate(self, c: f32, s: f32) -> Point {
        Point::new(c * self.x - s * self.y, s * self.x + c * self.y)
    }
    /// Linear interpolation towards `o`.
    pub fn lerp(self, o: Point, t: f32) -> Point {
        self + (o - self) * t
    }
    /// Scale both coordinates.
    pub fn scale(self, k: f32) -> Point {
        self * k
    }
}

impl std::ops::Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}
impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}
impl std::ops::Mul<f32> for Point {
    type Output = Point;
    fn mul(self, k: f32) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}

/// Distance from `p` to the segment `a`–`b`.
pub fn dist_to_segment(p: Point, a: Point, b: Point) -> f32 {
    let ab = b - a;
    let l2 = ab.dot(ab);
    if l2 <= f32::EPSILON {
        return p.dist(a);
    }
    let t = ((p - a).dot(ab) / l2).clamp(0.0, 1.0);
    p.dist(a + ab * t)
}

/// Twice the signed area of triangle `a b c` (positive when counter-clockwise in y-up terms,
/// i.e. clockwise on screen).
pub fn signed_area2(a: Point, b: Point, c: Point) -> f32 {
    (b - a).cross(c - a)
}
