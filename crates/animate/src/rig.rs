//! The rig: the mesh bound to the skeleton. The mesh is cut into body parts (torso with head,
//! four limbs; see [`crate::parts`]) so a limb moves without dragging the body. Handles (mesh
//! vertices at the joints and bone midpoints, pinned only in the parts those bones move)
//! follow the posed skeleton, keeping their offset from the anchor they stand in for; the
//! middle of every limb bone (15–85 % of its length) moves rigidly with its bone, so a limb
//! bends at its joints and not along its bones (where a mesh edge would join both bones of a
//! limb rigidly, its end nearer the joint stays free: [`buffer_bends`]); every other vertex
//! starts from linear blend
//! skinning (two nearest bones of its own part) and is then relaxed by as-rigid-as-possible
//! deformation (local rotations / global prefactored Laplacian solve, Sorkine–Alexa 2007).

use crate::AnimateError;
use crate::geom::{Point, dist_to_segment};
use crate::mesh::Mesh;
use crate::parts::{Part, bones};
use crate::skeleton::{Joints, PARENTS};
use crate::sparse::Cholesky;

/// The stretch of each limb bone (fractions of its length from the parent joint) whose
/// vertices move rigidly with the bone; the rest of the limb, around the joints, bends.
const RIGID_SPAN: (f32, f32) = (0.15, 0.85);

/// `rigid` without the vertices that would join two bones of a limb rigidly: where an edge
/// links a vertex held by one bone to one held by the other bone of the same limb (a thick
/// limb's outline across its elbow or knee), the end nearer the joint between them goes free,
/// so the bend has a free vertex to fold into instead of pressing two rigid ends together.
fn buffer_bends(
    rigid: Vec<(usize, usize)>,
    rest: &[Point],
    adj: &[Vec<usize>],
    joints: &Joints,
) -> Vec<(usize, usize)> {
    let mut bone_of = vec![usize::MAX; rest.len()];
    for &(v, b) in &rigid {
        bone_of[v] = b;
    }
    let mut freed = vec![false; rest.len()];
    for &(v, b) in &rigid {
        for &w in &adj[v] {
            let c = bone_of[w];
            if c == usize::MAX || c == b || Part::of_bone(c) != Part::of_bone(b) {
                continue;
            }
            // The joint between the two bones: the child of one is the parent of the other.
            let joint = if PARENTS[c] == Some(b) {
                b
            } else if PARENTS[b] == Some(c) {
                c
            } else {
                continue;
            };
            let near = if rest[v].dist(joints[joint]) <= rest[w].dist(joints[joint]) {
                v
            } else {
                w
            };
            freed[near] = true;
        }
    }
    rigid.into_iter().filter(|&(v, _)| !freed[v]).collect()
}

/// A point that follows the skeleton: `lerp(joint a, joint b, t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Parent joint index.
    pub a: usize,
    /// Child joint index.
    pub b: usize,
    /// Position along the bone (0 = a).
    pub t: f32,
}

impl Anchor {
    /// The anchor's position for a pose.
    pub fn at(&self, j: &Joints) -> Point {
        j[self.a].lerp(j[self.b], self.t)
    }
}

/// The anchor points a rig pins to the skeleton: every joint and every bone's midpoint.
pub fn anchors() -> Vec<Anchor> {
    let mut v: Vec<Anchor> = (0..16).map(|i| Anchor { a: i, b: i, t: 0.0 }).collect();
    for (c, p) in PARENTS.iter().enumerate() {
        if let Some(p) = *p {
            v.push(Anchor { a: p, b: c, t: 0.5 });
        }
    }
    v
}

