//! Gentle AdaBoost of categorical LBP stumps, and the threshold of a boosted stage.
//!
//! A stump sends each of the 256 LBP codes left (the codes in its subset) or right and answers
//! that side's leaf value. For a weighted regression on labels ±1, the best two-way partition
//! of categories is a prefix of the categories sorted by their mean label (Breiman's result for
//! squared error), so each feature's best split is one sort and one scan of its 256 codes. Codes
//! no training sample shows go to the lower (more negative) side: an unseen pattern counts
//! against the window, which keeps the cascade's rejections cheap.
//!
//! Sums are kept the way detection computes them (`f32` leaves added into an `f64`, in tree
//! order; accepted when not below the `f32` threshold lowered by `1e-5`), so the hit and false
//! alarm rates measured here are those of the written cascade.

use rayon::prelude::*;

use super::lbp::{Integral, LbpRect};

/// OpenCV lowers every stage threshold by this much when it loads a cascade.
pub(crate) const THRESHOLD_EPS: f32 = 1e-5;

/// A decision stump on one LBP feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Stump {
    /// The feature.
    pub feature: LbpRect,
    /// The codes sent to the left leaf: bit `c & 31` of word `c >> 5` (OpenCV's layout).
    pub subset: [u32; 8],
    /// Value answered for codes in the subset.
    pub left: f32,
    /// Value answered for the other codes.
    pub right: f32,
}

impl Stump {
    /// Whether `code` goes left.
    fn goes_left(&self, code: u8) -> bool {
        self.subset[usize::from(code >> 5)] & (1 << (code & 31)) != 0
    }

    /// The stump's answer for `code`.
    pub(crate) fn value(&self, code: u8) -> f32 {
        if self.goes_left(code) {
            self.left
        } else {
            self.right
        }
    }
}

/// A boosted stage: its stumps' sum must reach the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The weak classifiers, in evaluation order.
    pub stumps: Vec<Stump>,
    /// The stage threshold as written to the XML (detection lowers it by `1e-5`).
    pub threshold: f32,
}

impl Stage {
    /// Whether the window whose integral is `ii` passes the stage.
    pub(crate) fn passes(&self, ii: &Integral) -> bool {
        self.passes_at(ii, 0, 0)
    }

    /// Whether the window at (`x`, `y`) of a larger integral passes the stage.
    pub(crate) fn passes_at(&self, ii: &Integral, x: usize, y: usize) -> bool {
        let sum = self.stumps.iter().fold(0f64, |acc, s| {
            acc + f64::from(s.value(ii.code_at(&s.feature, x, y)))
        });
        accepts(sum, self.threshold)
    }
}

/// Detection's test of a stage sum against a threshold read from XML.
pub(crate) fn accepts(sum: f64, threshold: f32) -> bool {
    sum >= f64::from(threshold - THRESHOLD_EPS)
}

/// The codes of every feature on every sample, feature-major (one row of samples per feature).
pub(crate) struct CodeTable {
    samples: usize,
    codes: Vec<u8>,
}

impl CodeTable {
    /// Computes the table, one rayon task per block of features.
    pub(crate) fn new(features: &[LbpRect], integrals: &[Integral]) -> Self {
        let samples = integrals.len();
        let mut codes = vec![0u8; features.len() * samples];
        if samples > 0 {
            codes
                .par_chunks_mut(samples)
                .zip(features)
                .for_each(|(row, f)| {
                    for (c, ii) in row.iter_mut().zip(integrals) {
                        *c = ii.code(f);
                    }
                });
        }
        Self { samples, codes }
    }

    fn row(&self, feature: usize) -> &[u8] {
        &self.codes[feature * self.samples..(feature + 1) * self.samples]
    }
}

/// The best split of one feature's codes, as (score, stump) where a higher score is a lower
/// weighted squared error; `None` when the samples show fewer than two codes.
fn split(
    codes: &[u8],
    positive: &[bool],
    weights: &[f64],
    feature: LbpRect,
) -> Option<(f64, Stump)> {
    let mut w = [0f64; 256];
    let mut s = [0f64; 256];
    for ((&c, &pos), &wt) in codes.iter().zip(positive).zip(weights) {
        w[usize::from(c)] += wt;
        s[usize::from(c)] += if pos { wt } else { -wt };
    }
    let mut seen: Vec<(f64, usize)> = (0..256)
        .filter(|&c| w[c] > 0.0)
        .map(|c| (s[c] / w[c], c))
        .collect();
    if seen.len() < 2 {
        return None;
    }
    seen.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (wt, st): (f64, f64) = (w.iter().sum(), s.iter().sum());
    let (mut wl, mut sl) = (0.0, 0.0);
    let mut best: Option<(f64, usize, f64, f64)> = None;
    for (k, &(_, c)) in seen[..seen.len() - 1].iter().enumerate() {
        wl += w[c];
        sl += s[c];
        let (wr, sr) = (wt - wl, st - sl);
        if wl <= 0.0 || wr <= 0.0 {
            continue;
        }
        let score = sl * sl / wl + sr * sr / wr;
        if best.is_none_or(|b| score > b.0) {
            best = Some((score, k + 1, sl / wl, sr / wr));
        }
    }
    let (score, prefix, left, right) = best?;
    let mut subset = [0u32; 8];
    let mut put = |c: usize| subset[c >> 5] |= 1 << (c & 31);
    for &(_, c) in &seen[..prefix] {
        put(c);
    }
    for c in (0..256).filter(|&c| w[c] <= 0.0) {
        put(c);
    }
    Some((
        score,
        Stump {
            feature,
            subset,
            left: left as f32,
            right: right as f32,
        },
    ))
}

