//! Detection metrics computed exactly as pycocotools' `COCOeval` (bbox, area "all", at most 100
//! detections per image): AP averaged over IoU thresholds 0.50:0.05:0.95 ("mAP@[.5:.95]"), AP at
//! IoU 0.5 ("mAP@0.5") and 0.75, per label and overall, and the precision/recall curve (precision
//! at the 101 recall thresholds) per label.
//!
//! The arithmetic follows pycocotools step by step so that the numbers agree to rounding: boxes as
//! `[x, y, w, h]`, IoU as its C code computes it, greedy matching in descending score (stable
//! order), thresholds built like `numpy.linspace`, the precision envelope and `searchsorted`
//! sampling. A label without ground truth has no AP (pycocotools' -1) and is left out of the means.
//! `tests/pycocotools.rs` compares against pycocotools itself.

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

/// At most this many detections per image count (pycocotools' `maxDets[-1]`).
pub const MAX_DETECTIONS: usize = 100;

/// A ground-truth box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundTruth {
    /// Image id.
    pub image: u64,
    /// Label index.
    pub label: usize,
    /// The box.
    pub bbox: BBox,
}

/// A detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Image id.
    pub image: u64,
    /// Label index.
    pub label: usize,
    /// The box.
    pub bbox: BBox,
    /// Confidence.
    pub score: f64,
}

/// Metrics of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// Label index.
    pub label: usize,
    /// Ground-truth boxes.
    pub ground_truth: usize,
    /// AP averaged over IoU 0.50:0.95 (`None` without ground truth).
    pub ap: Option<f64>,
    /// AP at IoU 0.5.
    pub ap50: Option<f64>,
    /// AP at IoU 0.75.
    pub ap75: Option<f64>,
    /// Recall at IoU 0.5 with all detections.
    pub recall50: Option<f64>,
    /// Precision at each of [`recall_thresholds`], IoU 0.5 (empty without ground truth).
    pub precision50: Vec<f64>,
}

/// The evaluation of a detector on a set of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// mAP@[.5:.95] (`None` when no label has ground truth).
    pub map: Option<f64>,
    /// mAP@0.5.
    pub map50: Option<f64>,
    /// mAP@0.75.
    pub map75: Option<f64>,
    /// Per label, in label order.
    pub labels: Vec<LabelMetrics>,
}

/// Errors from [`evaluate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A box refers to an image not in the evaluated set.
    #[error("image {0} is not in the evaluated set")]
    UnknownImage(u64),
    /// A label index out of range.
    #[error("label {label} out of range ({count} labels)")]
    UnknownLabel {
        /// The index.
        label: usize,
        /// Number of labels.
        count: usize,
    },
    /// A score or coordinate is not finite.
    #[error("a detection has a non-finite score or box")]
    NotFinite,
}

/// `numpy.linspace(start, stop, num)` bit for bit.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    (0..num)
        .map(|i| {
            if i == num - 1 {
                stop
            } else {
                i as f64 * step + start
            }
        })
        .collect()
}

/// COCO's IoU thresholds 0.50, 0.55, … 0.95.
pub fn iou_thresholds() -> Vec<f64> {
    linspace(0.5, 0.95, 10)
}

/// COCO's recall thresholds 0.00, 0.01, … 1.00.
pub fn recall_thresholds() -> Vec<f64> {
    linspace(0.0, 1.0, 101)
}