/// A mesh bound to a rest skeleton, ready to deform.
#[derive(Debug, Clone)]
pub struct Rig {
    /// The rest mesh.
    pub mesh: Mesh,
    /// Rest joint positions.
    pub rest_joints: Joints,
    /// `(vertex, anchor)` for each pinned vertex.
    pub handles: Vec<(usize, Anchor)>,
    /// Where each handle's vertex lies relative to its anchor at rest (up to half an edge
    /// off: the part's nearest vertex stands in for the anchor), kept in every pose turned
    /// with the vertex's nearest bone, so pinning never drags a part out of its drawn shape.
    handle_offsets: Vec<Point>,
    /// `(vertex, bone)`: limb vertices pinned to follow one bone rigidly (the middle of each
    /// limb bone, [`RIGID_SPAN`]).
    rigid: Vec<(usize, usize)>,
    /// Skinning: up to two `(bone child joint, weight)` per vertex.
    skin: Vec<[(usize, f32); 2]>,
    /// Vertex neighbours (CSR).
    nb_start: Vec<usize>,
    nb: Vec<usize>,
    /// Free-variable index of each vertex (`usize::MAX` for handles).
    free: Vec<usize>,
    factor: Cholesky,
    /// Whether each vertex lies on the mesh outline.
    boundary: Vec<bool>,
    /// Triangles around each vertex (CSR).
    vt_start: Vec<usize>,
    vt: Vec<usize>,
    /// Triangles from this index on are seam fills: copies of the triangles around a seam
    /// (see [`crate::parts::seam_overlaps`]) that close the gap a turning limb opens. They are
    /// drawn first, behind every part, so they fill gaps without covering a part in any order.
    pub fills_from: usize,
    /// The body part of each triangle.
    pub parts: Vec<Part>,
}

/// The parts that move an anchor: those holding its joint, or the part of its bone.
fn movers(an: &Anchor) -> Vec<Part> {
    if an.a == an.b {
        Part::ALL
            .into_iter()
            .filter(|p| p.holds_joint(an.a))
            .collect()
    } else {
        vec![Part::of_bone(an.b)]
    }
}

