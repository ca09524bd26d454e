//! The AnimatedDrawings 16-joint humanoid skeleton: names, tree, validation of user-edited
//! joints, and the geometric estimator that finds the joints from the figure's mask (geodesic
//! extremities → head, hands, feet; shortest-path junctions → pelvis and shoulders; inscribed
//! circle → head centre).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::AnimateError;
use crate::geom::Point;
use crate::segment::Mask;

/// Joint names in the AnimatedDrawings `char_cfg.yaml` layout, in this crate's index order.
/// `neck` sits on the head (AnimatedDrawings places it at the nose), `root` and `hip` share the
/// pelvis. "Right" is the character's right: the image's left for a figure facing the viewer.
pub const JOINT_NAMES: [&str; 16] = [
    "root",
    "hip",
    "torso",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_hand",
    "left_shoulder",
    "left_elbow",
    "left_hand",
    "right_hip",
    "right_knee",
    "right_foot",
    "left_hip",
    "left_knee",
    "left_foot",
];

/// Parent of each joint (index into [`JOINT_NAMES`]); `root` has none.
pub const PARENTS: [Option<usize>; 16] = [
    None,
    Some(ROOT),
    Some(HIP),
    Some(TORSO),
    Some(TORSO),
    Some(R_SHOULDER),
    Some(R_ELBOW),
    Some(TORSO),
    Some(L_SHOULDER),
    Some(L_ELBOW),
    Some(ROOT),
    Some(R_HIP),
    Some(R_KNEE),
    Some(ROOT),
    Some(L_HIP),
    Some(L_KNEE),
];

/// Index of `root`.
pub const ROOT: usize = 0;
/// Index of `hip`.
pub const HIP: usize = 1;
/// Index of `torso`.
pub const TORSO: usize = 2;
/// Index of `neck`.
pub const NECK: usize = 3;
/// Index of `right_shoulder`.
pub const R_SHOULDER: usize = 4;
/// Index of `right_elbow`.
pub const R_ELBOW: usize = 5;
/// Index of `right_hand`.
pub const R_HAND: usize = 6;
/// Index of `left_shoulder`.
pub const L_SHOULDER: usize = 7;
/// Index of `left_elbow`.
pub const L_ELBOW: usize = 8;
/// Index of `left_hand`.
pub const L_HAND: usize = 9;
/// Index of `right_hip`.
pub const R_HIP: usize = 10;
/// Index of `right_knee`.
pub const R_KNEE: usize = 11;
/// Index of `right_foot`.
pub const R_FOOT: usize = 12;
/// Index of `left_hip`.
pub const L_HIP: usize = 13;
/// Index of `left_knee`.
pub const L_KNEE: usize = 14;
/// Index of `left_foot`.
pub const L_FOOT: usize = 15;

/// Joint positions, indexed like [`JOINT_NAMES`].
pub type Joints = [Point; 16];

/// Where a character's joints came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkeletonSource {
    /// Estimated from the mask's shape (no learned pose model loads here).
    Geometric,
    /// The shape did not show five limbs; joints placed by body proportions in the bounding box.
    Template,
    /// Supplied (edited) by the user.
    User,
}

/// One joint as exchanged with users, in the AnimatedDrawings `char_cfg` style.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joint {
    /// Joint name, one of [`JOINT_NAMES`].
    pub name: String,
    /// Position `[x, y]` in image pixels.
    pub loc: [f32; 2],
    /// Parent joint name (`null` for root). Optional on input; checked when given.
    #[serde(default)]
    pub parent: Option<String>,
}

/// Joints as a list of named [`Joint`]s (image pixels).
pub fn to_joint_list(j: &Joints) -> Vec<Joint> {
    JOINT_NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| Joint {
            name: (*n).to_owned(),
            loc: [j[i].x, j[i].y],
            parent: PARENTS[i].map(|p| JOINT_NAMES[p].to_owned()),
        })
        .collect()
}

