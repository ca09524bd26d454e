//! Proofs, per loaded cascade, that two faster ways of computing OpenCV's numbers give exactly
//! OpenCV's numbers. Each rewrite is only used when its check passes.

use crate::cascade::{Cascade, HaarFeature};

/// Whether `w0·s0 + w1·s1 (+ w2·s2)` in `f32` equals the integer sum converted to `f32` for
/// every possible image: true when the weights are integers and the worst-case magnitude
/// `Σ |w_k| · 255 · pixels_k` stays below 2^24, so every product and partial sum is an integer
/// that `f32` represents exactly and both ways round the same exact value once.
pub(crate) fn int_exact(f: &HaarFeature) -> bool {
    let mut bound = 0f64;
    for r in &f.rects {
        let w = f64::from(r.weight);
        if w.fract() != 0.0 || w.abs() > 4096.0 {
            return false;
        }
        let (rw, rh) = (f64::from(r.width), f64::from(r.height));
        // A tilted rectangle covers fewer than (w + h)^2 pixels.
        let pixels = if f.tilted {
            (rw + rh) * (rw + rh)
        } else {
            rw * rh
        };
        bound += w.abs() * 255.0 * pixels;
    }
    bound < f64::from(1u32 << 24)
}

/// Whether every stage sum of a stump cascade is exact in `f64` whatever the order of the terms,
/// including the rewriting `Σ right + Σ (left - right)·[test]`.
///
/// Every leaf is an `f32`, hence a multiple of the smallest leaf ulp `u`; so are their sums and
/// differences. Any partial sum is bounded by `B = Σ (|left| + 2 |right|)` over the stage, and a
/// multiple of `u` no larger than `2^53 u` is exactly representable in `f64`. When `B <= 2^53 u`
/// for every stage, no addition ever rounds, so any order gives OpenCV's sequential result.
pub(crate) fn sums_reassociate(c: &Cascade) -> bool {
    if c.max_nodes_per_tree != 1 {
        return false;
    }
    let ulp = |x: f32| -> f64 {
        // Exponent of a normal f32, or the subnormal ulp.
        let e = ((x.to_bits() >> 23) & 0xff) as i32;
        2f64.powi(e.max(1) - 127 - 23)
    };
    let mut u = f64::INFINITY;
    for &l in &c.leaves {
        if l != 0.0 {
            u = u.min(ulp(l));
        }
    }
    if !u.is_finite() {
        return true; // every leaf is zero
    }
    let limit = u * 2f64.powi(53);
    c.stages.iter().all(|s| {
        let bound: f64 = c.trees[s.first_tree..s.first_tree + s.ntrees]
            .iter()
            .map(|t| {
                let (l, r) = (c.leaves[t.first_leaf], c.leaves[t.first_leaf + 1]);
                f64::from(l.abs()) + 2.0 * f64::from(r.abs())
            })
            .sum();
        bound.is_finite() && bound <= limit * 0.5
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opencv_face_cascade_sums_can_be_reordered() {
        let path = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
        let Ok(c) = Cascade::from_file(path) else {
            return; // opencv-data not installed
        };
        assert!(sums_reassociate(&c));
        assert!(c.haar_features.iter().all(int_exact));
    }

    #[test]
    fn leaves_too_far_apart_cannot_be_reordered() {
        let xml = r#"<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType>
  <height>4</height><width>4</width><featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stages><_><stageThreshold>0.</stageThreshold><weakClassifiers>
    <_><internalNodes>0 -1 0 0.</internalNodes><leafValues>1e30 1e-30</leafValues></_></weakClassifiers></_></stages>
  <features><_><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects></_></features></cascade></opencv_storage>"#;
        let c = Cascade::from_xml(xml).unwrap();
        assert!(!sums_reassociate(&c));
    }
}
