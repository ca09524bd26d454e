//! Body parts: which part of the figure (torso with head, or one of the four limbs) each mesh
//! triangle belongs to, and the mesh cut along the seams between parts so that a limb moves
//! without dragging the body (AnimatedDrawings' way of keeping a character's drawn shape).
//!
//! The body's thick core (the mask opened with a disc wider than the drawn limbs: a filled
//! torso and head) is torso, wherever the skeleton's limb bones start inside it; every other
//! triangle goes to its nearest bone. Limb pieces cut off from their limb go back to the body,
//! torso pieces cut off from the body join the limb around them. Limbs drawn against the body
//! along their whole length (arms held along a filled torso) are part of the core and stay
//! with the body.

use crate::geom::{Point, dist_to_segment};
use crate::mesh::Mesh;
use crate::segment::{Mask, chamfer_distance};
use crate::skeleton::{
    Joints, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, PARENTS, R_ELBOW, R_FOOT, R_HAND,
    R_HIP, R_KNEE, R_SHOULDER,
};

/// A part of the figure that deforms on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Pelvis, trunk, neck and head: kept (nearly) rigid.
    Torso,
    /// The character's right upper arm and forearm.
    RightArm,
    /// The character's left upper arm and forearm.
    LeftArm,
    /// The character's right thigh and shin.
    RightLeg,
    /// The character's left thigh and shin.
    LeftLeg,
}

impl Part {
    /// Every part.
    pub const ALL: [Part; 5] = [
        Part::Torso,
        Part::RightArm,
        Part::LeftArm,
        Part::RightLeg,
        Part::LeftLeg,
    ];

    /// The part's position in [`Part::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The part a bone (named by its child joint) moves.
    pub fn of_bone(child: usize) -> Part {
        match child {
            R_ELBOW | R_HAND => Part::RightArm,
            L_ELBOW | L_HAND => Part::LeftArm,
            R_KNEE | R_FOOT => Part::RightLeg,
            L_KNEE | L_FOOT => Part::LeftLeg,
            _ => Part::Torso,
        }
    }

    /// The joint where the part hangs from the torso (`None` for the torso).
    pub fn root_joint(self) -> Option<usize> {
        match self {
            Part::Torso => None,
            Part::RightArm => Some(R_SHOULDER),
            Part::LeftArm => Some(L_SHOULDER),
            Part::RightLeg => Some(R_HIP),
            Part::LeftLeg => Some(L_HIP),
        }
    }

    /// The limb's two bones (child joints), upper first; empty for the torso.
    pub fn bones(self) -> &'static [usize] {
        match self {
            Part::Torso => &[],
            Part::RightArm => &[R_ELBOW, R_HAND],
            Part::LeftArm => &[L_ELBOW, L_HAND],
            Part::RightLeg => &[R_KNEE, R_FOOT],
            Part::LeftLeg => &[L_KNEE, L_FOOT],
        }
    }

    /// Whether joint `j` moves with this part (as the end of one of its bones, or the root it
    /// hangs from).
    pub fn holds_joint(self, j: usize) -> bool {
        self.root_joint() == Some(j)
            || (1..16).any(|c| Part::of_bone(c) == self && (c == j || PARENTS[c] == Some(j)))
    }
}

/// The order a frame draws the body parts in, back to front. Limbs behind the body's plane
/// come before the torso, limbs in front of it after; see [`DrawOrder::from_depths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawOrder(pub [Part; 5]);

impl Default for DrawOrder {
    /// The order of a clip that says nothing about depth: legs behind the body (their tops
    /// tuck under the pelvis), arms in front of it.
    fn default() -> Self {
        DrawOrder([
            Part::RightLeg,
            Part::LeftLeg,
            Part::Torso,
            Part::RightArm,
            Part::LeftArm,
        ])
    }
}

