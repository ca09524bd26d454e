//! The detection head: a per-cell two-layer perceptron over [`super::features::FeatureMap`]
//! cells, with CenterNet's outputs (a heat-map logit per class, log width/height in cells, centre
//! offset in the cell) and hand-written gradients: the backbone is frozen, so the head is the
//! only thing trained and backpropagation stops at its input.
//!
//! Losses (CenterNet): penalty-reduced focal loss (α = 2, β = 4) on the heat map, L1 on size
//! (weight 0.1 in pixels is replaced here by L1 on log-size, weight 1) and offset at object
//! centres, all divided by the number of objects. Optimiser: Adam.

use serde::{Deserialize, Serialize};

use crate::synth::Rng;

/// Heat-map, size and offset targets of one image on the cell grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// `cells × classes` heat values in `[0, 1]` (1 exactly at object centres).
    pub heat: Vec<f32>,
    /// Object centres: (cell index, [log w, log h, dx, dy]).
    pub centres: Vec<(usize, [f32; 4])>,
}

/// Head weights, with the feature standardisation baked in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Input features per cell.
    pub dim: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes.
    pub classes: usize,
    /// Per-feature mean subtracted before the first layer.
    pub mean: Vec<f32>,
    /// Per-feature 1/std applied after.
    pub inv_std: Vec<f32>,
    /// `hidden × dim`.
    pub w1: Vec<f32>,
    /// `hidden`.
    pub b1: Vec<f32>,
    /// `(classes + 4) × hidden`.
    pub w2: Vec<f32>,
    /// `classes + 4`.
    pub b2: Vec<f32>,
}

/// Gradients (or Adam moments) shaped like a head's weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

impl Grads {
    fn zeros(h: &Head) -> Self {
        Self {
            w1: vec![0.0; h.w1.len()],
            b1: vec![0.0; h.b1.len()],
            w2: vec![0.0; h.w2.len()],
            b2: vec![0.0; h.b2.len()],
        }
    }

    /// Adds another gradient.
    pub fn plus(mut self, o: Grads) -> Grads {
        for (a, b) in [
            (&mut self.w1, &o.w1),
            (&mut self.b1, &o.b1),
            (&mut self.w2, &o.w2),
            (&mut self.b2, &o.b2),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }
}

/// Loss parts of one image (sums, not yet divided by the object count).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Loss {
    /// Focal loss.
    pub heat: f64,
    /// L1 on log size.
    pub size: f64,
    /// L1 on offset.
    pub offset: f64,
}

impl std::ops::Add for Loss {
    type Output = Loss;
    fn add(self, o: Loss) -> Loss {
        Loss {
            heat: self.heat + o.heat,
            size: self.size + o.size,
            offset: self.offset + o.offset,
        }
    }
}