/// The stump of lowest weighted squared error over all features (the first on ties).
pub(crate) fn best_stump(
    table: &CodeTable,
    features: &[LbpRect],
    positive: &[bool],
    weights: &[f64],
) -> Option<Stump> {
    features
        .par_iter()
        .enumerate()
        .filter_map(|(i, &f)| split(table.row(i), positive, weights, f).map(|(s, st)| (s, i, st)))
        .reduce_with(|a, b| {
            if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                b
            } else {
                a
            }
        })
        .map(|(_, _, stump)| stump)
}

/// What to do before the next weak classifier of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// Add another one.
    Continue,
    /// Close the stage as it is (the time budget ran out).
    Close,
    /// Stop training (canceled).
    Cancel,
}

/// A trained stage with its rates on the samples it was trained on.
#[derive(Debug, Clone)]
pub(crate) struct StageOutcome {
    pub(crate) stage: Stage,
    pub(crate) hit_rate: f64,
    pub(crate) false_alarm: f64,
    /// Whether the stage was closed early by [`Control::Close`].
    pub(crate) closed: bool,
}

/// Goals of a stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageGoals {
    pub(crate) min_hit_rate: f64,
    pub(crate) max_false_alarm: f64,
    pub(crate) max_weak_count: usize,
}

/// Boosts stumps on the samples (`positive[i]` says which are positives) until the stage keeps
/// `min_hit_rate` of the positives and passes at most `max_false_alarm` of the negatives, or
/// has `max_weak_count` stumps. `control` is asked before every stump but the first. `None` when
/// no feature separates anything (or on [`Control::Cancel`], with `canceled` set).
pub(crate) fn train_stage(
    table: &CodeTable,
    features: &[LbpRect],
    positive: &[bool],
    goals: StageGoals,
    control: &mut dyn FnMut(usize) -> Control,
    canceled: &mut bool,
) -> Option<StageOutcome> {
    let n = positive.len();
    let npos = positive.iter().filter(|&&p| p).count();
    let nneg = n - npos;
    if npos == 0 || nneg == 0 {
        return None;
    }
    let mut weights: Vec<f64> = positive
        .iter()
        .map(|&p| {
            if p {
                0.5 / npos as f64
            } else {
                0.5 / nneg as f64
            }
        })
        .collect();
    let mut sums = vec![0f64; n];
    let mut stumps: Vec<Stump> = Vec::new();
    let mut closed = false;
    loop {
        if !stumps.is_empty() {
            match control(stumps.len()) {
                Control::Continue => {}
                Control::Close => closed = true,
                Control::Cancel => {
                    *canceled = true;
                    return None;
                }
            }
        }
        if !closed {
            let Some(stump) = best_stump(table, features, positive, &weights) else {
                break;
            };
            let index = features
                .iter()
                .position(|f| *f == stump.feature)
                .unwrap_or_default();
            let codes = table.row(index);
            let mut total = 0.0;
            for i in 0..n {
                let v = stump.value(codes[i]);
                sums[i] += f64::from(v);
                let y = if positive[i] { 1.0 } else { -1.0 };
                weights[i] *= (-y * f64::from(v)).exp();
                total += weights[i];
            }
            if total > 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            }
            stumps.push(stump);
        }
        let (threshold, hit_rate, false_alarm) = threshold_for(&sums, positive, goals.min_hit_rate);
        if closed || false_alarm <= goals.max_false_alarm || stumps.len() >= goals.max_weak_count {
            return Some(StageOutcome {
                stage: Stage { stumps, threshold },
                hit_rate,
                false_alarm,
                closed,
            });
        }
    }
    if stumps.is_empty() {
        return None;
    }
    let (threshold, hit_rate, false_alarm) = threshold_for(&sums, positive, goals.min_hit_rate);
    Some(StageOutcome {
        stage: Stage { stumps, threshold },
        hit_rate,
        false_alarm,
        closed,
    })
}

