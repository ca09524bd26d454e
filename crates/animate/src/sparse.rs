//! A small sparse symmetric positive-definite solver for the ARAP system: reverse Cuthill–McKee
//! ordering to shrink the envelope, then an envelope (skyline) Cholesky factorisation, factored
//! once per character and reused for every solve.

use std::collections::VecDeque;

/// A prefactored SPD matrix `P A Pᵀ = L Lᵀ` in envelope storage.
#[derive(Debug, Clone)]
pub struct Cholesky {
    n: usize,
    /// perm[k] = original index of the k-th row in the permuted order.
    perm: Vec<usize>,
    /// First column of each permuted row's envelope.
    first: Vec<usize>,
    /// Offset of each row's envelope in `l`.
    start: Vec<usize>,
    l: Vec<f64>,
}

impl Cholesky {
    /// Factor the symmetric matrix given by its diagonal and its off-diagonal entries
    /// `(i, j, value)` (each unordered pair once). `None` if it is not positive definite.
    pub fn factor(n: usize, diag: &[f64], off: &[(usize, usize, f64)]) -> Option<Cholesky> {
        let mut adj = vec![Vec::new(); n];
        for &(i, j, _) in off {
            adj[i].push(j);
            adj[j].push(i);
        }
        let perm = rcm(&adj);
        let mut inv = vec![0; n];
        for (k, &o) in perm.iter().enumerate() {
            inv[o] = k;
        }
        let mut first: Vec<usize> = (0..n).collect();
        for &(i, j, _) in off {
            let (a, b) = (inv[i], inv[j]);
            let (r, c) = if a > b { (a, b) } else { (b, a) };
            first[r] = first[r].min(c);
        }
        let mut start = vec![0; n + 1];
        for r in 0..n {
            start[r + 1] = start[r] + (r - first[r] + 1);
        }
        let mut l = vec![0f64; start[n]];
        let at = |r: usize, c: usize| start[r] + (c - first[r]);
        for r in 0..n {
            l[at(r, r)] = diag[perm[r]];
        }
        for &(i, j, v) in off {
            let (a, b) = (inv[i], inv[j]);
            let (r, c) = if a > b { (a, b) } else { (b, a) };
            l[at(r, c)] += v;
        }
        for i in 0..n {
            for j in first[i]..i {
                let k0 = first[i].max(first[j]);
                let mut s = l[at(i, j)];
                for k in k0..j {
                    s -= l[at(i, k)] * l[at(j, k)];
                }
                l[at(i, j)] = s / l[at(j, j)];
            }
            let mut s = l[at(i, i)];
            for k in first[i]..i {
                s -= l[at(i, k)] * l[at(i, k)];
            }
            if s <= 1e-12 || !s.is_finite() {
                return None;
            }
            l[at(i, i)] = s.sqrt();
        }
        Some(Cholesky {
            n,
            perm,
            first,
            start,
            l,
        })
    }

    /// Solve `A x = b` in place (b in original order).
    pub fn solve(&self, b: &mut [f64]) {
        let n = self.n;
        let mut y: Vec<f64> = self.perm.iter().map(|&o| b[o]).collect();
        for i in 0..n {
            let row = &self.l[self.start[i]..self.start[i + 1]];
            let f = self.first[i];
            let mut s = y[i];
            for (k, &lv) in row[..i - f].iter().enumerate() {
                s -= lv * y[f + k];
            }
            y[i] = s / row[i - f];
        }
        for i in (0..n).rev() {
            let row = &self.l[self.start[i]..self.start[i + 1]];
            let f = self.first[i];
            y[i] /= row[i - f];
            let yi = y[i];
            for (k, &lv) in row[..i - f].iter().enumerate() {
                y[f + k] -= lv * yi;
            }
        }
        for (k, &o) in self.perm.iter().enumerate() {
            b[o] = y[k];
        }
    }
}

/// Reverse Cuthill–McKee ordering of a graph given by adjacency lists (all components).
fn rcm(adj: &[Vec<usize>]) -> Vec<usize> {
    let n = adj.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut by_degree: Vec<usize> = (0..n).collect();
    by_degree.sort_by_key(|&i| adj[i].len());
    for &s in &by_degree {
        if seen[s] {
            continue;
        }
        // Pseudo-peripheral start: the last node reached by a BFS from the min-degree node.
        let start = bfs_last(adj, s);
        let mut q = VecDeque::from([start]);
        seen[start] = true;
        while let Some(v) = q.pop_front() {
            order.push(v);
            let mut nb: Vec<usize> = adj[v].iter().copied().filter(|&u| !seen[u]).collect();
            nb.sort_by_key(|&u| adj[u].len());
            nb.dedup();
            for u in nb {
                if !seen[u] {
                    seen[u] = true;
                    q.push_back(u);
                }
            }
        }
    }
    order.reverse();
    order
}

fn bfs_last(adj: &[Vec<usize>], s: usize) -> usize {
    let mut seen = std::collections::HashSet::from([s]);
    let mut q = VecDeque::from([s]);
    let mut last = s;
    while let Some(v) = q.pop_front() {
        last = v;
        for &u in &adj[v] {
            if seen.insert(u) {
                q.push_back(u);
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_path_laplacian_with_a_grounded_end() {
        // Tridiagonal 2,-1 matrix (grounded path) of size 5, scrambled indices via RCM.
        let n = 5;
        let diag = vec![2.0; n];
        let off: Vec<_> = (0..n - 1).map(|i| (i, i + 1, -1.0)).collect();
        let c = Cholesky::factor(n, &diag, &off).unwrap();
        let x_true = [1.0, -2.0, 0.5, 3.0, 4.0];
        let mut b: Vec<f64> = (0..n)
            .map(|i| {
                2.0 * x_true[i]
                    - if i > 0 { x_true[i - 1] } else { 0.0 }
                    - if i + 1 < n { x_true[i + 1] } else { 0.0 }
            })
            .collect();
        c.solve(&mut b);
        for i in 0..n {
            assert!((b[i] - x_true[i]).abs() < 1e-9, "{b:?}");
        }
    }

    #[test]
    fn a_singular_matrix_is_refused() {
        // Ungrounded Laplacian of a 3-path is singular.
        let diag = vec![1.0, 2.0, 1.0];
        let off = vec![(0, 1, -1.0), (1, 2, -1.0)];
        assert!(Cholesky::factor(3, &diag, &off).is_none());
    }
}
