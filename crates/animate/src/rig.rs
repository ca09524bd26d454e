//! The rig: the mesh bound to the skeleton. The mesh is first cut between each limb and the
//! parts it touches in the drawing (all but the limb's root at the shoulder or hip), so an arm
//! drawn against the body can swing away from it. Handles (mesh vertices at the joints and at
//! the midpoints of the bones that do not start at a shoulder or hip) follow the posed
//! skeleton exactly, carrying their small rest offset from the anchor with the bone; every
//! other vertex starts from linear blend skinning (two nearest bones) and is then relaxed by
//! as-rigid-as-possible deformation (local rotations / global prefactored Laplacian solve,
//! Sorkine–Alexa 2007).

use crate::AnimateError;
use crate::geom::{Point, dist_to_segment};
use crate::mesh::Mesh;
use crate::skeleton::{
    Joints, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, PARENTS, R_ELBOW, R_FOOT, R_HAND,
    R_HIP, R_KNEE, R_SHOULDER, ROOT,
};
use crate::sparse::Cholesky;

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
    /// Each handle's rest offset from its anchor, and the bone (child joint) whose rotation
    /// carries that offset (`None` for the root).
    handle_offsets: Vec<(Point, Option<usize>)>,
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
    /// Per-triangle drawing layer (0 = back); arms draw over the body.
    pub layers: Vec<u8>,
}

/// Whether the bone ending at joint `c` starts at a shoulder or a hip (upper arm, thigh).
/// Such a bone's midpoint is not pinned: with both the joint and the midpoint fixed, the
/// whole turn of the limb (up to 150° for a raised arm brought down) would have to happen in
/// the one ring of triangles around the shoulder, which then folds into the armpit. Left
/// free, the turn spreads over the limb's root between the shoulder and the elbow handles.
fn limb_root(c: usize) -> bool {
    matches!(c, R_ELBOW | L_ELBOW | R_KNEE | L_KNEE)
}

/// Bones with a usable length: child joint indices.
fn bones(j: &Joints) -> Vec<usize> {
    (0..16)
        .filter(|&c| PARENTS[c].is_some_and(|p| j[p].dist(j[c]) > 1.0))
        .collect()
}