const ALPHA: i32 = 2;
const BETA: i32 = 4;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Head {
    /// A fresh head: He-initialised first layer, small second layer, heat bias −4.6 (prior 0.01).
    pub fn new(
        dim: usize,
        hidden: usize,
        classes: usize,
        mean: Vec<f32>,
        inv_std: Vec<f32>,
        rng: &mut Rng,
    ) -> Self {
        let out = classes + 4;
        let s1 = (6.0 / dim as f64).sqrt();
        let s2 = (1.0 / hidden as f64).sqrt();
        let mut b2 = vec![0.0; out];
        b2[..classes].iter_mut().for_each(|b| *b = -4.6);
        Self {
            dim,
            hidden,
            classes,
            mean,
            inv_std,
            w1: (0..hidden * dim)
                .map(|_| rng.uniform(-s1, s1) as f32)
                .collect(),
            b1: vec![0.0; hidden],
            w2: (0..out * hidden)
                .map(|_| rng.uniform(-s2, s2) as f32 * 0.1)
                .collect(),
            b2,
        }
    }

    /// This head for another class list, to fine-tune from: `mapping[c]` is the class of this
    /// head that new class `c` was (its heat row and bias are kept), or `None` for a class it
    /// did not know (a fresh row as in [`Head::new`]). The hidden layer, the box rows and the
    /// feature standardisation are kept as they are.
    pub fn with_classes(&self, mapping: &[Option<usize>], rng: &mut Rng) -> Head {
        let (hidden, classes) = (self.hidden, mapping.len());
        let s2 = (1.0 / hidden as f64).sqrt();
        let mut w2 = Vec::with_capacity((classes + 4) * hidden);
        let mut b2 = Vec::with_capacity(classes + 4);
        for old in mapping {
            match old.filter(|&o| o < self.classes) {
                Some(o) => {
                    w2.extend_from_slice(&self.w2[o * hidden..(o + 1) * hidden]);
                    b2.push(self.b2[o]);
                }
                None => {
                    w2.extend((0..hidden).map(|_| rng.uniform(-s2, s2) as f32 * 0.1));
                    b2.push(-4.6);
                }
            }
        }
        w2.extend_from_slice(&self.w2[self.classes * hidden..]);
        b2.extend_from_slice(&self.b2[self.classes..]);
        Head {
            classes,
            w2,
            b2,
            ..self.clone()
        }
    }

    /// Moves this head's weights towards `other`'s: `w = decay · w + (1 − decay) · other`
    /// (a running average of a training head; the standardisation is shared).
    pub fn blend(&mut self, other: &Head, decay: f32) {
        for (a, b) in [
            (&mut self.w1, &other.w1),
            (&mut self.b1, &other.b1),
            (&mut self.w2, &other.w2),
            (&mut self.b2, &other.b2),
        ] {
            a.iter_mut()
                .zip(b)
                .for_each(|(x, y)| *x = decay * *x + (1.0 - decay) * y);
        }
    }

    /// Standardises a raw feature vector.
    pub fn normalise(&self, raw: &[f32], out: &mut [f32]) {
        for i in 0..self.dim {
            out[i] = (raw[i] - self.mean[i]) * self.inv_std[i];
        }
    }

    /// Outputs for one standardised cell; `hidden` receives the activations.
    pub fn forward(&self, x: &[f32], hidden: &mut [f32], out: &mut [f32]) {
        for (h, a) in hidden.iter_mut().enumerate() {
            *a = (self.b1[h] + dot(&self.w1[h * self.dim..(h + 1) * self.dim], x)).max(0.0);
        }
        for (o, v) in out.iter_mut().enumerate() {
            *v = self.b2[o] + dot(&self.w2[o * self.hidden..(o + 1) * self.hidden], hidden);
        }
    }

    /// Loss and gradient of one image whose cells are already standardised.
    pub fn gradient(&self, cells: &[f32], targets: &Targets) -> (Loss, Grads) {
        self.gradient_sampled(cells, targets, 1, 0)
    }

    /// Like [`Self::gradient`], but only one in `keep` pure-background cells (every heat target
    /// below 0.01), picked by hashing the cell with `salt`, is visited, its loss and gradient
    /// weighted by `keep`: an unbiased estimate at a fraction of the cost, since background
    /// cells are nearly all of them.
    pub fn gradient_sampled(
        &self,
        cells: &[f32],
        targets: &Targets,
        keep: u32,
        salt: u64,
    ) -> (Loss, Grads) {
        let c = self.classes;
        let out_n = c + 4;
        let mut g = Grads::zeros(self);
        let mut loss = Loss::default();
        let mut hidden = vec![0.0; self.hidden];
        let mut out = vec![0.0; out_n];
        let mut d_out = vec![0.0f32; out_n];
        let mut d_hidden = vec![0.0f32; self.hidden];
        let mut centre_of = vec![None; cells.len() / self.dim];
        for (i, (cell, t)) in targets.centres.iter().enumerate() {
            centre_of[*cell] = Some(i);
            let _ = t;
        }
        for (cell, x) in cells.chunks_exact(self.dim).enumerate() {
            let mut weight = 1.0;
            if keep > 1
                && targets.heat[cell * c..(cell + 1) * c]
                    .iter()
                    .all(|&y| y < 0.01)
            {
                let mut h = Rng::new(salt ^ (cell as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                if !h.next_u64().is_multiple_of(u64::from(keep)) {
                    continue;
                }
                weight = f64::from(keep);
            }
            self.forward(x, &mut hidden, &mut out);
            for k in 0..c {
                let y = targets.heat[cell * c + k];
                let p = (1.0 / (1.0 + (-f64::from(out[k])).exp())).clamp(1e-6, 1.0 - 1e-6);
                let (l, d) = if y >= 1.0 {
                    let q = (1.0 - p).powi(ALPHA);
                    (-q * p.ln(), q * (f64::from(ALPHA) * p * p.ln() - (1.0 - p)))
                } else {
                    let w = (1.0 - f64::from(y)).powi(BETA) * p.powi(ALPHA);
                    (
                        -w * (1.0 - p).ln(),
                        w * (p - f64::from(ALPHA) * (1.0 - p) * (1.0 - p).ln()),
                    )
                };
                loss.heat += l * weight;
                d_out[k] = (d * weight) as f32;
            }
            d_out[c..].iter_mut().for_each(|d| *d = 0.0);
            if let Some(i) = centre_of[cell] {
                let t = targets.centres[i].1;
                for j in 0..4 {
                    let diff = out[c + j] - t[j];
                    if j < 2 {
                        loss.size += f64::from(diff.abs());
                    } else {
                        loss.offset += f64::from(diff.abs());
                    }
                    d_out[c + j] = diff.signum();
                }
            }
            // Most cells are easy negatives whose focal gradient is negligible: skip their
            // backward pass (the costly half).
            if d_out.iter().all(|d| d.abs() < 1e-5) {
                continue;
            }
            // Backward through the second layer and the ReLU.
            d_hidden.iter_mut().for_each(|d| *d = 0.0);
            for (o, &d) in d_out.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                g.b2[o] += d;
                let row = &mut g.w2[o * self.hidden..(o + 1) * self.hidden];
                let w = &self.w2[o * self.hidden..(o + 1) * self.hidden];
                for h in 0..self.hidden {
                    row[h] += d * hidden[h];
                    d_hidden[h] += d * w[h];
                }
            }
            for h in 0..self.hidden {
                if hidden[h] <= 0.0 || d_hidden[h] == 0.0 {
                    continue;
                }
                let d = d_hidden[h];
                g.b1[h] += d;
                let row = &mut g.w1[h * self.dim..(h + 1) * self.dim];
                row.iter_mut().zip(x).for_each(|(r, xi)| *r += d * xi);
            }
        }
        (loss, g)
    }
}

/// Adam with decoupled weight decay.
#[derive(Debug, Clone)]
pub struct Adam {
    m: Grads,
    v: Grads,
    t: i32,
    /// Learning rate.
    pub lr: f32,
    /// Weight decay (decoupled, on the weight matrices).
    pub decay: f32,
}

impl Adam {
    /// A fresh optimiser for `head`.
    pub fn new(head: &Head, lr: f32, decay: f32) -> Self {
        Self {
            m: Grads::zeros(head),
            v: Grads::zeros(head),
            t: 0,
            lr,
            decay,
        }
    }

    /// One step with gradient `g` scaled by `scale`.
    pub fn step(&mut self, head: &mut Head, g: &Grads, scale: f32) {
        self.t += 1;
        let (b1, b2) = (0.9f32, 0.999f32);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let lr = self.lr;
        let decay = self.decay;
        let update = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], decay: f32| {
            for i in 0..w.len() {
                let gi = g[i] * scale;
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                w[i] -= lr * ((m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8) + decay * w[i]);
            }
        };
        update(&mut head.w1, &g.w1, &mut self.m.w1, &mut self.v.w1, decay);
        update(&mut head.b1, &g.b1, &mut self.m.b1, &mut self.v.b1, 0.0);
        update(&mut head.w2, &g.w2, &mut self.m.w2, &mut self.v.w2, decay);
        update(&mut head.b2, &g.b2, &mut self.m.b2, &mut self.v.b2, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_for_new_classes_keeps_the_rows_of_known_ones() {
        let mut rng = Rng::new(5);
        let base = Head::new(3, 2, 2, vec![0.5; 3], vec![2.0; 3], &mut rng);
        // New classes: [old class 1, a new one, old class 0].
        let head = base.with_classes(&[Some(1), None, Some(0)], &mut rng);
        assert_eq!((head.classes, head.hidden, head.dim), (3, 2, 3));
        assert_eq!(head.w1, base.w1);
        assert_eq!(head.mean, base.mean);
        assert_eq!(&head.w2[0..2], &base.w2[2..4], "old class 1");
        assert_eq!(&head.w2[4..6], &base.w2[0..2], "old class 0");
        assert_eq!(&head.w2[6..], &base.w2[4..], "the four box rows");
        assert_eq!(head.b2[..3], [base.b2[1], -4.6, base.b2[0]]);
        assert_eq!(&head.b2[3..], &base.b2[2..]);
        assert_eq!(head.w2.len(), (3 + 4) * 2);
    }

    #[test]
    fn blending_moves_the_weights_and_keeps_the_standardisation() {
        let mut rng = Rng::new(8);
        let mut a = Head::new(2, 1, 1, vec![0.0; 2], vec![1.0; 2], &mut rng);
        let mut b = a.clone();
        a.w1 = vec![1.0, 2.0];
        b.w1 = vec![3.0, 6.0];
        b.b2 = vec![0.0; 5];
        b.mean = vec![9.0; 2];
        a.blend(&b, 0.75);
        assert_eq!(a.w1, [1.5, 3.0]);
        assert_eq!(a.b2[0], -4.6 * 0.75);
        assert_eq!(a.mean, [0.0, 0.0]);
    }

    /// The hand-written gradient equals a finite difference of the loss.
    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(3);
        let (dim, cells, classes) = (5, 6, 2);
        let mut head = Head::new(dim, 4, classes, vec![0.0; dim], vec![1.0; dim], &mut rng);
        head.w2.iter_mut().for_each(|w| *w *= 10.0);
        let x: Vec<f32> = (0..dim * cells)
            .map(|_| rng.uniform(-1.0, 1.0) as f32)
            .collect();
        let mut heat = vec![0.0; cells * classes];
        heat[2 * classes] = 1.0;
        heat[3 * classes] = 0.6;
        heat[5 * classes + 1] = 1.0;
        let targets = Targets {
            heat,
            centres: vec![(2, [0.3, -0.2, 0.4, 0.6]), (5, [1.0, 0.5, 0.1, 0.9])],
        };
        let total = |h: &Head| {
            let l = h.gradient(&x, &targets).0;
            l.heat + l.size + l.offset
        };
        let (_, g) = head.gradient(&x, &targets);
        for (i, analytic) in [(0usize, g.w1[0]), (7, g.w1[7]), (13, g.w1[13])] {
            let mut a = head.clone();
            let mut b = head.clone();
            a.w1[i] += 1e-3;
            b.w1[i] -= 1e-3;
            let numeric = (total(&a) - total(&b)) / 2e-3;
            assert!(
                (numeric - f64::from(analytic)).abs() < 1e-2 * numeric.abs().max(1.0),
                "w1[{i}]: {numeric} vs {analytic}"
            );
        }
        for i in 0..head.w2.len() {
            let mut a = head.clone();
            let mut b = head.clone();
            a.w2[i] += 1e-3;
            b.w2[i] -= 1e-3;
            let numeric = (total(&a) - total(&b)) / 2e-3;
            assert!(
                (numeric - f64::from(g.w2[i])).abs() < 1e-2 * numeric.abs().max(1.0),
                "w2[{i}]: {numeric} vs {}",
                g.w2[i]
            );
        }
    }
}