/// The stage threshold keeping `min_hit_rate` of the positives (the positives' sums sorted,
/// the one at index `⌊(1 − min_hit_rate) · n⌋`, as OpenCV's trainer picks it), rounded down to
/// an `f32`; and the hit and false-alarm rates detection will see with it.
pub(crate) fn threshold_for(sums: &[f64], positive: &[bool], min_hit_rate: f64) -> (f32, f64, f64) {
    let mut pos: Vec<f64> = sums
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(s, _)| *s)
        .collect();
    pos.sort_by(f64::total_cmp);
    let idx = (((1.0 - min_hit_rate) * pos.len() as f64) as usize).min(pos.len() - 1);
    let target = pos[idx];
    let mut threshold = target as f32;
    if f64::from(threshold) > target {
        threshold = threshold.next_down();
    }
    let (mut hits, mut alarms, mut negs) = (0usize, 0usize, 0usize);
    for (s, p) in sums.iter().zip(positive) {
        let pass = accepts(*s, threshold);
        if *p {
            hits += usize::from(pass);
        } else {
            negs += 1;
            alarms += usize::from(pass);
        }
    }
    (
        threshold,
        hits as f64 / pos.len() as f64,
        alarms as f64 / negs.max(1) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: u32) -> LbpRect {
        LbpRect {
            x,
            y: 0,
            width: 1,
            height: 1,
        }
    }

    #[test]
    fn the_stump_splits_a_separable_toy_set_by_its_codes() {
        // Positives show codes 3 and 7, negatives 1, 7 and 9: code 7 is mixed (one of each).
        let codes = [3u8, 3, 7, 1, 1, 9, 7];
        let positive = [true, true, true, false, false, false, false];
        let weights = [1.0 / 7.0; 7];
        let (score, stump) = split(&codes, &positive, &weights, f(0)).expect("a split");
        // Sorted by mean label: 1 (−1), 9 (−1), 7 (0), 3 (+1). The prefixes {1} | {9, 7, 3},
        // {1, 9} | {7, 3} and {1, 9, 7} | {3} score 11/35, 20/35 and 19/35.
        assert!((score - 20.0 / 35.0).abs() < 1e-12, "{score}");
        assert_eq!((stump.left, stump.right), (-1.0, 0.5));
        let right: Vec<u8> = (0..=255).filter(|&c| !stump.goes_left(c)).collect();
        // Unseen codes go left, to the negative side, with 1 and 9.
        assert_eq!(right, vec![3, 7]);
    }

    #[test]
    fn the_best_stump_is_found_on_the_feature_that_separates() {
        // Feature 0 is noise, feature 1 separates exactly.
        let features = [f(0), f(1)];
        let positive = [true, true, false, false];
        let table = CodeTable {
            samples: 4,
            codes: vec![5, 6, 5, 6, 200, 200, 17, 18],
        };
        let stump = best_stump(&table, &features, &positive, &[0.25; 4]).expect("a stump");
        assert_eq!(stump.feature, f(1));
        assert_eq!((stump.left, stump.right), (-1.0, 1.0));
        assert!(!stump.goes_left(200) && stump.goes_left(17) && stump.goes_left(18));
        assert!(stump.goes_left(199), "unseen codes go to the negative side");
    }

    #[test]
    fn a_stage_on_a_separable_set_needs_one_stump_and_keeps_every_positive() {
        let features = [f(0), f(1)];
        let positive = [true, true, false, false];
        let table = CodeTable {
            samples: 4,
            codes: vec![5, 6, 5, 6, 200, 200, 17, 18],
        };
        let goals = StageGoals {
            min_hit_rate: 0.995,
            max_false_alarm: 0.5,
            max_weak_count: 10,
        };
        let mut canceled = false;
        let out = train_stage(
            &table,
            &features,
            &positive,
            goals,
            &mut |_| Control::Continue,
            &mut canceled,
        )
        .expect("a stage");
        assert_eq!(out.stage.stumps.len(), 1);
        assert_eq!(out.stage.threshold, 1.0);
        assert_eq!((out.hit_rate, out.false_alarm), (1.0, 0.0));
    }

    #[test]
    fn the_threshold_keeps_the_min_hit_rate_and_rounds_down_to_f32() {
        let sums = [0.1, 0.2, 0.3, 0.4, -1.0, 0.25];
        let positive = [true, true, true, true, false, false];
        // 4 positives: index ⌊0.25 · 4⌋ = 1 → 0.2 (as the f32 just below it).
        let (t, hit, fa) = threshold_for(&sums, &positive, 0.75);
        assert!(f64::from(t) <= 0.2 && f64::from(t.next_up()) > 0.2);
        assert_eq!((hit, fa), (0.75, 0.5));
    }
}