/// Linear blend skinning weights: the two nearest bones, inverse-square distance weights.
fn skin_weights(vertices: &[Point], joints: &Joints) -> Vec<[(usize, f32); 2]> {
    let bl = bones(joints);
    vertices
        .iter()
        .map(|&p| {
            let mut d: Vec<(usize, f32)> = bl
                .iter()
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
        .collect()
}

/// Body part of a bone (child joint): 0 body, 1 right arm, 2 left arm, 3 right leg, 4 left leg.
fn part(c: usize) -> usize {
    match c {
        R_ELBOW | R_HAND => 1,
        L_ELBOW | L_HAND => 2,
        R_KNEE | R_FOOT => 3,
        L_KNEE | L_FOOT => 4,
        _ => 0,
    }
}

/// The joint a limb part hangs from (shoulder or hip).
fn part_root(k: usize) -> usize {
    [ROOT, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP][k]
}

/// Cut the mesh between each limb and whatever it touches in the drawing (an arm drawn along
/// the body, the web the mask fills in an armpit or between the legs), except within `keep`
/// of the limb's shoulder or hip, where it stays attached. Each triangle belongs to the part
/// most of its vertices are bound to; a vertex shared by parts farther than `keep` from the
/// limb's root is split into one copy per part. Returns the cut mesh and, per vertex, the
/// original vertex it copies and the part it belongs to (for a copy: the part of the
/// triangles that use it). Handles keep their vertex on their own part.
fn cut_limbs(
    mesh: &Mesh,
    skin: &[[(usize, f32); 2]],
    joints: &Joints,
    handles: &[(usize, Anchor)],
    keep: f32,
) -> (Mesh, Vec<(usize, usize)>) {
    let label = |v: usize| {
        let b = skin[v][0].0;
        if b == usize::MAX { 0 } else { part(b) }
    };
    let tri_part: Vec<usize> = mesh
        .triangles
        .iter()
        .map(|t| {
            let l = t.map(|v| label(v as usize));
            if l[0] == l[1] || l[0] == l[2] {
                l[0]
            } else if l[1] == l[2] {
                l[1]
            } else {
                0
            }
        })
        .collect();
    let n = mesh.vertices.len();
    let mut home = vec![usize::MAX; n];
    for &(v, an) in handles {
        home[v] = part(an.b);
    }
    let mut parts_at = vec![0u8; n];
    for (t, tri) in mesh.triangles.iter().enumerate() {
        for &v in tri {
            parts_at[v as usize] |= 1 << tri_part[t];
        }
    }
    for v in 0..n {
        if home[v] == usize::MAX {
            home[v] = (0..5).find(|k| parts_at[v] & (1 << k) != 0).unwrap_or(0);
        }
    }
    let mut vertices = mesh.vertices.clone();
    let mut origin: Vec<(usize, usize)> = (0..n).map(|v| (v, home[v])).collect();
    let mut copy = std::collections::HashMap::new();
    let mut triangles = mesh.triangles.clone();
    for (t, tri) in triangles.iter_mut().enumerate() {
        let k = tri_part[t];
        for v in tri.iter_mut() {
            let o = *v as usize;
            let root = if k == 0 {
                part_root(home[o])
            } else {
                part_root(k)
            };
            if k == home[o] || mesh.vertices[o].dist(joints[root]) <= keep {
                continue;
            }
            let id = *copy.entry((o, k)).or_insert_with(|| {
                vertices.push(mesh.vertices[o]);
                origin.push((o, k));
                vertices.len() - 1
            });
            *v = id as u32;
        }
    }
    // A piece the cut left without a handle (a sliver bound to a limb inside the body) is
    // sewn back on.
    let mut uf: Vec<usize> = (0..vertices.len()).collect();
    fn find(uf: &mut [usize], mut a: usize) -> usize {
        while uf[a] != a {
            uf[a] = uf[uf[a]];
            a = uf[a];
        }
        a
    }
    for t in &triangles {
        for k in 1..3 {
            let (a, b) = (find(&mut uf, t[0] as usize), find(&mut uf, t[k] as usize));
            uf[a] = b;
        }
    }
    let mut anchored = vec![false; vertices.len()];
    for &(v, _) in handles {
        let r = find(&mut uf, v);
        anchored[r] = true;
    }
    for t in &mut triangles {
        let r = find(&mut uf, t[0] as usize);
        if !anchored[r] {
            *t = t.map(|v| origin[v as usize].0 as u32);
        }
    }
    // Drop copies no triangle uses any more.
    let mut used = vec![false; vertices.len()];
    for t in &triangles {
        for &v in t {
            used[v as usize] = true;
        }
    }
    let mut new_id = vec![u32::MAX; vertices.len()];
    let (mut kept_v, mut kept_o) = (Vec::new(), Vec::new());
    for v in 0..vertices.len() {
        if v < n || used[v] {
            new_id[v] = kept_v.len() as u32;
            kept_v.push(vertices[v]);
            kept_o.push(origin[v]);
        }
    }
    for t in &mut triangles {
        *t = t.map(|v| new_id[v as usize]);
    }
    (
        Mesh {
            vertices: kept_v,
            triangles,
        },
        kept_o,
    )
}

impl Rig {
    /// Bind `mesh` to the rest skeleton `joints`. `snap` is the mesh's edge length: anchors
    /// closer than that to a pinned one stay free, vertices within half of it stand in for an
    /// anchor.
    pub fn new(mesh: Mesh, joints: Joints, snap: f32) -> Result<Rig, AnimateError> {
        // Pin joints (and midpoints of long bones, save upper arms and thighs) that are mesh
        // vertices; a joint crowding an already pinned one (a stick figure's shoulders at its
        // chest) stays free, as pinning both would fold the few triangles between them.
        let mut handles: Vec<(usize, Anchor)> = Vec::new();
        let mut pinned: Vec<Point> = Vec::new();
        for an in anchors() {
            if an.a != an.b && (joints[an.a].dist(joints[an.b]) < 2.5 * snap || limb_root(an.b)) {
                continue;
            }
            let p = an.at(&joints);
            if pinned.iter().any(|q| q.dist(p) < snap) {
                continue;
            }
            let (v, d) = mesh
                .vertices
                .iter()
                .enumerate()
                .map(|(i, q)| (i, q.dist(p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .ok_or_else(|| AnimateError::Mesh("empty mesh".into()))?;
            if d <= 0.5 * snap && !handles.iter().any(|h| h.0 == v) {
                handles.push((v, an));
                pinned.push(p);
            }
        }
        if handles.is_empty() {
            return Err(AnimateError::Mesh("no joint lies on the figure".into()));
        }
        // Limbs come free of what they touch in the drawing beyond a mesh edge from their root.
        let skin0 = skin_weights(&mesh.vertices, &joints);
        let (mesh, origin) = cut_limbs(&mesh, &skin0, &joints, &handles, snap);
        let n = mesh.vertices.len();
        // A copy made by the cut follows its own part's bone where it was bound to one.
        let skin: Vec<[(usize, f32); 2]> = origin
            .iter()
            .enumerate()
            .map(|(v, &(o, k))| {
                let s = skin0[o];
                match s.iter().find(|(b, _)| *b != usize::MAX && part(*b) == k) {
                    Some(&(b, _)) if v != o => [(b, 1.0), (b, 0.0)],
                    _ => s,
                }
            })
            .collect();
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
        let mut free = vec![0usize; n];
        let mut nfree = 0;
        for (i, f) in free.iter_mut().enumerate() {
            if handles.iter().any(|h| h.0 == i) {
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
        let layers = mesh
            .triangles
            .iter()
            .map(|t| {
                let c = (0..3).map(|k| skin[t[k] as usize][0].0).collect::<Vec<_>>();
                u8::from(c.iter().all(|&b| (4..=9).contains(&b)))
            })
            .collect();
        // A handle vertex may sit a little off its anchor (the mesh snaps anchors to nearby
        // vertices); the offset turns with the bone so the rest pose deforms to itself.
        let handle_offsets = handles
            .iter()
            .map(|&(v, an)| {
                let bone = if an.a != an.b {
                    Some(an.b)
                } else {
                    PARENTS[an.a].map(|_| an.a)
                };
                (mesh.vertices[v] - an.at(&joints), bone)
            })
            .collect();
        Ok(Rig {
            mesh,
            rest_joints: joints,
            handles,
            handle_offsets,
            skin,
            nb_start,
            nb,
            free,
            factor,
            boundary,
            vt_start,
            vt,
            layers,
        })
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
        for (&(v, an), &(off, bone)) in self.handles.iter().zip(&self.handle_offsets) {
            let off = bone.map_or(off, |b| off.rotate(xf[b].0, xf[b].1));
            x[v] = an.at(pose) + off;
        }
        let nfree = n - self.handles.len();
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
        x
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
