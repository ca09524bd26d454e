//! One layer of the scene as a mesh: a quad per pixel, vertices at pixel corners.
//!
//! A corner is shared by up to four pixels. The pixels around a corner that are joined
//! (not cut apart, see [`super::edges`]) share one vertex there, at their mean disparity;
//! pixels cut apart get a vertex each. So the mesh is watertight across smooth surfaces
//! and open along depth edges, and no triangle ever spans an edge: every triangle
//! belongs to one pixel. At the start pose each quad covers exactly its pixel, with that
//! pixel's colour, which is why the first frame reproduces the photo.

use super::edges::Cuts;

/// A mesh vertex: a pixel corner in photo coordinates (the photo spans `[0, w]×[0, h]`)
/// and its scene disparity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vertex {
    /// Horizontal position in photo pixels.
    pub x: f32,
    /// Vertical position in photo pixels (down).
    pub y: f32,
    /// Scene disparity (inverse depth, nearest content = 1).
    pub disparity: f32,
}

/// One pixel of a layer: four corner vertices and a colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad {
    /// Vertex indices: top-left, top-right, bottom-right, bottom-left.
    pub corners: [u32; 4],
    /// The pixel's colour.
    pub colour: [u8; 3],
    /// The pixel's column in the layer grid.
    pub x: u32,
    /// The pixel's row in the layer grid.
    pub y: u32,
}

impl Quad {
    /// The quad's two triangles (vertex indices), both in the same winding.
    pub fn triangles(&self) -> [[u32; 3]; 2] {
        let [tl, tr, br, bl] = self.corners;
        [[tl, tr, br], [tl, br, bl]]
    }
}

/// A mesh layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Vertices.
    pub vertices: Vec<Vertex>,
    /// One quad per pixel of the layer.
    pub quads: Vec<Quad>,
}

impl Layer {
    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.quads.len() * 2
    }
}

/// The grid a layer is built from.
pub struct Grid<'a> {
    /// Grid width (the padded photo).
    pub width: usize,
    /// Grid height.
    pub height: usize,
    /// Padding on each side, in pixels (grid `(margin, margin)` is photo `(0, 0)`).
    pub margin: usize,
    /// Which pixels belong to the layer.
    pub member: &'a [bool],
    /// Scene disparity per pixel.
    pub disparity: &'a [f32],
    /// Colour per pixel.
    pub colour: &'a [[u8; 3]],
    /// Cut links.
    pub cuts: &'a Cuts,
}

/// Builds the layer's mesh (see the module docs).
pub fn build(grid: &Grid<'_>) -> Layer {
    let (w, h) = (grid.width, grid.height);
    let mut corners = vec![[u32::MAX; 4]; w * h];
    let mut vertices = Vec::new();
    for cy in 0..=h {
        for cx in 0..=w {
            // Around the corner: 0 = TL, 1 = TR, 2 = BL, 3 = BR pixel.
            let around = [
                (cx as i64 - 1, cy as i64 - 1),
                (cx as i64, cy as i64 - 1),
                (cx as i64 - 1, cy as i64),
                (cx as i64, cy as i64),
            ];
            let mut idx = [usize::MAX; 4];
            for (k, &(x, y)) in around.iter().enumerate() {
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let i = y as usize * w + x as usize;
                    if grid.member[i] {
                        idx[k] = i;
                    }
                }
            }
            if idx.iter().all(|&i| i == usize::MAX) {
                continue;
            }
            // Union-find over the (at most) four pixels.
            let mut parent = [0usize, 1, 2, 3];
            fn find(parent: &mut [usize; 4], mut a: usize) -> usize {
                while parent[a] != a {
                    a = parent[a];
                }
                a
            }
            let joined = |a: usize, b: usize, dx: i64, dy: i64| {
                idx[a] != usize::MAX
                    && idx[b] != usize::MAX
                    && !grid
                        .cuts
                        .is_cut(around[a].0 as usize, around[a].1 as usize, dx, dy)
            };
            let pairs = [
                (0, 1, 1, 0),
                (2, 3, 1, 0),
                (0, 2, 0, 1),
                (1, 3, 0, 1),
                (0, 3, 1, 1),
                (1, 2, -1, 1),
            ];
            for &(a, b, dx, dy) in &pairs {
                if joined(a, b, dx, dy) {
                    let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                    if ra != rb {
                        parent[ra] = rb;
                    }
                }
            }
            // One vertex per group, at the group's mean disparity.
            let mut group_vertex = [u32::MAX; 4];
            for k in 0..4 {
                if idx[k] == usize::MAX {
                    continue;
                }
                let root = find(&mut parent, k);
                if group_vertex[root] == u32::MAX {
                    let mut sum = 0f32;
                    let mut n = 0f32;
                    for (m, &pixel) in idx.iter().enumerate() {
                        if pixel != usize::MAX && find(&mut parent, m) == root {
                            sum += grid.disparity[pixel];
                            n += 1.0;
                        }
                    }
                    group_vertex[root] = vertices.len() as u32;
                    vertices.push(Vertex {
                        x: cx as f32 - grid.margin as f32,
                        y: cy as f32 - grid.margin as f32,
                        disparity: sum / n,
                    });
                }
                // The corner's role for pixel k: TL pixel -> its BR corner, etc.
                let role = [2, 3, 1, 0][k];
                corners[idx[k]][role] = group_vertex[root];
            }
        }
    }
    let quads = (0..w * h)
        .filter(|&i| grid.member[i])
        .map(|i| Quad {
            corners: corners[i],
            colour: grid.colour[i],
            x: (i % w) as u32,
            y: (i / w) as u32,
        })
        .collect();
    Layer { vertices, quads }
}

#[cfg(test)]
mod tests {
    use super::super::edges::{EdgeThresholds, detect};
    use super::*;

    #[test]
    fn a_smooth_grid_shares_every_corner_and_a_step_splits_the_corners_on_it() {
        let (w, h) = (4usize, 3usize);
        let member = vec![true; w * h];
        let colour = vec![[1u8, 2, 3]; w * h];
        let flat = vec![0.5f32; w * h];
        let cuts = Cuts::none(w, h);
        let layer = build(&Grid {
            width: w,
            height: h,
            margin: 0,
            member: &member,
            disparity: &flat,
            colour: &colour,
            cuts: &cuts,
        });
        assert_eq!(layer.vertices.len(), (w + 1) * (h + 1));
        assert_eq!(layer.quads.len(), w * h);

        // Columns 0-1 near, 2-3 far: the 4 corners on the boundary column are doubled.
        let step: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 2 { 1.0 } else { 0.3 })
            .collect();
        let t = EdgeThresholds {
            ratio: 0.05,
            step: 0.05,
        };
        let cuts = detect(&step, w, h, t, None);
        let layer = build(&Grid {
            width: w,
            height: h,
            margin: 0,
            member: &member,
            disparity: &step,
            colour: &colour,
            cuts: &cuts,
        });
        assert_eq!(layer.vertices.len(), (w + 1) * (h + 1) + (h + 1));
        // No triangle mixes near and far disparities.
        for q in &layer.quads {
            let d: Vec<f32> = q
                .corners
                .iter()
                .map(|&c| layer.vertices[c as usize].disparity)
                .collect();
            assert!(d.iter().all(|&v| v == d[0]), "{d:?}");
        }
    }
}
