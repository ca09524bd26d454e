//! Measures of how well an animated character keeps its drawn shape, for tests and
//! benchmarks: the torso's area, each limb bone's drawn length, folded (flipped) triangles and
//! the character's total drawn area (each part's own coverage, summed), per frame, relative to
//! the rest pose.

use crate::geom::{Point, dist_to_segment, signed_area2};
use crate::mesh::Mesh;
use crate::parts::Part;
use crate::skeleton::{Joints, PARENTS};

/// Shape measures of one posed frame, relative to the rest pose (1 = as drawn).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameShape {
    /// Area of the torso's triangles.
    pub torso_area: f32,
    /// Drawn length of each limb bone (upper arms, forearms, thighs, shins), in
    /// [`LIMB_BONES`] order: the distance between its two [`CROSS_SECTIONS`].
    pub limb_lengths: Vec<f32>,
    /// Triangles folded over (non-positive area).
    pub flipped: usize,
    /// Area the whole character covers (overlapping parts count once).
    pub drawn_area: f32,
}

/// The limb bones measured, by child joint.
pub const LIMB_BONES: [usize; 8] = [
    crate::skeleton::R_ELBOW,
    crate::skeleton::R_HAND,
    crate::skeleton::L_ELBOW,
    crate::skeleton::L_HAND,
    crate::skeleton::R_KNEE,
    crate::skeleton::R_FOOT,
    crate::skeleton::L_KNEE,
    crate::skeleton::L_FOOT,
];

/// The two cross-sections of a limb bone whose distance is its drawn length, as fractions of
/// the bone from its parent joint: vertices in the first band are averaged into one point,
/// those in the second into another. Away from the joints, where a bend moves the outline
/// without stretching the limb.
pub const CROSS_SECTIONS: [(f32, f32); 2] = [(0.15, 0.35), (0.65, 0.85)];

/// Per-vertex `(limb bone index into [`LIMB_BONES`], cross-section 0 or 1)` for vertices of a
/// limb lying in one of its nearest bone's [`CROSS_SECTIONS`] at rest.
fn vertex_sections(mesh: &Mesh, parts: &[Part], rest: &Joints) -> Vec<Option<(usize, usize)>> {
    let vertex_part = crate::parts::vertex_parts(mesh, parts);
    vertex_part
        .iter()
        .zip(&mesh.vertices)
        .map(|(part, &p)| {
            let (k, t, _) = part
                .bones()
                .iter()
                .filter_map(|&c| {
                    let k = LIMB_BONES.iter().position(|&b| b == c)?;
                    let parent = PARENTS[c]?;
                    let axis = rest[c] - rest[parent];
                    let t = (p - rest[parent]).dot(axis) / axis.dot(axis).max(1e-6);
                    Some((k, t, dist_to_segment(p, rest[parent], rest[c])))
                })
                .min_by(|a, b| a.2.total_cmp(&b.2))?;
            let section = CROSS_SECTIONS
                .iter()
                .position(|&(lo, hi)| (lo..=hi).contains(&t))?;
            Some((k, section))
        })
        .collect()
}

/// Distance between each limb bone's two cross-sections for positions `x` (0 where a section
/// has no vertex).
fn limb_lengths(x: &[Point], sections: &[Option<(usize, usize)>]) -> [f32; 8] {
    let mut sum = [[Point::default(); 2]; 8];
    let mut count = [[0usize; 2]; 8];
    for (p, s) in x.iter().zip(sections) {
        if let Some((k, end)) = *s {
            sum[k][end] = sum[k][end] + *p;
            count[k][end] += 1;
        }
    }
    std::array::from_fn(|k| {
        if count[k][0] == 0 || count[k][1] == 0 {
            return 0.0;
        }
        let a = sum[k][0] * (1.0 / count[k][0] as f32);
        let b = sum[k][1] * (1.0 / count[k][1] as f32);
        a.dist(b)
    })
}

