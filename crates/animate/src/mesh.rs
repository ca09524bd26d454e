//! Meshing the figure: trace the outline of the (slightly grown) mask, simplify it, and fill it
//! with a refined constrained Delaunay triangulation (spade) that also holds the rig's handle
//! points as vertices.

use serde::{Deserialize, Serialize};
use spade::{
    AngleLimit, ConstrainedDelaunayTriangulation, Point2, RefinementParameters, Triangulation,
};

use crate::AnimateError;
use crate::geom::{Point, signed_area2};
use crate::segment::{Mask, fill_holes};

/// A triangle mesh in the character's (work image) pixel coordinates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mesh {
    /// Vertex positions.
    pub vertices: Vec<Point>,
    /// Triangles as vertex indices, all with positive [`signed_area2`].
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// Twice the signed area of each triangle for the given vertex positions.
    pub fn signed_areas(&self, positions: &[Point]) -> Vec<f32> {
        self.triangles
            .iter()
            .map(|t| {
                signed_area2(
                    positions[t[0] as usize],
                    positions[t[1] as usize],
                    positions[t[2] as usize],
                )
            })
            .collect()
    }
}

/// Outline margin (pixels) the mesh keeps around the mask, so that the texture's own alpha
/// draws the silhouette (anti-aliased) rather than the polygon.
const GROW: u32 = 2;

/// Triangulate the figure. `extra` points inside the outline become vertices (rig handles).
pub fn triangulate(mask: &Mask, extra: &[Point], target_edge: f32) -> Result<Mesh, AnimateError> {
    let grown = fill_holes(&mask.dilate(GROW));
    let contour = trace(&grown).ok_or_else(|| AnimateError::Mesh("empty outline".into()))?;
    let poly = drop_short(&simplify_closed(&contour, 1.2), target_edge * 0.25);
    if poly.len() < 3 {
        return Err(AnimateError::Mesh("outline too small".into()));
    }
    let mut cdt: ConstrainedDelaunayTriangulation<Point2<f64>> =
        ConstrainedDelaunayTriangulation::new();
    let ins = |cdt: &mut ConstrainedDelaunayTriangulation<Point2<f64>>, p: Point| {
        cdt.insert(Point2::new(f64::from(p.x), f64::from(p.y)))
            .map_err(|e| AnimateError::Mesh(format!("{e:?}")))
    };
    let handles: Vec<_> = poly
        .iter()
        .map(|&p| ins(&mut cdt, p))
        .collect::<Result<_, _>>()?;
    for k in 0..handles.len() {
        let (a, b) = (handles[k], handles[(k + 1) % handles.len()]);
        if a != b && cdt.can_add_constraint(a, b) {
            cdt.add_constraint(a, b);
        }
    }
    for &p in extra {
        if inside(&poly, p) {
            ins(&mut cdt, p)?;
        }
    }
    let max_area = f64::from(target_edge * target_edge) * 0.5;
    let params = RefinementParameters::<f64>::new()
        .with_angle_limit(AngleLimit::from_deg(25.0))
        .with_max_allowed_area(max_area)
        .with_min_required_area(max_area / 12.0)
        .with_max_additional_vertices(6000)
        .exclude_outer_faces(true);
    cdt.refine(params);

    let mut index = vec![u32::MAX; cdt.num_vertices()];
    let mut vertices = Vec::new();
    let mut triangles = Vec::new();
    for face in cdt.inner_faces() {
        let vs = face.vertices();
        let p: Vec<Point> = vs
            .iter()
            .map(|v| Point::new(v.position().x as f32, v.position().y as f32))
            .collect();
        let c = Point::new(
            (p[0].x + p[1].x + p[2].x) / 3.0,
            (p[0].y + p[1].y + p[2].y) / 3.0,
        );
        if !inside(&poly, c) || signed_area2(p[0], p[1], p[2]).abs() < 1e-4 {
            continue;
        }
        let mut t = [0u32; 3];
        for (k, v) in vs.iter().enumerate() {
            let i = v.fix().index();
            if index[i] == u32::MAX {
                index[i] = vertices.len() as u32;
                vertices.push(p[k]);
            }
            t[k] = index[i];
        }
        if signed_area2(p[0], p[1], p[2]) < 0.0 {
            t.swap(1, 2);
        }
        triangles.push(t);
    }
    if triangles.is_empty() {
        return Err(AnimateError::Mesh("no triangles inside the outline".into()));
    }
    Ok(largest_piece(Mesh {
        vertices,
        triangles,
    }))
}

