//! Non-maximum suppression of detections: what turns the head's peaks (or the exported
//! graph's) into one box per object, the same way in atelier and in the exported `decode.py`.

use crate::geometry::BBox;

/// Two boxes of one class overlapping by more than this IoU are one object:
/// [`suppress_overlaps`] keeps the better-scored one.
pub const NMS_IOU: f64 = 0.5;

/// Greedy per-class non-maximum suppression of score-sorted detections: a detection is kept
/// unless a kept one of its class overlaps it by more than [`NMS_IOU`]; at most `max_kept`.
/// Peaks of one object in neighbouring cells (a wide object's centre straddling cells) would
/// otherwise each count as a detection.
pub fn suppress_overlaps(
    sorted: Vec<(usize, BBox, f32)>,
    max_kept: usize,
) -> Vec<(usize, BBox, f32)> {
    let mut kept: Vec<(usize, BBox, f32)> = Vec::new();
    for candidate in sorted {
        if kept.len() == max_kept {
            break;
        }
        let (class, bbox, _) = &candidate;
        if !kept
            .iter()
            .any(|(k, b, _)| k == class && b.iou(bbox) > NMS_IOU)
        {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_detections_of_one_class_keep_the_best_scored_only() {
        let b = |x: f64| BBox::new(x, 0.0, x + 10.0, 10.0);
        // IoU of b(0) and b(3): 70 / 130 = 0.54 (suppressed); b(0) and b(4): 60 / 140 = 0.43.
        let sorted = vec![
            (0, b(0.0), 0.9),
            (1, b(0.0), 0.8),
            (0, b(3.0), 0.7),
            (0, b(4.0), 0.6),
            (1, b(20.0), 0.5),
            (0, b(40.0), 0.4),
        ];
        let kept = suppress_overlaps(sorted.clone(), 100);
        let scores: Vec<f32> = kept.iter().map(|d| d.2).collect();
        assert_eq!(scores, vec![0.9, 0.8, 0.6, 0.5, 0.4]);
        let first_two = suppress_overlaps(sorted, 2);
        assert_eq!(
            first_two.iter().map(|d| d.2).collect::<Vec<_>>(),
            vec![0.9, 0.8]
        );
    }
}