impl DrawOrder {
    /// The order for the limbs' depths relative to the body's plane (positive = towards the
    /// viewer), one per limb in [`Part::ALL`]`[1..]` order. A limb within `tie` of the plane
    /// keeps its place in the default order (legs behind, arms in front); the others sort
    /// far to near, so a limb behind the body is covered by it and a limb in front covers it,
    /// and of two crossing limbs the nearer is drawn last.
    pub fn from_depths(depths: [f32; 4], tie: f32) -> DrawOrder {
        let default = DrawOrder::default();
        let rank = |p: Part| default.0.iter().position(|&q| q == p).unwrap_or(0);
        // Sort key: the depth, with limbs in the plane just behind (legs) or in front (arms).
        let mut keyed: Vec<(f32, usize, Part)> = Part::ALL[1..]
            .iter()
            .zip(depths)
            .map(|(&limb, d)| {
                let d = if d.is_finite() { d } else { 0.0 };
                let key = if d.abs() > tie {
                    d
                } else if rank(limb) < rank(Part::Torso) {
                    -tie * 0.5
                } else {
                    tie * 0.5
                };
                (key, rank(limb), limb)
            })
            .collect();
        keyed.push((0.0, rank(Part::Torso), Part::Torso));
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut order = default.0;
        for (slot, (_, _, part)) in order.iter_mut().zip(keyed) {
            *slot = part;
        }
        DrawOrder(order)
    }

    /// Whether `limb` is drawn behind the torso.
    pub fn is_behind(&self, limb: Part) -> bool {
        let at = |p: Part| self.0.iter().position(|&q| q == p);
        at(limb) < at(Part::Torso)
    }
}

/// Bones with a usable length: child joint indices.
pub fn bones(j: &Joints) -> Vec<usize> {
    (0..16)
        .filter(|&c| PARENTS[c].is_some_and(|p| j[p].dist(j[c]) > 1.0))
        .collect()
}

/// The body's thick core: the mask opened with a disc wider than the limbs (eroded, then
/// grown back by the same radius), so thin limbs fall away and the torso and a filled head
/// stay. Row-major, `width × height`.
struct Core {
    width: usize,
    height: usize,
    inside: Vec<bool>,
}

impl Core {
    /// The core of `mask` for limbs about `limb_radius` pixels thick.
    fn of(mask: &Mask, joints: &Joints) -> Core {
        let on: Vec<bool> = mask.data.iter().map(|&v| v != 0).collect();
        let (width, height) = (mask.width as usize, mask.height as usize);
        let depth = chamfer_distance(&on, width, height);
        let radius_at = |p: Point| -> f32 {
            let (cx, cy) = (p.x.floor() as i64, p.y.floor() as i64);
            // The largest radius within a few pixels: a bone drawn slightly off its stroke.
            let mut best = 0u32;
            for y in (cy - 3).max(0)..=(cy + 3).min(height as i64 - 1) {
                for x in (cx - 3).max(0)..=(cx + 3).min(width as i64 - 1) {
                    best = best.max(depth[y as usize * width + x as usize]);
                }
            }
            best as f32 / 5.0
        };
        // How thick the limbs are drawn: the median radius along the forearms and shins.
        let mut limb: Vec<f32> = [R_HAND, L_HAND, R_FOOT, L_FOOT]
            .iter()
            .filter_map(|&c| PARENTS[c].map(|p| (p, c)))
            .flat_map(|(p, c)| (1..4).map(move |k| (p, c, k as f32 / 4.0)))
            .map(|(p, c, t)| radius_at(joints[p].lerp(joints[c], t)))
            .filter(|&r| r > 0.0)
            .collect();
        limb.sort_by(f32::total_cmp);
        let limb_radius = limb.get(limb.len() / 2).copied().unwrap_or(1.0);
        let open = 1.5 * limb_radius + 1.5;
        let eroded: Vec<bool> = depth.iter().map(|&d| d as f32 / 5.0 >= open).collect();
        let not_eroded: Vec<bool> = eroded.iter().map(|&e| !e).collect();
        let to_eroded = chamfer_distance(&not_eroded, width, height);
        let inside = on
            .iter()
            .zip(&to_eroded)
            .map(|(&o, &d)| o && d as f32 / 5.0 <= open)
            .collect();
        Core {
            width,
            height,
            inside,
        }
    }

    /// Whether `p` lies in the core.
    fn contains(&self, p: Point) -> bool {
        let (x, y) = (p.x.floor() as i64, p.y.floor() as i64);
        x >= 0
            && y >= 0
            && (x as usize) < self.width
            && (y as usize) < self.height
            && self.inside[y as usize * self.width + x as usize]
    }
}