/// Pin, in each part, the joints and midpoints of long bones that move it (or that no part of
/// the mesh moves) to the part's nearest vertex within half an edge; an anchor crowding one
/// already pinned in the part (a stick figure's shoulders at its chest) stays free, as pinning
/// both would fold the few triangles between them.
fn place_handles(
    mesh: &Mesh,
    vertex_part: &[Part],
    joints: &Joints,
    snap: f32,
) -> Result<Vec<(usize, Anchor)>, AnimateError> {
    let present: Vec<Part> = Part::ALL
        .into_iter()
        .filter(|p| vertex_part.contains(p))
        .collect();
    let mut handles: Vec<(usize, Anchor)> = Vec::new();
    for &part in &present {
        let mut pinned: Vec<Point> = Vec::new();
        for an in anchors() {
            if an.a != an.b && joints[an.a].dist(joints[an.b]) < 2.5 * snap {
                continue;
            }
            let owners = movers(&an);
            if !owners.contains(&part) && owners.iter().any(|o| present.contains(o)) {
                continue;
            }
            let p = an.at(joints);
            if pinned.iter().any(|q| q.dist(p) < snap) {
                continue;
            }
            let nearest = mesh
                .vertices
                .iter()
                .zip(vertex_part)
                .enumerate()
                .filter(|(_, (_, vp))| **vp == part)
                .map(|(i, (q, _))| (i, q.dist(p)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((v, d)) = nearest
                && d <= 0.5 * snap
                && !handles.iter().any(|h| h.0 == v)
            {
                handles.push((v, an));
                pinned.push(p);
            }
        }
    }
    if handles.is_empty() {
        return Err(AnimateError::Mesh("no joint lies on the figure".into()));
    }
    Ok(handles)
}

impl Rig {
    /// Bind `mesh`, uncut, as one piece to the rest skeleton `joints`. `snap` is the mesh's
    /// edge length: anchors closer than that to a pinned one stay free, vertices within half
    /// of it stand in for an anchor.
    pub fn new(mesh: Mesh, joints: Joints, snap: f32) -> Result<Rig, AnimateError> {
        let parts = vec![Part::Torso; mesh.triangles.len()];
        Rig::with_parts(mesh, &parts, joints, snap)
    }

    /// Bind `mesh` to the rest skeleton `joints` with each triangle in its body part: the
    /// mesh is cut along the seams between parts, and each part is pinned only to the joints
    /// and bones that move it. Fails when a piece has no handle.
    pub fn with_parts(
        mesh: Mesh,
        parts: &[Part],
        joints: Joints,
        snap: f32,
    ) -> Result<Rig, AnimateError> {
        if mesh.vertices.is_empty() {
            return Err(AnimateError::Mesh("empty mesh".into()));
        }
        let overlaps = crate::parts::seam_overlaps(&mesh, parts);
        let fills_from = mesh.triangles.len();
        let mut parts = parts.to_vec();
        let mut mesh = mesh;
        for (t, p) in overlaps {
            mesh.triangles.push(t);
            parts.push(p);
        }
        let parts = parts.as_slice();
        let (mesh, _) = crate::parts::cut(&mesh, parts);
        let n = mesh.vertices.len();
        let vertex_part = crate::parts::vertex_parts(&mesh, parts);
        let handles = place_handles(&mesh, &vertex_part, &joints, snap)?;
        // Adjacency.
        let mut adj = vec![Vec::new(); n];
        for t in &mesh.triangles {
            for k in 0..3 {
                let (a, b) = (t[k] as usize, t[(k + 1) % 3] as usize);
                adj[a].push(b);
                adj[b].push(a);
            }
        }
        let mut edge_use = std::collections::HashMap::new();
        for t in &mesh.triangles {
            for k in 0..3 {
                let (a, b) = (t[k].min(t[(k + 1) % 3]), t[k].max(t[(k + 1) % 3]));
                *edge_use.entry((a, b)).or_insert(0u8) += 1;
            }
        }
        let mut boundary = vec![false; n];
        for (&(a, b), &c) in &edge_use {
            if c == 1 {
                boundary[a as usize] = true;
                boundary[b as usize] = true;
            }
        }
        let mut around = vec![Vec::new(); n];
        for (ti, t) in mesh.triangles.iter().enumerate() {
            for &v in t {
                around[v as usize].push(ti);
            }
        }
        let mut vt_start = vec![0];
        let mut vt = Vec::new();
        for a in &around {
            vt.extend_from_slice(a);
            vt_start.push(vt.len());
        }
        let mut nb_start = vec![0];
        let mut nb = Vec::new();
        for a in &mut adj {
            a.sort_unstable();
            a.dedup();
            nb.extend_from_slice(a);
            nb_start.push(nb.len());
        }
        let bl = bones(&joints);
        let skin: Vec<[(usize, f32); 2]> = mesh
            .vertices
            .iter()
            .zip(&vertex_part)
            .map(|(&p, &part)| {
                let own = bl.iter().any(|&c| Part::of_bone(c) == part);
                let mut d: Vec<(usize, f32)> = bl
                    .iter()
                    .filter(|&&c| !own || Part::of_bone(c) == part)
                    .filter_map(|&c| {
                        PARENTS[c].map(|pa| (c, dist_to_segment(p, joints[pa], joints[c])))
                    })
                    .collect();
                d.sort_by(|a, b| a.1.total_cmp(&b.1));
                match d.as_slice() {
                    [] => [(usize::MAX, 1.0), (usize::MAX, 0.0)],
                    [a] => [(a.0, 1.0), (a.0, 0.0)],
                    [a, b, ..] => {
                        let (wa, wb) = (1.0 / (a.1 + 1.0).powi(2), 1.0 / (b.1 + 1.0).powi(2));
                        [(a.0, wa / (wa + wb)), (b.0, wb / (wa + wb))]
                    }
                }
            })
            .collect();
        // The straight middle of every limb bone moves with its bone, rigidly: a limb bends at
        // its joints, never along a bone like a hose.
        let rigid: Vec<(usize, usize)> = (0..n)
            .filter(|&v| vertex_part[v] != Part::Torso && !handles.iter().any(|h| h.0 == v))
            .filter_map(|v| {
                let b = skin[v][0].0;
                let parent = PARENTS.get(b).copied().flatten()?;
                let axis = joints[b] - joints[parent];
                let t = (mesh.vertices[v] - joints[parent]).dot(axis) / axis.dot(axis).max(1e-6);
                (Part::of_bone(b) == vertex_part[v] && (RIGID_SPAN.0..=RIGID_SPAN.1).contains(&t))
                    .then_some((v, b))
            })
            .collect();
        let rigid = buffer_bends(rigid, &mesh.vertices, &adj, &joints);
        let mut free = vec![0usize; n];
        let mut nfree = 0;
        for (i, f) in free.iter_mut().enumerate() {
            if handles.iter().any(|h| h.0 == i) || rigid.iter().any(|r| r.0 == i) {
                *f = usize::MAX;
            } else {
                *f = nfree;
                nfree += 1;
            }
        }
        let mut diag = vec![0f64; nfree];
        let mut off = Vec::new();
        for i in 0..n {
            if free[i] == usize::MAX {
                continue;
            }
            diag[free[i]] = adj[i].len() as f64;
            for &j in &adj[i] {
                if j > i && free[j] != usize::MAX {
                    off.push((free[i], free[j], -1.0));
                }
            }
        }
        let factor = Cholesky::factor(nfree, &diag, &off).ok_or_else(|| {
            AnimateError::Mesh("part of the figure is not attached to any joint".into())
        })?;
        let handle_offsets = handles
            .iter()
            .map(|&(v, an)| mesh.vertices[v] - an.at(&joints))
            .collect();
        Ok(Rig {
            mesh,
            rest_joints: joints,
            handles,
            handle_offsets,
            rigid,
            skin,
            nb_start,
            nb,
            free,
            factor,
            boundary,
            vt_start,
            vt,
            fills_from,
            parts: parts.to_vec(),
        })
    }

    /// The part each vertex of the (cut) mesh belongs to.
    pub fn vertex_parts(&self) -> Vec<Part> {
        crate::parts::vertex_parts(&self.mesh, &self.parts)
    }

    /// How many handles pin vertices of `part`.
    pub fn handles_in(&self, part: Part) -> usize {
        let vp = self.vertex_parts();
        self.handles.iter().filter(|h| vp[h.0] == part).count()
    }

    /// Vertex positions for a pose: skinning, then `iterations` ARAP steps.
    pub fn deform(&self, pose: &Joints, iterations: usize) -> Vec<Point> {
        let rest = &self.mesh.vertices;
        let n = rest.len();
        // Bone transforms (rotation + translation) from rest to pose.
        let mut xf = [(1.0f32, 0.0f32, Point::default(), Point::default()); 16];
        for (c, x) in xf.iter_mut().enumerate() {
            if let Some(p) = PARENTS[c] {
                let (r0, r1) = (self.rest_joints[p], self.rest_joints[c]);
                let (q0, q1) = (pose[p], pose[c]);
                let (a, b) = (r1 - r0, q1 - q0);
                let ang = b.y.atan2(b.x) - a.y.atan2(a.x);
                *x = (ang.cos(), ang.sin(), r0, q0);
            }
        }
        let root_shift = pose[0] - self.rest_joints[0];
        let mut x: Vec<Point> = rest
            .iter()
            .zip(&self.skin)
            .map(|(&p, s)| {
                let mut acc = Point::default();
                for &(b, w) in s {
                    let q = if b == usize::MAX {
                        p + root_shift
                    } else {
                        let (c, si, r0, q0) = xf[b];
                        q0 + (p - r0).rotate(c, si)
                    };
                    acc = acc + q * w;
                }
                acc
            })
            .collect();
        for (&(v, an), &offset) in self.handles.iter().zip(&self.handle_offsets) {
            let turned = match self.skin[v][0].0 {
                usize::MAX => offset,
                b => offset.rotate(xf[b].0, xf[b].1),
            };
            x[v] = an.at(pose) + turned;
        }
        let rigid_at: Vec<Point> = self
            .rigid
            .iter()
            .map(|&(v, b)| {
                let (c, si, r0, q0) = xf[b];
                q0 + (rest[v] - r0).rotate(c, si)
            })
            .collect();
        for (&(v, _), &p) in self.rigid.iter().zip(&rigid_at) {
            x[v] = p;
        }
        let nfree = n - self.handles.len() - self.rigid.len();
        let mut rot = vec![(1.0f32, 0.0f32); n];
        let mut bx = vec![0f64; nfree];
        let mut by = vec![0f64; nfree];
        for _ in 0..iterations {
            for (i, r) in rot.iter_mut().enumerate() {
                let (mut a, mut b) = (0.0f32, 0.0f32);
                for &j in &self.nb[self.nb_start[i]..self.nb_start[i + 1]] {
                    let e = rest[i] - rest[j];
                    let e2 = x[i] - x[j];
                    a += e.dot(e2);
                    b += e.cross(e2);
                }
                let l = a.hypot(b);
                *r = if l > 1e-12 {
                    (a / l, b / l)
                } else {
                    (1.0, 0.0)
                };
            }
            for i in 0..n {
                let fi = self.free[i];
                if fi == usize::MAX {
                    continue;
                }
                let (mut sx, mut sy) = (0f64, 0f64);
                for &j in &self.nb[self.nb_start[i]..self.nb_start[i + 1]] {
                    let e = rest[i] - rest[j];
                    let (c, s) = ((rot[i].0 + rot[j].0) * 0.5, (rot[i].1 + rot[j].1) * 0.5);
                    let re = e.rotate(c, s);
                    sx += f64::from(re.x);
                    sy += f64::from(re.y);
                    if self.free[j] == usize::MAX {
                        sx += f64::from(x[j].x);
                        sy += f64::from(x[j].y);
                    }
                }
                bx[fi] = sx;
                by[fi] = sy;
            }
            self.factor.solve(&mut bx);
            self.factor.solve(&mut by);
            for (xi, &fi) in x.iter_mut().zip(&self.free) {
                if fi != usize::MAX {
                    *xi = Point::new(bx[fi] as f32, by[fi] as f32);
                }
            }
        }
        self.unfold(&mut x);
        self.push_through(&mut x);
        self.restore_rigid(&mut x, &rigid_at);
        x
    }

    /// Put the rigid middles of limb bones that untangling moved back where their bones
    /// hold them, wherever that folds no more triangles around the vertex than now.
    fn restore_rigid(&self, x: &mut [Point], rigid_at: &[Point]) {
        let tris = &self.mesh.triangles;
        let flips_at = |x: &[Point], v: usize| {
            self.vt[self.vt_start[v]..self.vt_start[v + 1]]
                .iter()
                .filter(|&&t| {
                    let [a, b, c] = tris[t].map(|i| x[i as usize]);
                    crate::geom::signed_area2(a, b, c) <= 0.0
                })
                .count()
        };
        for _ in 0..3 {
            for (&(v, _), &p) in self.rigid.iter().zip(rigid_at) {
                if x[v] == p {
                    continue;
                }
                let (before, old) = (flips_at(x, v), x[v]);
                x[v] = p;
                if flips_at(x, v) > before {
                    x[v] = old;
                }
            }
        }
    }

    /// Last resort for folds smoothing could not open: move one vertex of a flipped triangle
    /// just across the opposite edge, when that lowers the number of flipped triangles around
    /// it.
    fn push_through(&self, x: &mut [Point]) {
        let tris = &self.mesh.triangles;
        let area = |x: &[Point], t: usize| {
            let [a, b, c] = tris[t].map(|v| x[v as usize]);
            crate::geom::signed_area2(a, b, c)
        };
        let flips_at = |x: &[Point], v: usize| {
            self.vt[self.vt_start[v]..self.vt_start[v + 1]]
                .iter()
                .filter(|&&t| area(x, t) <= 0.0)
                .count()
        };
        for _ in 0..12 {
            let bad: Vec<usize> = (0..tris.len()).filter(|&t| area(x, t) <= 0.0).collect();
            if bad.is_empty() {
                return;
            }
            for t in bad {
                if area(x, t) > 0.0 {
                    continue;
                }
                let mut order: Vec<usize> = (0..3).collect();
                order.sort_by_key(|&k| u8::from(self.free[tris[t][k] as usize] == usize::MAX));
                for k in order {
                    let v = tris[t][k] as usize;
                    let (a, b) = (
                        x[tris[t][(k + 1) % 3] as usize],
                        x[tris[t][(k + 2) % 3] as usize],
                    );
                    let e = b - a;
                    let l = e.len();
                    if l < 1e-6 {
                        continue;
                    }
                    // Foot of v on the edge line, then a little to the positive side.
                    let s = ((x[v] - a).dot(e) / (l * l)).clamp(0.05, 0.95);
                    let normal = Point::new(-e.y, e.x) * (1.0 / l);
                    let rest = self.mesh.vertices[v];
                    let (ra, rb) = (
                        self.mesh.vertices[tris[t][(k + 1) % 3] as usize],
                        self.mesh.vertices[tris[t][(k + 2) % 3] as usize],
                    );
                    let h = (crate::geom::signed_area2(ra, rb, rest) / (ra.dist(rb)).max(1e-6))
                        .abs()
                        * 0.3;
                    let cand = a + e * s + normal * h.max(0.05);
                    let before = flips_at(x, v);
                    let old = x[v];
                    x[v] = cand;
                    if flips_at(x, v) < before {
                        break;
                    }
                    x[v] = old;
                }
            }
        }
    }

    /// Untangle folded triangles: free vertices around each flipped triangle move towards the
    /// centre of their neighbours (outline vertices more gently, so the silhouette barely
    /// shrinks; pinned ones only slightly). A round is kept only if it reduces the number of flipped triangles.
    fn unfold(&self, x: &mut [Point]) {
        let tris = &self.mesh.triangles;
        let flipped = |x: &[Point]| -> Vec<usize> {
            (0..tris.len())
                .filter(|&t| {
                    let [a, b, c] = tris[t].map(|v| x[v as usize]);
                    crate::geom::signed_area2(a, b, c) <= 0.0
                })
                .collect()
        };
        let mut bad = flipped(x);
        for round in 0..40 {
            if bad.is_empty() {
                return;
            }
            let mut region: Vec<usize> = bad
                .iter()
                .flat_map(|&t| tris[t].map(|v| v as usize))
                .collect();
            for _ in 0..(1 + round / 6) {
                let more: Vec<usize> = region
                    .iter()
                    .flat_map(|&i| {
                        self.nb[self.nb_start[i]..self.nb_start[i + 1]]
                            .iter()
                            .copied()
                    })
                    .collect();
                region.extend(more);
                region.sort_unstable();
                region.dedup();
            }
            let before: Vec<Point> = region.iter().map(|&i| x[i]).collect();
            for _ in 0..3 {
                for &i in &region {
                    let nbs = &self.nb[self.nb_start[i]..self.nb_start[i + 1]];
                    let mut c = Point::default();
                    for &j in nbs {
                        c = c + x[j];
                    }
                    // Pinned vertices may give a little (a pixel or two) to let a fold open.
                    let k = if self.free[i] == usize::MAX {
                        0.1
                    } else if self.boundary[i] {
                        0.25
                    } else {
                        0.6
                    };
                    x[i] = x[i].lerp(c * (1.0 / nbs.len() as f32), k);
                }
            }
            let now = flipped(x);
            if now.len() > bad.len() {
                // Worse: undo this round, widen the region next time.
                for (&i, &p) in region.iter().zip(&before) {
                    x[i] = p;
                }
                continue;
            }
            bad = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skeleton::{L_ELBOW, L_HAND, L_SHOULDER, R_ELBOW, R_HAND, R_SHOULDER};

    #[test]
    fn an_edge_joining_both_bones_of_a_limb_rigidly_frees_its_end_nearer_the_elbow() {
        let p = Point::new;
        let mut joints = [Point::default(); 16];
        joints[R_SHOULDER] = p(0.0, 0.0);
        joints[R_ELBOW] = p(10.0, 0.0);
        joints[R_HAND] = p(20.0, 0.0);
        joints[L_SHOULDER] = p(0.0, 40.0);
        joints[L_ELBOW] = p(10.0, 40.0);
        joints[L_HAND] = p(20.0, 40.0);
        let rest = vec![
            p(9.0, 3.0),   // 0: upper arm, 3.16 from the elbow
            p(12.0, 3.0),  // 1: forearm, 3.61 from the elbow
            p(5.0, -3.0),  // 2: upper arm, linked only to the upper arm
            p(12.0, 37.0), // 3: the other arm's forearm
            p(11.0, 0.0),  // 4: free
        ];
        let adj = vec![vec![1, 2, 3], vec![0, 4], vec![0], vec![0], vec![1]];
        let rigid = vec![(0, R_ELBOW), (1, R_HAND), (2, R_ELBOW), (3, L_HAND)];
        assert_eq!(
            buffer_bends(rigid, &rest, &adj, &joints),
            vec![(1, R_HAND), (2, R_ELBOW), (3, L_HAND)]
        );
        // The forearm's end nearer the elbow goes free when it is the nearer one.
        let rest = vec![
            p(7.0, 3.0),
            p(11.0, 1.0),
            p(5.0, -3.0),
            p(12.0, 37.0),
            p(11.0, 0.0),
        ];
        let rigid = vec![(0, R_ELBOW), (1, R_HAND), (2, R_ELBOW), (3, L_HAND)];
        assert_eq!(
            buffer_bends(rigid, &rest, &adj, &joints),
            vec![(0, R_ELBOW), (2, R_ELBOW), (3, L_HAND)]
        );
    }
}