/// Validate an edited joint list against the layout and the image size and return the joints.
pub fn from_joint_list(list: &[Joint], width: u32, height: u32) -> Result<Joints, AnimateError> {
    let mut out: [Option<Point>; 16] = [None; 16];
    for j in list {
        let Some(i) = JOINT_NAMES.iter().position(|n| *n == j.name) else {
            return Err(AnimateError::InvalidJoints(format!(
                "unknown joint {:?}",
                j.name
            )));
        };
        if out[i].is_some() {
            return Err(AnimateError::InvalidJoints(format!(
                "joint {:?} given twice",
                j.name
            )));
        }
        if let Some(p) = &j.parent {
            let expected = PARENTS[i].map(|k| JOINT_NAMES[k]);
            if expected != Some(p.as_str()) {
                return Err(AnimateError::InvalidJoints(format!(
                    "joint {:?} has parent {p:?}, the layout says {expected:?}",
                    j.name
                )));
            }
        }
        let [x, y] = j.loc;
        if !(x.is_finite() && y.is_finite())
            || x < 0.0
            || y < 0.0
            || x > width as f32
            || y > height as f32
        {
            return Err(AnimateError::JointOutsideImage {
                name: j.name.clone(),
                x,
                y,
                width,
                height,
            });
        }
        out[i] = Some(Point::new(x, y));
    }
    let mut joints = [Point::default(); 16];
    for (i, o) in out.iter().enumerate() {
        joints[i] = o.ok_or_else(|| {
            AnimateError::InvalidJoints(format!("joint {:?} missing", JOINT_NAMES[i]))
        })?;
    }
    Ok(joints)
}

/// Estimate the joints from a figure mask; falls back to body proportions in the bounding box
/// when the shape does not show a head, two arms and two legs.
pub fn estimate(mask: &Mask) -> (Joints, SkeletonSource) {
    match geometric(mask) {
        Some(j) => (j, SkeletonSource::Geometric),
        None => (template(mask), SkeletonSource::Template),
    }
}

/// Joints by typical proportions inside the mask's bounding box, snapped into the mask.
pub fn template(mask: &Mask) -> Joints {
    let Some(b) = mask.bbox() else {
        return [Point::default(); 16];
    };
    let (x0, y0, w, h) = (b.x as f32, b.y as f32, b.width as f32, b.height as f32);
    let cx = x0 + w / 2.0;
    let at = |dx: f32, fy: f32| Point::new(cx + dx * w, y0 + fy * h);
    let mut j = [Point::default(); 16];
    let spec: [(usize, f32, f32); 16] = [
        (ROOT, 0.0, 0.55),
        (HIP, 0.0, 0.55),
        (TORSO, 0.0, 0.28),
        (NECK, 0.0, 0.12),
        (R_SHOULDER, -0.15, 0.28),
        (R_ELBOW, -0.25, 0.4),
        (R_HAND, -0.35, 0.52),
        (L_SHOULDER, 0.15, 0.28),
        (L_ELBOW, 0.25, 0.4),
        (L_HAND, 0.35, 0.52),
        (R_HIP, -0.1, 0.56),
        (R_KNEE, -0.12, 0.75),
        (R_FOOT, -0.14, 0.94),
        (L_HIP, 0.1, 0.56),
        (L_KNEE, 0.12, 0.75),
        (L_FOOT, 0.14, 0.94),
    ];
    for (i, dx, fy) in spec {
        j[i] = snap_into(mask, at(dx, fy));
    }
    j
}

