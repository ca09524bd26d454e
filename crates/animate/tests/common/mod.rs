//! Synthetic drawings with known ground truth: stick figures and filled figures on shaded,
//! noisy paper.
#![allow(dead_code)]

use atelier_animate::skeleton::*;
use atelier_animate::{Joints, Point};
use image::{Rgba, RgbaImage};

/// How the figure is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Style {
    /// Lines of this width; ring head.
    Stick { width: f32 },
    /// Solid body parts.
    Filled { limb: f32, torso: f32, head: f32 },
    /// A filled oval body (`torso` wide, from the neck to below the pelvis), a filled round
    /// head, and limbs drawn as lines `limb` wide.
    Oval { limb: f32, torso: f32, head: f32 },
}

/// A figure to draw and where its joints truly are.
#[derive(Clone, Debug)]
pub struct Figure {
    pub joints: Joints,
    pub style: Style,
    pub ink: [u8; 3],
    pub head_r: f32,
}

/// Paper look.
#[derive(Clone, Copy, Debug)]
pub struct Paper {
    pub shade: f32,
    pub noise: f32,
    pub seed: u64,
}

pub const CLEAN: Paper = Paper {
    shade: 0.0,
    noise: 0.0,
    seed: 1,
};
pub const ROUGH: Paper = Paper {
    shade: 0.25,
    noise: 7.0,
    seed: 7,
};

/// A figure centred at `cx`, top at `top`, `h` tall. `arms`: 0 = down-out, 1 = T-pose,
/// 2 = raised above the head, 3 = held down along the body. `spread`: leg spread factor.
pub fn figure(
    cx: f32,
    top: f32,
    h: f32,
    style: Style,
    ink: [u8; 3],
    arms: u8,
    spread: f32,
) -> Figure {
    let u = h / 100.0;
    let p = |x: f32, y: f32| Point::new(cx + x * u, top + y * u);
    let head_r = 9.0 * u;
    let mut j = [Point::default(); 16];
    j[NECK] = p(0.0, 10.0);
    j[TORSO] = p(0.0, 26.0);
    j[ROOT] = p(0.0, 56.0);
    j[HIP] = j[ROOT];
    let (sx, hx) = match style {
        Style::Stick { .. } => (0.0, 0.0),
        Style::Filled { torso, .. } | Style::Oval { torso, .. } => (torso * 0.45, torso * 0.25),
    };
    j[R_SHOULDER] = Point::new(cx - sx, j[TORSO].y + 2.0 * u * f32::from(sx > 0.0));
    j[L_SHOULDER] = Point::new(cx + sx, j[R_SHOULDER].y);
    let (ex, ey, hx2, hy) = match arms {
        0 => (14.0, 40.0, 24.0, 52.0),
        1 => (20.0, 27.0, 36.0, 27.0),
        2 => (18.0, 14.0, 28.0, 2.0),
        _ => (5.0, 40.0, 9.0, 55.0),
    };
    j[R_ELBOW] = Point::new(j[R_SHOULDER].x - ex * u, top + ey * u);
    j[R_HAND] = Point::new(j[R_SHOULDER].x - hx2 * u, top + hy * u);
    j[L_ELBOW] = Point::new(j[L_SHOULDER].x + ex * u, top + ey * u);
    j[L_HAND] = Point::new(j[L_SHOULDER].x + hx2 * u, top + hy * u);
    j[R_HIP] = Point::new(cx - hx, j[ROOT].y + 2.0 * u * f32::from(hx > 0.0));
    j[L_HIP] = Point::new(cx + hx, j[R_HIP].y);
    j[R_KNEE] = Point::new(j[R_HIP].x - 7.0 * spread * u, top + 77.0 * u);
    j[R_FOOT] = Point::new(j[R_HIP].x - 13.0 * spread * u, top + 98.0 * u);
    j[L_KNEE] = Point::new(j[L_HIP].x + 7.0 * spread * u, top + 77.0 * u);
    j[L_FOOT] = Point::new(j[L_HIP].x + 13.0 * spread * u, top + 98.0 * u);
    Figure {
        joints: j,
        style,
        ink,
        head_r,
    }
}

fn seg(p: Point, a: Point, b: Point) -> f32 {
    atelier_animate::geom::dist_to_segment(p, a, b)
}