/// Moves the joints where limbs hang from a filled body (shoulders, hips) out to the body's
/// outline: along each upper arm and thigh, from the joint towards the elbow or knee, to where
/// the bone leaves the body's thick core, so the limb turns where it meets the body. A joint
/// outside the core (stick figures) stays; a joint stays if the bone does not leave the core
/// within the first 60 % of its length.
pub fn roots_on_outline(mask: &Mask, joints: &mut Joints) {
    let core = Core::of(mask, joints);
    for limb in &Part::ALL[1..] {
        let (Some(root), Some(&upper)) = (limb.root_joint(), limb.bones().first()) else {
            continue;
        };
        let (from, to) = (joints[root], joints[upper]);
        let length = from.dist(to);
        if length < 2.0 || !core.contains(from) {
            continue;
        }
        let steps = (length * 0.6).floor() as usize;
        if let Some(exit) = (1..=steps)
            .map(|k| from.lerp(to, k as f32 / length))
            .find(|&p| !core.contains(p))
        {
            joints[root] = exit;
        }
    }
}

/// The part of each triangle of `mesh` for the rest skeleton `joints` drawn as `mask`: torso
/// where the triangle lies in the body's thick core, else the part of the nearest bone.
pub fn assign(mesh: &Mesh, mask: &Mask, joints: &Joints) -> Vec<Part> {
    let core = Core::of(mask, joints);
    let usable = bones(joints);
    let mut parts: Vec<Part> = mesh
        .triangles
        .iter()
        .map(|t| {
            let [a, b, c] = t.map(|v| mesh.vertices[v as usize]);
            let centre = (a + b + c) * (1.0 / 3.0);
            if core.contains(centre) {
                return Part::Torso;
            }
            usable
                .iter()
                .filter_map(|&ch| {
                    PARENTS[ch].map(|p| (ch, dist_to_segment(centre, joints[p], joints[ch])))
                })
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .map_or(Part::Torso, |(ch, _)| Part::of_bone(ch))
        })
        .collect();
    keep_limbs_attached(mesh, joints, &mut parts);
    keep_torso_whole(mesh, &mut parts);
    parts
}

/// Torso pieces cut off from the largest one (a bit of body between two limbs) join the limb
/// they touch most.
fn keep_torso_whole(mesh: &Mesh, parts: &mut [Part]) {
    let neighbours = triangle_neighbours(mesh);
    let mut piece = vec![usize::MAX; parts.len()];
    let mut sizes = Vec::new();
    for start in 0..parts.len() {
        if parts[start] != Part::Torso || piece[start] != usize::MAX {
            continue;
        }
        let id = sizes.len();
        let (mut stack, mut size) = (vec![start], 0);
        piece[start] = id;
        while let Some(t) = stack.pop() {
            size += 1;
            for &n in &neighbours[t] {
                if parts[n] == Part::Torso && piece[n] == usize::MAX {
                    piece[n] = id;
                    stack.push(n);
                }
            }
        }
        sizes.push(size);
    }
    let Some(main) = (0..sizes.len()).max_by_key(|&i| sizes[i]) else {
        return;
    };
    for id in 0..sizes.len() {
        if id == main {
            continue;
        }
        let members: Vec<usize> = (0..parts.len()).filter(|&t| piece[t] == id).collect();
        let mut touching: Vec<Part> = members
            .iter()
            .flat_map(|&t| neighbours[t].iter().map(|&n| parts[n]))
            .filter(|&p| p != Part::Torso)
            .collect();
        touching.sort();
        let most = touching
            .chunk_by(|a, b| a == b)
            .max_by_key(|run| run.len())
            .map(|run| run[0]);
        if let Some(limb) = most {
            for t in members {
                parts[t] = limb;
            }
        }
    }
}

/// Triangles of a limb that are not connected (through triangles of the same limb) to the one
/// nearest the middle of the limb's upper bone become torso.
fn keep_limbs_attached(mesh: &Mesh, joints: &Joints, parts: &mut [Part]) {
    let neighbours = triangle_neighbours(mesh);
    for limb in &Part::ALL[1..] {
        let members: Vec<usize> = (0..parts.len()).filter(|&t| parts[t] == *limb).collect();
        if members.is_empty() {
            continue;
        }
        // The seed: the limb triangle nearest the middle of its upper bone.
        let upper = limb.bones()[0];
        let Some(parent) = PARENTS[upper] else {
            continue;
        };
        let middle = joints[parent].lerp(joints[upper], 0.5);
        let centre = |t: usize| {
            let [a, b, c] = mesh.triangles[t].map(|v| mesh.vertices[v as usize]);
            (a + b + c) * (1.0 / 3.0)
        };
        let seed = members
            .iter()
            .copied()
            .min_by(|&x, &y| centre(x).dist(middle).total_cmp(&centre(y).dist(middle)))
            .unwrap_or(members[0]);
        let mut reached = vec![false; parts.len()];
        let mut stack = vec![seed];
        reached[seed] = true;
        while let Some(t) = stack.pop() {
            for &n in &neighbours[t] {
                if !reached[n] && parts[n] == *limb {
                    reached[n] = true;
                    stack.push(n);
                }
            }
        }
        // Stray pieces (cut off from their limb by another part) belong to the body.
        for t in members.into_iter().filter(|&t| !reached[t]) {
            parts[t] = Part::Torso;
        }
    }
}