fn snap_into(mask: &Mask, p: Point) -> Point {
    if mask.get(p.x as i64, p.y as i64) {
        return p;
    }
    let w = mask.width as usize;
    let mut best = (f32::MAX, p);
    for (i, &v) in mask.data.iter().enumerate() {
        if v != 0 {
            let q = Point::new((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
            let d = q.dist(p);
            if d < best.0 {
                best = (d, q);
            }
        }
    }
    best.1
}

/// A small working copy of the mask: cropped to the figure and max-pooled to ≤ `MAX_SIDE`.
struct Small {
    w: usize,
    h: usize,
    on: Vec<bool>,
    factor: f32,
    ox: f32,
    oy: f32,
}

const MAX_SIDE: u32 = 160;

impl Small {
    fn new(mask: &Mask) -> Option<Small> {
        let b = mask.bbox()?;
        let f = b.width.max(b.height).div_ceil(MAX_SIDE).max(1);
        let (x0, y0) = (i64::from(b.x) - i64::from(f), i64::from(b.y) - i64::from(f));
        let w = (b.width + 2 * f).div_ceil(f) as usize;
        let h = (b.height + 2 * f).div_ceil(f) as usize;
        let mut on = vec![false; w * h];
        for sy in 0..h {
            for sx in 0..w {
                let mut any = false;
                'pool: for dy in 0..i64::from(f) {
                    for dx in 0..i64::from(f) {
                        if mask.get(
                            x0 + sx as i64 * i64::from(f) + dx,
                            y0 + sy as i64 * i64::from(f) + dy,
                        ) {
                            any = true;
                            break 'pool;
                        }
                    }
                }
                on[sy * w + sx] = any;
            }
        }
        Some(Small {
            w,
            h,
            on,
            factor: f as f32,
            ox: x0 as f32,
            oy: y0 as f32,
        })
    }
    fn to_work(&self, i: usize) -> Point {
        let (x, y) = ((i % self.w) as f32, (i / self.w) as f32);
        Point::new(
            self.ox + (x + 0.5) * self.factor,
            self.oy + (y + 0.5) * self.factor,
        )
    }
    fn xy(&self, i: usize) -> (f32, f32) {
        ((i % self.w) as f32, (i / self.w) as f32)
    }
    fn neighbours(&self, i: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        let (x, y) = ((i % self.w) as i64, (i / self.w) as i64);
        const N: [(i64, i64, u32); 8] = [
            (-1, 0, 5),
            (1, 0, 5),
            (0, -1, 5),
            (0, 1, 5),
            (-1, -1, 7),
            (1, -1, 7),
            (-1, 1, 7),
            (1, 1, 7),
        ];
        N.iter().filter_map(move |&(dx, dy, c)| {
            let (nx, ny) = (x + dx, y + dy);
            (nx >= 0 && ny >= 0 && nx < self.w as i64 && ny < self.h as i64)
                .then(|| (ny as usize * self.w + nx as usize, c))
                .filter(|&(j, _)| self.on[j])
        })
    }
    /// Chamfer distance (×5 units) to the nearest background pixel.
    fn distance(&self) -> Vec<u32> {
        crate::segment::chamfer_distance(&self.on, self.w, self.h)
    }
    /// Multi-source geodesic distances (×5 units) and the shortest-path tree.
    fn geodesic(&self, sources: &[usize]) -> (Vec<u32>, Vec<usize>) {
        let mut dist = vec![u32::MAX; self.on.len()];
        let mut parent = vec![usize::MAX; self.on.len()];
        let mut heap = BinaryHeap::new();
        for &s in sources {
            dist[s] = 0;
            heap.push(Reverse((0u32, s)));
        }
        while let Some(Reverse((d, i))) = heap.pop() {
            if d > dist[i] {
                continue;
            }
            for (j, c) in self.neighbours(i) {
                if d + c < dist[j] {
                    dist[j] = d + c;
                    parent[j] = i;
                    heap.push(Reverse((d + c, j)));
                }
            }
        }
        (dist, parent)
    }
}

fn path_to_root(parent: &[usize], mut i: usize) -> Vec<usize> {
    let mut p = vec![i];
    while parent[i] != usize::MAX {
        i = parent[i];
        p.push(i);
    }
    p
}

/// The point `arc` units along `path` (a list of small-mask indices) from its start.
fn along(s: &Small, path: &[usize], arc: f32) -> usize {
    let mut acc = 0.0;
    for w in path.windows(2) {
        let (a, b) = (s.xy(w[0]), s.xy(w[1]));
        acc += (a.0 - b.0).hypot(a.1 - b.1);
        if acc >= arc {
            return w[1];
        }
    }
    *path.last().unwrap_or(&0)
}

fn arc_len(s: &Small, path: &[usize]) -> f32 {
    path.windows(2)
        .map(|w| {
            let (a, b) = (s.xy(w[0]), s.xy(w[1]));
            (a.0 - b.0).hypot(a.1 - b.1)
        })
        .sum()
}

fn geometric(mask: &Mask) -> Option<Joints> {
    let s = Small::new(mask)?;
    let n_on = s.on.iter().filter(|&&o| o).count();
    if n_on < 20 {
        return None;
    }
    // Seed: the figure pixel nearest the centroid.
    let (mut cx, mut cy) = (0.0, 0.0);
    for (i, _) in s.on.iter().enumerate().filter(|(_, o)| **o) {
        let (x, y) = s.xy(i);
        cx += x;
        cy += y;
    }
    cx /= n_on as f32;
    cy /= n_on as f32;
    let seed = (0..s.on.len()).filter(|&i| s.on[i]).min_by(|&a, &b| {
        let (ax, ay) = s.xy(a);
        let (bx, by) = s.xy(b);
        ((ax - cx).hypot(ay - cy)).total_cmp(&(bx - cx).hypot(by - cy))
    })?;
    // Five extremities by farthest-point search from the growing set of limb paths.
    let extent = s.w.max(s.h) as f32;
    let mut sources = vec![seed];
    let mut tips = Vec::new();
    for k in 0..5 {
        let (dist, parent) = s.geodesic(&sources);
        let (far, d) = dist
            .iter()
            .enumerate()
            .filter(|(_, d)| **d != u32::MAX)
            .max_by_key(|(_, d)| **d)?;
        if k > 0 && (*d as f32 / 5.0) < 0.06 * extent {
            return None;
        }
        tips.push(far);
        sources.extend(path_to_root(&parent, far));
    }
    // Feet: the two lowest; of the other three, the head is the middle one in x.
    tips.sort_by(|&a, &b| s.xy(a).1.total_cmp(&s.xy(b).1));
    let mut upper = tips[..3].to_vec();
    let mut feet = tips[3..].to_vec();
    upper.sort_by(|&a, &b| s.xy(a).0.total_cmp(&s.xy(b).0));
    feet.sort_by(|&a, &b| s.xy(a).0.total_cmp(&s.xy(b).0));
    let (r_hand, head, l_hand) = (upper[0], upper[1], upper[2]);
    let (r_foot, l_foot) = (feet[0], feet[1]);

    let (_, parent) = s.geodesic(&[head]);
    let lca = |a: usize, b: usize| -> (Vec<usize>, Vec<usize>, usize) {
        let pa = path_to_root(&parent, a);
        let pb = path_to_root(&parent, b);
        let on_b: std::collections::HashSet<usize> = pb.iter().copied().collect();
        let meet = pa
            .iter()
            .copied()
            .find(|i| on_b.contains(i))
            .unwrap_or(head);
        let cut = |p: Vec<usize>| -> Vec<usize> {
            let k = p.iter().position(|&i| i == meet).unwrap_or(p.len() - 1);
            p[..=k].iter().rev().copied().collect()
        };
        (cut(pa), cut(pb), meet)
    };
    let (r_leg, l_leg, pelvis) = lca(r_foot, l_foot);
    let (r_arm, l_arm, chest) = lca(r_hand, l_hand);
    if s.xy(pelvis).1 <= s.xy(chest).1 {
        return None;
    }
    let dt = s.distance();
    let dt_at = |i: usize| dt[i] as f32 / 5.0;
    // Head centre: the largest inscribed circle touching the head tip.
    let head_path: Vec<usize> = path_to_root(&parent, chest).into_iter().rev().collect();
    let mut centre = head;
    let mut acc = 0.0;
    for w in head_path.windows(2) {
        let (a, b) = (s.xy(w[0]), s.xy(w[1]));
        acc += (a.0 - b.0).hypot(a.1 - b.1);
        if dt_at(w[1]) + 1.0 + 0.1 * acc < acc {
            break;
        }
        centre = w[1];
    }
    // Trunk half width: the horizontal run of the mask through the middle of the torso.
    let (px, py) = s.xy(pelvis);
    let (sx, sy) = s.xy(chest);
    let (mx, my) = (((px + sx) / 2.0) as usize, ((py + sy) / 2.0) as usize);
    let row = |x: usize| s.on[my * s.w + x];
    let mut lo = mx;
    while lo > 0 && row(lo - 1) {
        lo -= 1;
    }
    let mut hi = mx;
    while hi + 1 < s.w && row(hi + 1) {
        hi += 1;
    }
    let half = if row(mx) {
        (hi - lo + 1) as f32 / 2.0
    } else {
        1.0
    };
    let limb = |path: &[usize], start_arc: f32| -> (usize, usize, usize) {
        let total = arc_len(&s, path);
        let start_arc = start_arc.min(total * 0.3);
        let first = along(&s, path, start_arc);
        let mid = along(&s, path, (start_arc + total) / 2.0);
        (first, mid, *path.last().unwrap_or(&first))
    };
    let (rs, re, rh) = limb(&r_arm, dt_at(chest).max(half));
    let (ls, le, lh) = limb(&l_arm, dt_at(chest).max(half));
    let (rhip, rk, rf) = limb(&r_leg, dt_at(pelvis).max(0.5 * half));
    let (lhip, lk, lf) = limb(&l_leg, dt_at(pelvis).max(0.5 * half));
    let mut j = [Point::default(); 16];
    for (k, i) in [
        (ROOT, pelvis),
        (HIP, pelvis),
        (TORSO, chest),
        (NECK, centre),
        (R_SHOULDER, rs),
        (R_ELBOW, re),
        (R_HAND, rh),
        (L_SHOULDER, ls),
        (L_ELBOW, le),
        (L_HAND, lh),
        (R_HIP, rhip),
        (R_KNEE, rk),
        (R_FOOT, rf),
        (L_HIP, lhip),
        (L_KNEE, lk),
        (L_FOOT, lf),
    ] {
        j[k] = s.to_work(i);
    }
    Some(j)
}