impl Figure {
    /// Ink coverage test at a point, and ground-truth (hole-filled) membership.
    fn test(&self, p: Point) -> (bool, bool) {
        let j = &self.joints;
        let limbs = [
            (R_SHOULDER, R_ELBOW),
            (R_ELBOW, R_HAND),
            (L_SHOULDER, L_ELBOW),
            (L_ELBOW, L_HAND),
            (R_HIP, R_KNEE),
            (R_KNEE, R_FOOT),
            (L_HIP, L_KNEE),
            (L_KNEE, L_FOOT),
        ];
        let d_head = p.dist(j[NECK]);
        match self.style {
            Style::Stick { width } => {
                let hw = width / 2.0;
                let neck_top = Point::new(j[NECK].x, j[NECK].y + self.head_r);
                let mut ink = (d_head - self.head_r).abs() <= hw
                    || seg(p, neck_top, j[TORSO]) <= hw
                    || seg(p, j[TORSO], j[ROOT]) <= hw;
                ink |= limbs.iter().any(|&(a, b)| seg(p, j[a], j[b]) <= hw);
                (ink, ink || d_head <= self.head_r)
            }
            Style::Filled { limb, torso, head } => {
                let hw = limb / 2.0;
                let top = j[TORSO].y;
                let bottom = j[ROOT].y + 4.0;
                let in_torso =
                    (p.x - j[TORSO].x).abs() <= torso / 2.0 && p.y >= top && p.y <= bottom;
                let ink = in_torso
                    || d_head <= head
                    || seg(p, j[NECK], j[TORSO]) <= hw
                    || limbs.iter().any(|&(a, b)| seg(p, j[a], j[b]) <= hw);
                (ink, ink)
            }
            Style::Oval { limb, torso, head } => {
                let hw = limb / 2.0;
                let (top, bottom) = (j[NECK].y + head * 0.6, j[ROOT].y + 6.0);
                let centre = Point::new(j[TORSO].x, (top + bottom) / 2.0);
                let (rx, ry) = (torso / 2.0, (bottom - top) / 2.0);
                let (ex, ey) = ((p.x - centre.x) / rx, (p.y - centre.y) / ry);
                let ink = ex * ex + ey * ey <= 1.0
                    || d_head <= head
                    || limbs.iter().any(|&(a, b)| seg(p, j[a], j[b]) <= hw);
                (ink, ink)
            }
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 + 0.5) / (1u64 << 31) as f32
    }
    fn gauss(&mut self) -> f32 {
        let (a, b) = (self.next(), self.next());
        (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
    }
}

/// Draw figures on paper; returns the image and the ground-truth mask of the figures.
pub fn draw(w: u32, h: u32, figs: &[Figure], paper: Paper) -> (RgbaImage, Vec<bool>) {
    let mut rng = Rng(paper.seed);
    let mut truth = vec![false; (w * h) as usize];
    let img = RgbaImage::from_fn(w, h, |x, y| {
        let shade = 1.0 - paper.shade * (x as f32 / w as f32 * 0.6 + y as f32 / h as f32 * 0.4);
        let base = [250.0 * shade, 247.0 * shade, 238.0 * shade];
        let mut cov = 0.0;
        let mut ink = [0.0f32; 3];
        for f in figs {
            let mut c = 0.0;
            for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                if f.test(Point::new(x as f32 + dx, y as f32 + dy)).0 {
                    c += 0.25;
                }
            }
            if f.test(Point::new(x as f32 + 0.5, y as f32 + 0.5)).1 {
                truth[(y * w + x) as usize] = true;
            }
            if c > cov {
                cov = c;
                ink = f.ink.map(f32::from);
            }
        }
        let n = paper.noise * rng.gauss();
        let px = |k: usize| (base[k] * (1.0 - cov) + ink[k] * cov + n).clamp(0.0, 255.0) as u8;
        Rgba([px(0), px(1), px(2), 255])
    });
    (img, truth)
}

/// The drawings the shape measures run on (name, width, height, figure, paper): the filled
/// oval body with a round head and stick limbs, filled and stick figures, wide and narrow
/// arms, arms out, raised and along the body, long and short legs.
pub fn shape_cases() -> Vec<(&'static str, u32, u32, Figure, Paper)> {
    let oval = |limb: f32| Style::Oval {
        limb,
        torso: 70.0,
        head: 26.0,
    };
    let filled = |limb: f32| Style::Filled {
        limb,
        torso: 64.0,
        head: 26.0,
    };
    let stick = Style::Stick { width: 7.0 };
    vec![
        (
            "oval arms out",
            384,
            384,
            figure(192.0, 40.0, 300.0, oval(7.0), [30, 30, 30], 0, 1.0),
            CLEAN,
        ),
        (
            "oval T-pose rough",
            384,
            384,
            figure(192.0, 40.0, 300.0, oval(9.0), [20, 60, 160], 1, 1.0),
            ROUGH,
        ),
        (
            "oval arms along body",
            384,
            384,
            figure(192.0, 40.0, 300.0, oval(7.0), [160, 40, 40], 3, 1.0),
            CLEAN,
        ),
        (
            "filled wide arms out",
            384,
            384,
            figure(192.0, 40.0, 300.0, filled(22.0), [40, 60, 200], 0, 1.0),
            ROUGH,
        ),
        (
            "filled narrow raised arms",
            384,
            384,
            figure(192.0, 50.0, 290.0, filled(10.0), [20, 140, 140], 2, 0.9),
            CLEAN,
        ),
        (
            "filled arms along body",
            384,
            384,
            figure(192.0, 40.0, 300.0, filled(16.0), [220, 120, 20], 3, 1.0),
            ROUGH,
        ),
        (
            "filled long legs",
            320,
            420,
            figure(160.0, 30.0, 370.0, filled(14.0), [90, 40, 140], 0, 0.7),
            CLEAN,
        ),
        (
            "stick arms out",
            320,
            320,
            figure(160.0, 30.0, 260.0, stick, [10, 10, 10], 0, 1.0),
            CLEAN,
        ),
        (
            "stick raised arms",
            320,
            320,
            figure(160.0, 40.0, 250.0, stick, [110, 60, 20], 2, 1.0),
            ROUGH,
        ),
        (
            "stick arms along body short legs",
            320,
            320,
            figure(160.0, 30.0, 260.0, stick, [10, 10, 10], 3, 1.4),
            CLEAN,
        ),
    ]
}