/// IoU as pycocotools' C code computes it, on `[x, y, w, h]`.
fn coco_iou(d: [f64; 4], g: [f64; 4]) -> f64 {
    let w = (d[0] + d[2]).min(g[0] + g[2]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[1] + d[3]).min(g[1] + g[3]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let (da, ga) = (d[2] * d[3], g[2] * g[3]);
    i / (da + ga - i)
}

fn xywh(b: &BBox) -> [f64; 4] {
    [b.xtl, b.ytl, b.xbr - b.xtl, b.ybr - b.ytl]
}

/// Evaluates `detections` against `ground_truth` over `images` (ids) and `labels` labels.
pub fn evaluate(
    images: &[u64],
    labels: usize,
    ground_truth: &[GroundTruth],
    detections: &[Detection],
) -> Result<Evaluation, EvalError> {
    let mut image_ids = images.to_vec();
    image_ids.sort_unstable();
    image_ids.dedup();
    let index_of = |image: u64| {
        image_ids
            .binary_search(&image)
            .map_err(|_| EvalError::UnknownImage(image))
    };
    let check_label = |label: usize| {
        if label < labels {
            Ok(())
        } else {
            Err(EvalError::UnknownLabel {
                label,
                count: labels,
            })
        }
    };
    // Per (label, image): ground truth and detections in input order.
    let n = image_ids.len();
    let mut gts: Vec<Vec<[f64; 4]>> = vec![Vec::new(); labels * n];
    let mut dts: Vec<Vec<([f64; 4], f64)>> = vec![Vec::new(); labels * n];
    for g in ground_truth {
        check_label(g.label)?;
        gts[g.label * n + index_of(g.image)?].push(xywh(&g.bbox));
    }
    for d in detections {
        check_label(d.label)?;
        if !d.score.is_finite() || !d.bbox.is_proper() {
            return Err(EvalError::NotFinite);
        }
        dts[d.label * n + index_of(d.image)?].push((xywh(&d.bbox), d.score));
    }

    let iou_thr = iou_thresholds();
    let rec_thr = recall_thresholds();
    let t_count = iou_thr.len();
    let mut out = Vec::with_capacity(labels);
    let (mut all, mut all50, mut all75) = (Vec::new(), Vec::new(), Vec::new());
    for label in 0..labels {
        // Matches of every kept detection, image by image in id order: (score, matched per IoU).
        let mut scored: Vec<(f64, Vec<bool>)> = Vec::new();
        let mut npig = 0usize;
        for i in 0..n {
            let gt = &gts[label * n + i];
            let mut dt = dts[label * n + i].clone();
            npig += gt.len();
            // numpy's mergesort on -score: stable, descending.
            dt.sort_by(|a, b| {
                (-a.1)
                    .partial_cmp(&-b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            dt.truncate(MAX_DETECTIONS);
            let ious: Vec<Vec<f64>> = dt
                .iter()
                .map(|(d, _)| gt.iter().map(|g| coco_iou(*d, *g)).collect())
                .collect();
            let mut matched = vec![vec![false; dt.len()]; t_count];
            for (t, &thr) in iou_thr.iter().enumerate() {
                let mut gt_taken = vec![false; gt.len()];
                for (d, row) in ious.iter().enumerate() {
                    let mut best = thr.min(1.0 - 1e-10);
                    let mut m = None;
                    for (g, &iou) in row.iter().enumerate() {
                        if gt_taken[g] || iou < best {
                            continue;
                        }
                        best = iou;
                        m = Some(g);
                    }
                    if let Some(g) = m {
                        gt_taken[g] = true;
                        matched[t][d] = true;
                    }
                }
            }
            for (d, (_, score)) in dt.iter().enumerate() {
                scored.push((*score, (0..t_count).map(|t| matched[t][d]).collect()));
            }
        }
        if npig == 0 {
            out.push(LabelMetrics {
                label,
                ground_truth: 0,
                ap: None,
                ap50: None,
                ap75: None,
                recall50: None,
                precision50: Vec::new(),
            });
            continue;
        }
        scored.sort_by(|a, b| {
            (-a.0)
                .partial_cmp(&-b.0)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut precision = vec![vec![0.0; rec_thr.len()]; t_count];
        let mut recall = vec![0.0; t_count];
        for t in 0..t_count {
            let (mut tp, mut fp) = (0.0f64, 0.0f64);
            let mut rc = Vec::with_capacity(scored.len());
            let mut pr = Vec::with_capacity(scored.len());
            for (_, m) in &scored {
                if m[t] {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
                rc.push(tp / npig as f64);
                pr.push(tp / (fp + tp + f64::EPSILON));
            }
            recall[t] = rc.last().copied().unwrap_or(0.0);
            for i in (1..pr.len()).rev() {
                if pr[i] > pr[i - 1] {
                    pr[i - 1] = pr[i];
                }
            }
            for (r, &thr) in rec_thr.iter().enumerate() {
                let pi = rc.partition_point(|&v| v < thr);
                match pr.get(pi) {
                    Some(&p) => precision[t][r] = p,
                    None => break,
                }
            }
        }
        let mean = |rows: &[Vec<f64>]| {
            let count = rows.iter().map(Vec::len).sum::<usize>();
            rows.iter().flatten().sum::<f64>() / count as f64
        };
        let ap = mean(&precision);
        let ap50 = mean(&precision[..1]);
        let ap75 = mean(&precision[5..6]);
        all.extend(precision.iter().flatten().copied());
        all50.extend(precision[0].iter().copied());
        all75.extend(precision[5].iter().copied());
        out.push(LabelMetrics {
            label,
            ground_truth: npig,
            ap: Some(ap),
            ap50: Some(ap50),
            ap75: Some(ap75),
            recall50: Some(recall[0]),
            precision50: precision[0].clone(),
        });
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(Evaluation {
        map: mean(&all),
        map50: mean(&all50),
        map75: mean(&all75),
        labels: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_numpy_linspace() {
        let t = iou_thresholds();
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], 0.5);
        assert_eq!(t[9], 0.95);
        let r = recall_thresholds();
        assert_eq!(r.len(), 101);
        // numpy gives 30 * 0.01 = 0.30000000000000004, not 0.3.
        assert_eq!(r[30], 30.0 * 0.01);
    }

    #[test]
    fn perfect_detections_score_one_and_misses_lower_recall() {
        let b = BBox::new(10.0, 10.0, 50.0, 40.0);
        let gt = [
            GroundTruth {
                image: 1,
                label: 0,
                bbox: b,
            },
            GroundTruth {
                image: 2,
                label: 0,
                bbox: b,
            },
        ];
        let det = [Detection {
            image: 1,
            label: 0,
            bbox: b,
            score: 0.9,
        }];
        let e = evaluate(&[1, 2], 2, &gt, &det).expect("eval");
        assert_eq!(e.labels[0].recall50, Some(0.5));
        // Precision 1 (less pycocotools' epsilon) up to recall 0.5, then 0: 51 of 101 thresholds.
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert!(near(e.map50, 51.0 / 101.0), "{:?}", e.map50);
        assert_eq!(e.labels[1].ap, None, "no ground truth, no AP");
        let both = [det[0], Detection { image: 2, ..det[0] }];
        let e = evaluate(&[1, 2], 1, &gt, &both).expect("eval");
        assert!(near(e.map, 1.0), "{:?}", e.map);
    }

    #[test]
    fn unknown_images_and_labels_are_errors() {
        let b = BBox::new(0.0, 0.0, 1.0, 1.0);
        let gt = [GroundTruth {
            image: 7,
            label: 0,
            bbox: b,
        }];
        assert_eq!(evaluate(&[1], 1, &gt, &[]), Err(EvalError::UnknownImage(7)));
        let gt = [GroundTruth {
            image: 1,
            label: 3,
            bbox: b,
        }];
        assert_eq!(
            evaluate(&[1], 1, &gt, &[]),
            Err(EvalError::UnknownLabel { label: 3, count: 1 })
        );
    }
}
