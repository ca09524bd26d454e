//! OpenCV's `groupRectangles`: cluster similar boxes, average each cluster, drop weak clusters
//! and small clusters nested inside strong ones.

use crate::Rect;

/// Groups candidate boxes exactly like OpenCV's `cv::groupRectangles(rects, group_threshold, eps)`.
///
/// Two boxes are similar when every edge differs by at most
/// `eps * (min(w1, w2) + min(h1, h2)) / 2`; clusters are the connected components of that
/// relation, numbered in order of first appearance. A cluster survives when it has more than
/// `group_threshold` members; its box is the member average (rounded half to even, in `f32` like
/// OpenCV). A surviving box is then dropped if it lies inside another surviving cluster's box
/// (grown by `eps` of that box's size) and that cluster is stronger (more than `max(3, n)`
/// members) or the box itself has fewer than 3 members.
///
/// With `group_threshold <= 0` the input is returned unchanged, as in OpenCV.
pub fn group_rectangles(rects: &[Rect], group_threshold: i32, eps: f64) -> Vec<Rect> {
    if group_threshold <= 0 || rects.is_empty() {
        return rects.to_vec();
    }
    let (labels, nclasses) = partition(rects, eps);

    let mut sums = vec![[0i64; 4]; nclasses];
    let mut counts = vec![0i32; nclasses];
    for (r, &c) in rects.iter().zip(&labels) {
        let s = &mut sums[c];
        s[0] += i64::from(r.x);
        s[1] += i64::from(r.y);
        s[2] += i64::from(r.width);
        s[3] += i64::from(r.height);
        counts[c] += 1;
    }
    let averaged: Vec<Rect> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &n)| {
            let inv = 1.0f32 / n as f32;
            let avg = |v: i64| saturate_round_f32(v as f32 * inv);
            Rect::new(avg(s[0]), avg(s[1]), avg(s[2]), avg(s[3]))
        })
        .collect();

    let mut out = Vec::new();
    for (i, r1) in averaged.iter().enumerate() {
        let n1 = counts[i];
        if n1 <= group_threshold {
            continue;
        }
        let nested = averaged.iter().enumerate().any(|(j, r2)| {
            let n2 = counts[j];
            if j == i || n2 <= group_threshold {
                return false;
            }
            let dx = saturate_round_f64(f64::from(r2.width) * eps);
            let dy = saturate_round_f64(f64::from(r2.height) * eps);
            i64::from(r1.x) >= i64::from(r2.x) - i64::from(dx)
                && i64::from(r1.y) >= i64::from(r2.y) - i64::from(dy)
                && i64::from(r1.x) + i64::from(r1.width)
                    <= i64::from(r2.x) + i64::from(r2.width) + i64::from(dx)
                && i64::from(r1.y) + i64::from(r1.height)
                    <= i64::from(r2.y) + i64::from(r2.height) + i64::from(dy)
                && (n2 > n1.max(3) || n1 < 3)
        });
        if !nested {
            out.push(*r1);
        }
    }
    out
}

/// `saturate_cast<int>(float)`.
fn saturate_round_f32(v: f32) -> i32 {
    saturate_round_f64(f64::from(v))
}