/// Triangles sharing an edge with each triangle.
fn triangle_neighbours(mesh: &Mesh) -> Vec<Vec<usize>> {
    let mut by_edge: std::collections::HashMap<(u32, u32), Vec<usize>> =
        std::collections::HashMap::new();
    for (ti, t) in mesh.triangles.iter().enumerate() {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            by_edge.entry((a.min(b), a.max(b))).or_default().push(ti);
        }
    }
    let mut out = vec![Vec::new(); mesh.triangles.len()];
    for users in by_edge.values() {
        for &a in users {
            for &b in users {
                if a != b {
                    out[a].push(b);
                }
            }
        }
    }
    out
}

/// The mesh cut along the seams between parts: a vertex shared by triangles of several parts
/// is copied once per extra part, so each part is its own piece. Returns the cut mesh and, for
/// each of its vertices, the vertex of `mesh` it was copied from.
pub fn cut(mesh: &Mesh, parts: &[Part]) -> (Mesh, Vec<usize>) {
    let mut vertices = mesh.vertices.clone();
    let mut origin: Vec<usize> = (0..vertices.len()).collect();
    // The part that keeps each original vertex: the first part to use it.
    let mut owner: Vec<Option<Part>> = vec![None; vertices.len()];
    let mut copies: std::collections::HashMap<(u32, Part), u32> = std::collections::HashMap::new();
    let mut triangles = Vec::with_capacity(mesh.triangles.len());
    for (t, &part) in mesh.triangles.iter().zip(parts) {
        let tri = t.map(|v| {
            let vi = v as usize;
            match owner[vi] {
                None => {
                    owner[vi] = Some(part);
                    v
                }
                Some(p) if p == part => v,
                Some(_) => *copies.entry((v, part)).or_insert_with(|| {
                    vertices.push(mesh.vertices[vi]);
                    origin.push(vi);
                    (vertices.len() - 1) as u32
                }),
            }
        });
        triangles.push(tri);
    }
    (
        Mesh {
            vertices,
            triangles,
        },
        origin,
    )
}

/// The part of each vertex: that of the triangles using it (after [`cut`], every triangle
/// around a vertex is in one part); torso for a vertex no triangle uses.
pub fn vertex_parts(mesh: &Mesh, parts: &[Part]) -> Vec<Part> {
    let mut out = vec![Part::Torso; mesh.vertices.len()];
    for (t, &p) in mesh.triangles.iter().zip(parts) {
        for &v in t {
            out[v as usize] = p;
        }
    }
    out
}