/// Keep the largest edge-connected set of triangles (and only the vertices it uses).
fn largest_piece(m: Mesh) -> Mesh {
    let n = m.vertices.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for t in &m.triangles {
        let a = find(&mut parent, t[0] as usize);
        for &v in &t[1..] {
            let b = find(&mut parent, v as usize);
            parent[b] = a;
        }
    }
    let mut count = vec![0usize; n];
    for t in &m.triangles {
        let r = find(&mut parent, t[0] as usize);
        count[r] += 1;
    }
    let best = (0..n).max_by_key(|&i| count[i]).unwrap_or(0);
    let mut index = vec![u32::MAX; n];
    let mut out = Mesh::default();
    for t in &m.triangles {
        if find(&mut parent, t[0] as usize) != best {
            continue;
        }
        let mut nt = [0u32; 3];
        for (k, &v) in t.iter().enumerate() {
            if index[v as usize] == u32::MAX {
                index[v as usize] = out.vertices.len() as u32;
                out.vertices.push(m.vertices[v as usize]);
            }
            nt[k] = index[v as usize];
        }
        out.triangles.push(nt);
    }
    out
}

/// Drop polygon vertices closer than `min` to the previously kept one (short outline edges
/// force tiny triangles, which fold first when the mesh is squeezed).
fn drop_short(poly: &[Point], min: f32) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(poly.len());
    for &p in poly {
        if out.last().is_none_or(|q| q.dist(p) >= min) {
            out.push(p);
        }
    }
    while out.len() > 3 && out[0].dist(out[out.len() - 1]) < min {
        out.pop();
    }
    out
}

/// Even-odd point-in-polygon test.
pub fn inside(poly: &[Point], p: Point) -> bool {
    let mut c = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            c = !c;
        }
    }
    c
}

/// Moore-neighbour tracing of the outer boundary (pixel centres) of a one-piece mask.
pub fn trace(m: &Mask) -> Option<Vec<Point>> {
    const D: [(i64, i64); 8] = [
        (-1, 0),
        (-1, -1),
        (0, -1),
        (1, -1),
        (1, 0),
        (1, 1),
        (0, 1),
        (-1, 1),
    ];
    let w = m.width as usize;
    let first = m.data.iter().position(|&v| v != 0)?;
    let start = ((first % w) as i64, (first / w) as i64);
    let mut out = vec![start];
    let mut cur = start;
    let mut back = 0usize; // direction (index in D) from cur to the background pixel we came from
    let limit = 4 * m.data.len() + 8;
    for _ in 0..limit {
        let mut found = None;
        for k in 1..=8 {
            let d = (back + k) % 8;
            let q = (cur.0 + D[d].0, cur.1 + D[d].1);
            if m.get(q.0, q.1) {
                let prev = (back + k - 1) % 8;
                let pb = (cur.0 + D[prev].0 - q.0, cur.1 + D[prev].1 - q.1);
                let nb = D.iter().position(|&x| x == pb).unwrap_or(0);
                found = Some((q, nb));
                break;
            }
        }
        let Some((q, nb)) = found else { break };
        if q == start && out.len() > 1 {
            break;
        }
        out.push(q);
        cur = q;
        back = nb;
    }
    Some(
        out.into_iter()
            .map(|(x, y)| Point::new(x as f32 + 0.5, y as f32 + 0.5))
            .collect(),
    )
}

/// Douglas–Peucker simplification of a closed polygon.
pub fn simplify_closed(pts: &[Point], eps: f32) -> Vec<Point> {
    if pts.len() < 4 {
        return pts.to_vec();
    }
    // Split at the point farthest from the first one.
    let far = (0..pts.len())
        .max_by(|&a, &b| pts[0].dist(pts[a]).total_cmp(&pts[0].dist(pts[b])))
        .unwrap_or(0);
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[far] = true;
    let mut closed: Vec<Point> = pts.to_vec();
    closed.push(pts[0]);
    let mut k2 = vec![false; closed.len()];
    k2[0] = true;
    k2[far] = true;
    k2[closed.len() - 1] = true;
    dp(&closed, 0, far, eps, &mut k2);
    dp(&closed, far, closed.len() - 1, eps, &mut k2);
    keep.copy_from_slice(&k2[..pts.len()]);
    pts.iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect()
}

fn dp(p: &[Point], a: usize, b: usize, eps: f32, keep: &mut [bool]) {
    if b <= a + 1 {
        return;
    }
    let (mut best, mut bi) = (0.0, a);
    for i in a + 1..b {
        let d = crate::geom::dist_to_segment(p[i], p[a], p[b]);
        if d > best {
            best = d;
            bi = i;
        }
    }
    if best > eps {
        keep[bi] = true;
        dp(p, a, bi, eps, keep);
        dp(p, bi, b, eps, keep);
    }
}