/// `saturate_cast<int>(double)`: round half to even, clamp to the `i32` range.
fn saturate_round_f64(v: f64) -> i32 {
    if v.is_nan() {
        return 0;
    }
    v.round_ties_even()
        .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

/// OpenCV's `SimilarRects` predicate.
fn similar(a: &Rect, b: &Rect, eps: f64) -> bool {
    let delta = eps * (f64::from(a.width.min(b.width)) + f64::from(a.height.min(b.height))) * 0.5;
    let d = |p: i32, q: i32| (i64::from(p) - i64::from(q)).abs() as f64;
    d(a.x, b.x) <= delta
        && d(a.y, b.y) <= delta
        && d(a.x + a.width, b.x + b.width) <= delta
        && d(a.y + a.height, b.y + b.height) <= delta
}

/// Connected components of `similar`, labelled in order of first appearance like `cv::partition`.
fn partition(rects: &[Rect], eps: f64) -> (Vec<usize>, usize) {
    let n = rects.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    };

    let sizes_ok = rects.iter().all(|r| r.width >= 0 && r.height >= 0) && eps >= 0.0;
    if sizes_ok {
        // A similar pair differs in x by at most eps * (w + h) / 2 of either box, so scanning
        // boxes sorted by x only needs to look that far ahead.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| rects[i].x);
        for a in 0..n {
            let i = order[a];
            let ri = &rects[i];
            let reach = eps * (f64::from(ri.width) + f64::from(ri.height)) * 0.5;
            for &j in &order[a + 1..] {
                let rj = &rects[j];
                if (i64::from(rj.x) - i64::from(ri.x)) as f64 > reach {
                    break;
                }
                if similar(ri, rj, eps) {
                    union(&mut parent, i, j);
                }
            }
        }
    } else {
        for i in 0..n {
            for j in i + 1..n {
                if similar(&rects[i], &rects[j], eps) {
                    union(&mut parent, i, j);
                }
            }
        }
    }

    let mut class_of_root = vec![usize::MAX; n];
    let mut labels = Vec::with_capacity(n);
    let mut nclasses = 0;
    for i in 0..n {
        let root = find(&mut parent, i);
        if class_of_root[root] == usize::MAX {
            class_of_root[root] = nclasses;
            nclasses += 1;
        }
        labels.push(class_of_root[root]);
    }
    (labels, nclasses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect::new(x, y, w, h)
    }

    #[test]
    fn a_threshold_of_zero_returns_the_input_unchanged() {
        let rects = vec![r(0, 0, 10, 10), r(1, 1, 10, 10)];
        assert_eq!(group_rectangles(&rects, 0, 0.2), rects);
    }

    #[test]
    fn a_cluster_needs_more_members_than_the_threshold() {
        let rects = vec![r(10, 10, 20, 20), r(11, 10, 20, 20), r(10, 11, 20, 20)];
        assert_eq!(group_rectangles(&rects, 3, 0.2), vec![]);
        assert_eq!(group_rectangles(&rects, 2, 0.2), vec![r(10, 10, 20, 20)]);
    }

    #[test]
    fn cluster_averages_round_half_to_even() {
        // x: (10 + 11) / 2 = 10.5 -> 10; y: (11 + 12) / 2 = 11.5 -> 12; w: 20.5 -> 20.
        let rects = vec![r(10, 11, 20, 20), r(11, 12, 21, 20)];
        assert_eq!(group_rectangles(&rects, 1, 0.2), vec![r(10, 12, 20, 20)]);
    }

    #[test]
    fn distant_clusters_stay_apart_in_order_of_first_appearance() {
        let rects = vec![
            r(100, 100, 20, 20),
            r(0, 0, 20, 20),
            r(101, 100, 20, 20),
            r(1, 0, 20, 20),
        ];
        assert_eq!(
            group_rectangles(&rects, 1, 0.2),
            vec![r(100, 100, 20, 20), r(0, 0, 20, 20)]
        );
    }

    #[test]
    fn similarity_is_transitive_through_chains() {
        // Each neighbour is within delta = 0.2 * (20 + 20) / 2 = 4 of the next, the ends are not.
        let rects = vec![r(0, 0, 20, 20), r(4, 0, 20, 20), r(8, 0, 20, 20)];
        assert_eq!(group_rectangles(&rects, 2, 0.2), vec![r(4, 0, 20, 20)]);
    }

    #[test]
    fn a_small_weak_box_inside_a_strong_one_is_dropped() {
        let mut rects = Vec::new();
        for _ in 0..5 {
            rects.push(r(0, 0, 100, 100));
        }
        for _ in 0..2 {
            rects.push(r(30, 30, 20, 20));
        }
        assert_eq!(group_rectangles(&rects, 1, 0.2), vec![r(0, 0, 100, 100)]);
    }

    #[test]
    fn a_strong_inner_box_survives_a_weaker_outer_one() {
        let mut rects = Vec::new();
        for _ in 0..4 {
            rects.push(r(0, 0, 100, 100));
        }
        for _ in 0..6 {
            rects.push(r(30, 30, 20, 20));
        }
        // The inner cluster (6) is not beaten: 4 > max(3, 6) is false. The outer (4) is not inside.
        assert_eq!(
            group_rectangles(&rects, 1, 0.2),
            vec![r(0, 0, 100, 100), r(30, 30, 20, 20)]
        );
    }

    #[test]
    fn the_sorted_scan_finds_the_same_components_as_all_pairs() {
        let mut rects = Vec::new();
        let mut seed = 12345u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % m) as i32
        };
        for _ in 0..400 {
            let s = 10 + next(60);
            rects.push(r(next(300), next(300), s, s + next(5)));
        }
        let (fast, n_fast) = partition(&rects, 0.2);
        // Reference: OpenCV's quadratic partition.
        let mut parent: Vec<usize> = (0..rects.len()).collect();
        fn root(p: &[usize], mut i: usize) -> usize {
            while p[i] != i {
                i = p[i];
            }
            i
        }
        for i in 0..rects.len() {
            for j in 0..rects.len() {
                if i != j && similar(&rects[i], &rects[j], 0.2) {
                    let (a, b) = (root(&parent, i), root(&parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
        }
        let mut seen = std::collections::HashMap::new();
        let slow: Vec<usize> = (0..rects.len())
            .map(|i| {
                let n = seen.len();
                *seen.entry(root(&parent, i)).or_insert(n)
            })
            .collect();
        assert_eq!(n_fast, seen.len());
        assert_eq!(fast, slow);
    }
}