/// Triangles to draw twice so that no gap opens at a seam when a limb turns: the ring of body
/// triangles around each leg's seam is added to the leg (drawn behind the body, it fills the
/// gap under the body's edge), and the ring of arm triangles around each arm's seam is added to
/// the body (drawn behind the arm, it keeps the shoulder whole when the arm swings away).
/// Returns `(triangle, part)` pairs to append to the mesh.
pub fn seam_overlaps(mesh: &Mesh, parts: &[Part]) -> Vec<([u32; 3], Part)> {
    let mut touching: Vec<Vec<Part>> = vec![Vec::new(); mesh.vertices.len()];
    for (t, &p) in mesh.triangles.iter().zip(parts) {
        for &v in t {
            if !touching[v as usize].contains(&p) {
                touching[v as usize].push(p);
            }
        }
    }
    let mut extra = Vec::new();
    for (t, &p) in mesh.triangles.iter().zip(parts) {
        let others: Vec<Part> = t
            .iter()
            .flat_map(|&v| touching[v as usize].iter().copied())
            .filter(|&o| o != p)
            .collect();
        match p {
            Part::Torso => {
                for leg in [Part::RightLeg, Part::LeftLeg] {
                    if others.contains(&leg) {
                        extra.push((*t, leg));
                    }
                }
            }
            Part::RightArm | Part::LeftArm if others.contains(&Part::Torso) => {
                extra.push((*t, Part::Torso));
            }
            _ => {}
        }
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square split into two triangles of different parts.
    fn square() -> Mesh {
        Mesh {
            vertices: vec![
                Point::new(0.0, 0.0),
                Point::new(10.0, 0.0),
                Point::new(10.0, 10.0),
                Point::new(0.0, 10.0),
            ],
            triangles: vec![[0, 1, 2], [0, 2, 3]],
        }
    }

    #[test]
    fn cutting_copies_the_shared_edge_once_per_extra_part() {
        let (cut_mesh, origin) = cut(&square(), &[Part::Torso, Part::RightArm]);
        assert_eq!(cut_mesh.vertices.len(), 6);
        assert_eq!(cut_mesh.triangles, vec![[0, 1, 2], [4, 5, 3]]);
        assert_eq!(origin, vec![0, 1, 2, 3, 0, 2]);
        let (same, origin) = cut(&square(), &[Part::Torso, Part::Torso]);
        assert_eq!(same, square());
        assert_eq!(origin, vec![0, 1, 2, 3]);
    }

    #[test]
    fn every_joint_belongs_to_the_parts_that_move_it() {
        use crate::skeleton::{NECK, ROOT, TORSO};
        assert!(Part::Torso.holds_joint(TORSO) && Part::Torso.holds_joint(NECK));
        assert!(Part::Torso.holds_joint(R_SHOULDER) && Part::RightArm.holds_joint(R_SHOULDER));
        assert!(Part::RightArm.holds_joint(R_ELBOW) && Part::RightArm.holds_joint(R_HAND));
        assert!(!Part::RightArm.holds_joint(TORSO) && !Part::LeftArm.holds_joint(R_HAND));
        assert!(Part::LeftLeg.holds_joint(L_HIP) && Part::Torso.holds_joint(ROOT));
        assert!(!Part::LeftLeg.holds_joint(ROOT));
    }

    #[test]
    fn limbs_in_the_body_plane_keep_legs_behind_and_arms_in_front() {
        assert_eq!(
            DrawOrder::from_depths([0.0, 0.001, -0.001, 0.0], 0.02),
            DrawOrder::default()
        );
        assert!(DrawOrder::default().is_behind(Part::LeftLeg));
        assert!(!DrawOrder::default().is_behind(Part::RightArm));
    }

    #[test]
    fn limbs_off_the_body_plane_sort_far_to_near_around_the_torso() {
        // Right arm behind, left arm in front, right leg in front (nearer than the left
        // arm), left leg far behind.
        let order = DrawOrder::from_depths([-0.3, 0.2, 0.4, -0.5], 0.02);
        assert_eq!(
            order,
            DrawOrder([
                Part::LeftLeg,
                Part::RightArm,
                Part::Torso,
                Part::LeftArm,
                Part::RightLeg,
            ])
        );
        assert!(order.is_behind(Part::RightArm) && !order.is_behind(Part::RightLeg));
        // A limb with no usable depth keeps its default side.
        let nan = DrawOrder::from_depths([f32::NAN, 0.0, 0.0, f32::INFINITY], 0.02);
        assert_eq!(nan, DrawOrder::default());
    }

    #[test]
    fn seams_overlap_legs_under_the_body_and_the_body_under_arms() {
        // Torso, right arm, left leg: three triangles in a fan around vertex 0.
        let mesh = Mesh {
            vertices: vec![
                Point::new(0.0, 0.0),
                Point::new(10.0, 0.0),
                Point::new(0.0, 10.0),
                Point::new(-10.0, 0.0),
                Point::new(0.0, -10.0),
            ],
            triangles: vec![[0, 1, 2], [0, 2, 3], [0, 3, 4]],
        };
        let parts = [Part::Torso, Part::RightArm, Part::LeftLeg];
        assert_eq!(
            seam_overlaps(&mesh, &parts),
            vec![([0, 1, 2], Part::LeftLeg), ([0, 2, 3], Part::Torso)]
        );
    }
}
