//! Softmax and top-k over a model's logits.

/// Numerically stable softmax (computed in `f64`, returned as `f32`).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return vec![0.0; logits.len()];
    }
    let exps: Vec<f64> = logits
        .iter()
        .map(|&v| (f64::from(v) - f64::from(max)).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// The `k` largest values as `(index, value)`, largest first; ties keep the lower index
/// first, NaN ranks last.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    let key = |v: f32| if v.is_nan() { f32::NEG_INFINITY } else { v };
    indexed.sort_by(|a, b| key(b.1).total_cmp(&key(a.1)).then(a.0.cmp(&b.0)));
    indexed.truncate(k);
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_equal_logits_is_uniform_and_sums_to_one() {
        assert_eq!(softmax(&[3.0, 3.0, 3.0, 3.0]), vec![0.25; 4]);
        let p = softmax(&[1.0, 2.0, 3.0]);
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        // e^0 / (e^-2 + e^-1 + e^0)
        assert!((p[2] - 0.665_240_9).abs() < 1e-6);
    }

    #[test]
    fn softmax_does_not_overflow_on_large_logits() {
        let p = softmax(&[1000.0, 0.0]);
        assert_eq!(p, vec![1.0, 0.0]);
    }

    #[test]
    fn top_k_orders_by_value_then_index() {
        assert_eq!(
            top_k(&[0.1, 0.5, 0.2, 0.5, f32::NAN], 3),
            vec![(1, 0.5), (3, 0.5), (2, 0.2)]
        );
        assert_eq!(top_k(&[1.0], 5), vec![(0, 1.0)]);
        assert!(top_k(&[], 5).is_empty());
    }
}
