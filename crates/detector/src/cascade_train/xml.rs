//! The trained cascade as `opencv_traincascade` writes it: an `opencv_storage` document with one
//! `<cascade>` (BOOST stages, LBP features, `maxCatCount` 256), stumps as
//! `<internalNodes>0 -1 feature subset×8</internalNodes>` and two leaf values, and only the
//! features the stumps use, in the trainer's enumeration order, renumbered.
//!
//! Reals are written as C's `%.16e` (OpenCV's own format for doubles); every value is an `f32`
//! widened to `f64`, so reading it back as a double and narrowing it, as OpenCV and
//! `atelier_haar` do, gives the trained `f32` bit for bit.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::TrainedCascade;
use super::lbp::LbpRect;

/// `v` as C's `printf("%.16e", v)`: a two-digit signed exponent at least.
pub(crate) fn c_exp(v: f64) -> String {
    let s = format!("{v:.16e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let e: i32 = exp.parse().unwrap_or(0);
            let sign = if e < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", e.unsigned_abs())
        }
        None => s,
    }
}

/// The XML document.
pub(crate) fn write(c: &TrainedCascade) -> String {
    // Used features in enumeration order, numbered from 0.
    let used: BTreeMap<LbpRect, usize> = c
        .stages
        .iter()
        .flat_map(|s| s.stumps.iter().map(|t| (t.feature, 0)))
        .collect();
    let index: BTreeMap<LbpRect, usize> = used.keys().enumerate().map(|(i, f)| (*f, i)).collect();
    let p = &c.params;
    let max_weak = c.stages.iter().map(|s| s.stumps.len()).max().unwrap_or(0);
    let mut x = String::new();
    // Writing into a String cannot fail.
    let _ = write!(
        x,
        "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade>\n  \
         <stageType>BOOST</stageType>\n  <featureType>LBP</featureType>\n  \
         <height>{}</height>\n  <width>{}</width>\n  <stageParams>\n    \
         <boostType>GAB</boostType>\n    <minHitRate>{}</minHitRate>\n    \
         <maxFalseAlarm>{}</maxFalseAlarm>\n    <weightTrimRate>{}</weightTrimRate>\n    \
         <maxDepth>1</maxDepth>\n    <maxWeakCount>{}</maxWeakCount></stageParams>\n  \
         <featureParams>\n    <maxCatCount>256</maxCatCount>\n    \
         <featSize>1</featSize></featureParams>\n  <stageNum>{}</stageNum>\n  <stages>\n",
        c.window.height,
        c.window.width,
        c_exp(p.min_hit_rate),
        c_exp(p.max_false_alarm),
        c_exp(1.0),
        p.max_weak_count.max(max_weak),
        c.stages.len(),
    );
    for (si, stage) in c.stages.iter().enumerate() {
        let _ = write!(
            x,
            "    <!-- stage {si} -->\n    <_>\n      <maxWeakCount>{}</maxWeakCount>\n      \
             <stageThreshold>{}</stageThreshold>\n      <weakClassifiers>",
            stage.stumps.len(),
            c_exp(f64::from(stage.threshold)),
        );
        for stump in &stage.stumps {
            let subset: Vec<String> = stump
                .subset
                .iter()
                .map(|w| (*w as i32).to_string())
                .collect();
            let _ = write!(
                x,
                "\n        <_>\n          <internalNodes>\n            0 -1 {} {}</internalNodes>\n          \
                 <leafValues>\n            {} {}</leafValues></_>",
                index.get(&stump.feature).copied().unwrap_or_default(),
                subset.join(" "),
                c_exp(f64::from(stump.left)),
                c_exp(f64::from(stump.right)),
            );
        }
        x.push_str("</weakClassifiers></_>\n");
    }
    x.push_str("  </stages>\n  <features>");
    for f in index.keys() {
        let _ = write!(
            x,
            "\n    <_>\n      <rect>\n        {} {} {} {}</rect></_>",
            f.x, f.y, f.width, f.height
        );
    }
    x.push_str("</features></cascade>\n</opencv_storage>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_are_written_like_c_printf_e() {
        assert_eq!(c_exp(0.995f32 as f64), "9.9500000476837158e-01");
        assert_eq!(c_exp(-4.5), "-4.5000000000000000e+00");
        assert_eq!(c_exp(1e-120), "9.9999999999999998e-121"); // as Python's "%.16e"
        assert_eq!(c_exp(0.0), "0.0000000000000000e+00");
    }

    #[test]
    fn every_f32_survives_the_text_as_opencv_reads_it() {
        for v in [
            0.1f32,
            -0.999_726_5,
            1.0 / 3.0,
            f32::MIN_POSITIVE,
            123_456.79,
        ] {
            let back: f64 = c_exp(f64::from(v)).parse().expect("a number");
            assert_eq!((back as f32).to_bits(), v.to_bits());
        }
    }
}