/// Pixels (of a one-pixel grid) whose centre lies inside at least one triangle.
pub fn covered_pixels(triangles: &[[u32; 3]], x: &[Point]) -> usize {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in x {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    if x0 > x1 {
        return 0;
    }
    let (ox, oy) = (x0.floor() as i64, y0.floor() as i64);
    let (w, h) = (
        (x1.ceil() as i64 - ox + 1) as usize,
        (y1.ceil() as i64 - oy + 1) as usize,
    );
    let mut hit = vec![false; w * h];
    for t in triangles {
        let [a, b, c] = t.map(|v| x[v as usize]);
        let area = signed_area2(a, b, c);
        if area.abs() < 1e-9 {
            continue;
        }
        let bx0 = (a.x.min(b.x).min(c.x).floor() as i64).max(ox);
        let bx1 = a.x.max(b.x).max(c.x).ceil() as i64;
        let by0 = (a.y.min(b.y).min(c.y).floor() as i64).max(oy);
        let by1 = a.y.max(b.y).max(c.y).ceil() as i64;
        for py in by0..by1 {
            for px in bx0..bx1 {
                let p = Point::new(px as f32 + 0.5, py as f32 + 0.5);
                let (e0, e1, e2) = (
                    signed_area2(a, b, p) / area,
                    signed_area2(b, c, p) / area,
                    signed_area2(c, a, p) / area,
                );
                if e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0 {
                    hit[(py - oy) as usize * w + (px - ox) as usize] = true;
                }
            }
        }
    }
    hit.iter().filter(|&&v| v).count()
}

/// Area covered by each part on its own, summed: a limb in front of the torso or of another
/// limb counts once, while a part folding over itself or squashed loses area.
pub fn drawn_area(triangles: &[[u32; 3]], parts: &[Part], x: &[Point]) -> usize {
    Part::ALL
        .iter()
        .map(|part| {
            let own: Vec<[u32; 3]> = triangles
                .iter()
                .zip(parts)
                .filter(|(_, p)| *p == part)
                .map(|(t, _)| *t)
                .collect();
            covered_pixels(&own, x)
        })
        .sum()
}

/// Measures for frames with vertex positions `frames` of `mesh` (at rest: `mesh.vertices`,
/// skeleton `rest`), judged with the body part of each triangle `parts` (the same labels can
/// judge a mesh deformed in one piece; triangles beyond `parts` are left out).
pub fn measure(
    mesh: &Mesh,
    parts: &[Part],
    rest: &Joints,
    frames: &[Vec<Point>],
) -> Vec<FrameShape> {
    let sections = vertex_sections(mesh, parts, rest);
    let tris = &mesh.triangles;
    let torso_area = |x: &[Point]| -> f32 {
        tris.iter()
            .zip(parts)
            .filter(|(_, p)| **p == Part::Torso)
            .map(|(t, _)| signed_area2(x[t[0] as usize], x[t[1] as usize], x[t[2] as usize]))
            .sum::<f32>()
    };
    let rest_x = &mesh.vertices;
    let rest_torso = torso_area(rest_x).max(1e-6);
    let rest_lengths = limb_lengths(rest_x, &sections);
    let rest_drawn = drawn_area(tris, parts, rest_x).max(1) as f32;
    frames
        .iter()
        .map(|x| {
            let lengths = limb_lengths(x, &sections);
            FrameShape {
                torso_area: torso_area(x) / rest_torso,
                limb_lengths: lengths
                    .iter()
                    .zip(&rest_lengths)
                    .filter(|(_, r)| **r > 1.0)
                    .map(|(l, r)| l / r)
                    .collect(),
                flipped: tris
                    .iter()
                    .filter(|t| {
                        signed_area2(x[t[0] as usize], x[t[1] as usize], x[t[2] as usize]) <= 0.0
                    })
                    .count(),
                drawn_area: drawn_area(tris, parts, x) as f32 / rest_drawn,
            }
        })
        .collect()
}

/// The range of each measure over many frames.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeSummary {
    /// Smallest and largest torso area ratio.
    pub torso_area: (f32, f32),
    /// Smallest and largest limb length ratio over every limb bone.
    pub limb_length: (f32, f32),
    /// Frames with a folded triangle.
    pub frames_with_folds: usize,
    /// Smallest and largest drawn area ratio.
    pub drawn_area: (f32, f32),
}

impl ShapeSummary {
    /// Summarise per-frame measures.
    pub fn of(frames: &[FrameShape]) -> ShapeSummary {
        let range = |values: &mut dyn Iterator<Item = f32>| {
            values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        ShapeSummary {
            torso_area: range(&mut frames.iter().map(|f| f.torso_area)),
            limb_length: range(&mut frames.iter().flat_map(|f| f.limb_lengths.iter().copied())),
            frames_with_folds: frames.iter().filter(|f| f.flipped > 0).count(),
            drawn_area: range(&mut frames.iter().map(|f| f.drawn_area)),
        }
    }

    /// Whether the character kept its shape: torso area within ±5 %, every limb bone within
    /// ±10 %, no fold, drawn area within ±10 %.
    pub fn keeps_shape(&self) -> bool {
        let within = |(lo, hi): (f32, f32), tol: f32| lo >= 1.0 - tol && hi <= 1.0 + tol;
        within(self.torso_area, 0.05)
            && within(self.limb_length, 0.10)
            && self.frames_with_folds == 0
            && within(self.drawn_area, 0.10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_pixels_count_overlaps_once() {
        let x = vec![
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 10.0),
            Point::new(0.0, 10.0),
        ];
        // Two triangles tiling a 10×10 square, and the same square twice over.
        assert_eq!(covered_pixels(&[[0, 1, 2], [0, 2, 3]], &x), 100);
        assert_eq!(covered_pixels(&[[0, 1, 2], [0, 2, 3], [0, 1, 2]], &x), 100);
        assert_eq!(covered_pixels(&[[0, 1, 2]], &x), 55);
    }

    #[test]
    fn a_summary_keeps_the_extremes_and_judges_the_tolerances() {
        let frame = |torso: f32, limb: f32, flipped: usize, drawn: f32| FrameShape {
            torso_area: torso,
            limb_lengths: vec![1.0, limb],
            flipped,
            drawn_area: drawn,
        };
        let ok = ShapeSummary::of(&[frame(1.0, 1.0, 0, 1.0), frame(0.96, 1.08, 0, 0.93)]);
        assert_eq!(ok.torso_area, (0.96, 1.0));
        assert_eq!(ok.limb_length, (1.0, 1.08));
        assert!(ok.keeps_shape());
        assert!(!ShapeSummary::of(&[frame(0.94, 1.0, 0, 1.0)]).keeps_shape());
        assert!(!ShapeSummary::of(&[frame(1.0, 1.11, 0, 1.0)]).keeps_shape());
        assert!(!ShapeSummary::of(&[frame(1.0, 1.0, 1, 1.0)]).keeps_shape());
        assert!(!ShapeSummary::of(&[frame(1.0, 1.0, 0, 0.89)]).keeps_shape());
    }
}
