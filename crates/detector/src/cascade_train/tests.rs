//! The writer's XML read back by `atelier_haar`, and the trainer's refusals.

use atelier_haar::{Cascade, DetectParams, FeatureType, GrayImage, Rect, Size};

use super::boost::{Stage, Stump};
use super::lbp::LbpRect;
use super::*;
use crate::geometry::BBox;

fn cascade(window: Size, stages: Vec<Stage>) -> TrainedCascade {
    TrainedCascade {
        window,
        stages,
        params: CascadeParams::default(),
        report: TrainReport {
            positives: 0,
            stages: vec![],
            stop: StopReason::StagesDone,
            seconds: 0.0,
        },
    }
}

/// One stump on a 3×3 window of 1×1 blocks accepting only code 255 (no neighbour darker than
/// the centre): the cascade of `atelier_haar`'s own OpenCV-checked LBP test.
fn no_darker_neighbour() -> TrainedCascade {
    let mut subset = [0u32; 8];
    subset[7] = 1 << 31;
    cascade(
        Size::new(3, 3),
        vec![Stage {
            stumps: vec![Stump {
                feature: LbpRect {
                    x: 0,
                    y: 0,
                    width: 1,
                    height: 1,
                },
                subset,
                left: 1.0,
                right: -1.0,
            }],
            threshold: 0.0,
        }],
    )
}

#[test]
fn a_written_cascade_finds_in_atelier_haar_the_windows_opencv_finds() {
    let xml = no_darker_neighbour().to_xml();
    let c = Cascade::from_xml(&xml).expect("atelier_haar reads it");
    assert_eq!(c.feature_type(), FeatureType::Lbp);
    assert_eq!(
        (c.window_size(), c.stage_count(), c.tree_count()),
        (Size::new(3, 3), 1, 1)
    );
    // A 7×7 image of 100 with one dark pixel at (4, 3): OpenCV 4.14 finds these four windows
    // with scale factor 2 and no grouping (crates/haar/src/detect.rs checks the same).
    let mut pixels = vec![100u8; 49];
    pixels[3 * 7 + 4] = 10;
    let img = GrayImage::packed(&pixels, 7, 7).expect("image");
    let params = DetectParams {
        scale_factor: 2.0,
        min_neighbors: 0,
        ..DetectParams::default()
    };
    assert_eq!(
        c.detect_multi_scale(&img, &params).expect("detect"),
        vec![
            Rect::new(0, 0, 3, 3),
            Rect::new(2, 0, 3, 3),
            Rect::new(4, 0, 3, 3),
            Rect::new(0, 2, 3, 3),
        ]
    );
}

/// Every element path of a document (`_` items collapsed), to compare layouts.
fn element_paths(xml: &str) -> std::collections::BTreeSet<String> {
    let doc = roxmltree::Document::parse(xml).expect("xml");
    doc.descendants()
        .filter(|n| n.is_element())
        .map(|n| {
            let mut names: Vec<&str> = n
                .ancestors()
                .filter(|a| a.is_element())
                .map(|a| a.tag_name().name())
                .collect();
            names.reverse();
            names.join("/")
        })
        .collect()
}

#[test]
fn the_layout_is_that_of_opencvs_shipped_lbp_cascades() {
    let shipped = "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml";
    let Ok(text) = std::fs::read_to_string(shipped) else {
        eprintln!("SKIPPED layout comparison: {shipped} missing (Debian's opencv-data)");
        return;
    };
    assert_eq!(
        element_paths(&no_darker_neighbour().to_xml()),
        element_paths(&text)
    );
}

fn pseudo_random_cascade(seed: u64) -> TrainedCascade {
    let mut rng = Rng::new(seed);
    let window = Size::new(12, 12);
    let features = lbp::enumerate(window);
    let stages = (0..4)
        .map(|_| {
            let stumps: Vec<Stump> = (0..5)
                .map(|_| Stump {
                    feature: features[rng.below(features.len())],
                    subset: std::array::from_fn(|_| rng.next_u64() as u32),
                    left: rng.uniform(-1.0, 1.0) as f32,
                    right: rng.uniform(-1.0, 1.0) as f32,
                })
                .collect();
            Stage {
                stumps,
                threshold: rng.uniform(-2.5, -0.5) as f32,
            }
        })
        .collect();
    cascade(window, stages)
}

#[test]
fn every_window_atelier_haar_accepts_is_accepted_by_the_trainers_evaluation() {
    let c = pseudo_random_cascade(7);
    let read = Cascade::from_xml(&c.to_xml()).expect("atelier_haar reads it");
    assert_eq!((read.stage_count(), read.tree_count()), (4, 20));
    // A noisy 64×48 image scanned at scale 1 only (the window is the largest size allowed).
    let mut rng = Rng::new(11);
    let (w, h) = (64usize, 48usize);
    let pixels: Vec<u8> = (0..w * h).map(|_| rng.below(256) as u8).collect();
    let img = GrayImage::packed(&pixels, w as u32, h as u32).expect("image");
    let params = DetectParams {
        min_neighbors: 0,
        max_size: Size::new(12, 12),
        ..DetectParams::default()
    };
    let found = read.detect_candidates(&img, &params).expect("detect");
    assert!(!found.is_empty(), "the test needs some windows to pass");
    let frame = GrayFrame {
        width: w as u32,
        height: h as u32,
        pixels,
    };
    let patch = |x: i32, y: i32| frame.resample(f64::from(x), f64::from(y), 1.0, 1.0, c.window);
    for r in &found {
        assert_eq!((r.width, r.height), (12, 12));
        assert!(c.accepts(&patch(r.x, r.y)), "{r:?}");
    }
    // And the windows it rejects at even positions are ones our evaluation rejects too, except
    // those OpenCV never looks at (it skips a column after a first-stage rejection).
    let accepted_even = (0..=(h as i32 - 12))
        .step_by(2)
        .flat_map(|y| (0..=(w as i32 - 12)).step_by(2).map(move |x| (x, y)))
        .filter(|&(x, y)| c.accepts(&patch(x, y)))
        .count();
    assert!(found.len() <= accepted_even);
}

#[test]
fn too_few_positives_and_no_room_for_negatives_are_refused() {
    let image = GrayFrame {
        width: 12,
        height: 12,
        pixels: vec![128; 12 * 12],
    };
    let one = TrainingFrame {
        image,
        positives: vec![BBox::new(0.0, 0.0, 12.0, 12.0)],
        ignore: vec![],
    };
    let params = CascadeParams {
        window: Size::new(12, 12),
        jitter: 0,
        max_mining_windows: 10_000,
        ..CascadeParams::default()
    };
    assert_eq!(
        train(
            std::slice::from_ref(&one),
            &params,
            &mut crate::no_progress()
        ),
        Err(CascadeTrainError::TooFewPositives {
            found: 2,
            needed: MIN_POSITIVES
        })
    );
    // Ten frames the size of the window, filled by the object: every window is the object.
    let full = vec![one; 10];
    assert_eq!(
        train(&full, &params, &mut crate::no_progress()),
        Err(CascadeTrainError::NoNegatives)
    );
    let tiny = CascadeParams {
        window: Size::new(3, 3),
        ..params
    };
    assert!(matches!(
        train(&full, &tiny, &mut crate::no_progress()),
        Err(CascadeTrainError::BadParams(_))
    ));
}
