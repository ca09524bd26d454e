//! End-to-end tests of the animate pipeline on synthetic drawings with known ground truth.
#![allow(clippy::unwrap_used)]

mod common;

use atelier_animate::skeleton::*;
use atelier_animate::{
    AnalyzeParams, AnimateError, Background, Character, Motion, RenderParams, SkeletonSource,
    Stage, analyze, segment,
};
use common::*;

fn quiet() -> impl FnMut(atelier_animate::Stage, f32) -> bool {
    |_, _| true
}

/// The drawings every test uses: (name, width, height, figure, paper).
fn cases() -> Vec<(&'static str, u32, u32, Figure, Paper)> {
    vec![
        (
            "stick black 512",
            512,
            512,
            figure(
                256.0,
                40.0,
                430.0,
                Style::Stick { width: 8.0 },
                [20, 20, 20],
                0,
                1.0,
            ),
            CLEAN,
        ),
        (
            "stick red rough 400x300",
            300,
            400,
            figure(
                150.0,
                30.0,
                330.0,
                Style::Stick { width: 7.0 },
                [200, 30, 30],
                1,
                1.2,
            ),
            ROUGH,
        ),
        (
            "filled blue 512",
            512,
            512,
            figure(
                256.0,
                50.0,
                400.0,
                Style::Filled {
                    limb: 22.0,
                    torso: 90.0,
                    head: 40.0,
                },
                [40, 60, 200],
                0,
                1.0,
            ),
            ROUGH,
        ),
        (
            "filled green raised arms 256",
            256,
            256,
            figure(
                128.0,
                30.0,
                200.0,
                Style::Filled {
                    limb: 11.0,
                    torso: 44.0,
                    head: 19.0,
                },
                [30, 150, 60],
                2,
                1.4,
            ),
            CLEAN,
        ),
        (
            "stick purple T-pose 640x480 rough",
            640,
            480,
            figure(
                320.0,
                40.0,
                400.0,
                Style::Stick { width: 9.0 },
                [120, 40, 160],
                1,
                0.8,
            ),
            Paper {
                shade: 0.3,
                noise: 9.0,
                seed: 3,
            },
        ),
    ]
}

fn iou(mask: &image::GrayImage, truth: &[bool]) -> f32 {
    let (mut i, mut u) = (0usize, 0usize);
    for (p, &t) in mask.pixels().zip(truth) {
        let m = p[0] > 127;
        i += usize::from(m && t);
        u += usize::from(m || t);
    }
    i as f32 / u as f32
}

fn analyzed(fig: &Figure, w: u32, h: u32, paper: Paper) -> (Character, Vec<bool>) {
    let (img, truth) = draw(w, h, std::slice::from_ref(fig), paper);
    (
        analyze(&img, &AnalyzeParams::default(), &mut quiet()).unwrap(),
        truth,
    )
}

#[test]
fn masks_cover_the_figure_in_one_piece() {
    for (name, w, h, fig, paper) in cases() {
        let (c, truth) = analyzed(&fig, w, h, paper);
        let m = c.mask_image();
        let score = iou(&m, &truth);
        println!("{name}: IoU {score:.3}");
        assert!(score >= 0.9, "{name}: IoU {score}");
        let (_, areas) = segment::components(&c.mask);
        assert_eq!(areas.len(), 1, "{name}: mask in {} pieces", areas.len());
    }
}

#[test]
fn joints_are_found_near_where_they_were_drawn() {
    for (name, w, h, fig, paper) in cases() {
        let (c, _) = analyzed(&fig, w, h, paper);
        assert_eq!(c.skeleton_source, SkeletonSource::Geometric, "{name}");
        let height = fig.joints[R_FOOT].y - fig.joints[NECK].y + fig.head_r;
        let got = c.joints();
        let mut worst = (0.0f32, "");
        for (i, n) in JOINT_NAMES.iter().enumerate() {
            let e = got[i].dist(fig.joints[i]) / height;
            println!("{name}: {n:15} error {:.3} of the height", e);
            if e > worst.0 {
                worst = (e, n);
            }
            // Extremities and trunk are tight; elbows/knees/shoulders/hips looser.
            let tol = match i {
                R_ELBOW | L_ELBOW | R_KNEE | L_KNEE | R_SHOULDER | L_SHOULDER | R_HIP | L_HIP => {
                    0.1
                }
                _ => 0.08,
            };
            assert!(e <= tol, "{name}: {n} off by {e:.3} of the height");
        }
        println!("{name}: worst {} {:.3}", worst.1, worst.0);
    }
}

fn small_render(fps: u32, duration_s: f32) -> RenderParams {
    RenderParams {
        fps,
        duration_s,
        width: 96,
        height: 96,
        ..RenderParams::default()
    }
}

/// Drawings with the arms raised above the head and held down along the body, filled and
/// stick: the poses that make a 2D mesh fold at the armpit when the motion swings the arms.
fn arm_cases() -> Vec<(&'static str, u32, u32, Figure, Paper)> {
    let filled = Style::Filled {
        limb: 16.0,
        torso: 64.0,
        head: 28.0,
    };
    vec![
        (
            "filled orange arms along body 384",
            384,
            384,
            figure(192.0, 40.0, 300.0, filled, [220, 120, 20], 3, 1.0),
            ROUGH,
        ),
        (
            "filled teal raised arms 384",
            384,
            384,
            figure(192.0, 60.0, 290.0, filled, [20, 140, 140], 2, 0.9),
            CLEAN,
        ),
        (
            "stick black arms along body 320",
            320,
            320,
            figure(
                160.0,
                30.0,
                260.0,
                Style::Stick { width: 6.0 },
                [10, 10, 10],
                3,
                1.0,
            ),
            CLEAN,
        ),
        (
            "stick brown raised arms 320",
            320,
            320,
            figure(
                160.0,
                40.0,
                250.0,
                Style::Stick { width: 7.0 },
                [110, 60, 20],
                2,
                1.0,
            ),
            ROUGH,
        ),
    ]
}

/// Pose each drawing through every motion, at 30 fps over the longest clip (every frame of
/// every clip), asserting that bones keep their length; returns a table (per figure and
/// motion: frames with a folded triangle / most folded triangles in a frame) and the list of
/// folded frames.
fn folds(figures: Vec<(&'static str, u32, u32, Figure, Paper)>) -> (String, Vec<String>) {
    let params = small_render(30, 1.6);
    let mut table = String::new();
    let mut failures = Vec::new();
    for (name, w, h, fig, paper) in figures {
        let (c, _) = analyzed(&fig, w, h, paper);
        let rest_areas = c.rig.mesh.signed_areas(&c.rig.mesh.vertices);
        assert!(
            rest_areas.iter().all(|&a| a > 0.0),
            "{name}: rest mesh has flipped triangles"
        );
        let rest = c.rig.rest_joints;
        table.push_str(&format!("{name:36}"));
        for m in Motion::ALL {
            let anim = atelier_animate::pose(&c, m, &params, &mut quiet()).unwrap();
            let (mut frames, mut worst) = (0, 0);
            for (f, (p, v)) in anim.poses.iter().zip(&anim.vertices).enumerate() {
                for ch in 1..16 {
                    let par = PARENTS[ch].unwrap();
                    let (a, b) = (rest[par].dist(rest[ch]), p[par].dist(p[ch]));
                    assert!(
                        (a - b).abs() < 1e-2,
                        "{name} {m} frame {f}: bone {} {a} -> {b}",
                        JOINT_NAMES[ch]
                    );
                }
                let areas = c.rig.mesh.signed_areas(v);
                let flipped = areas.iter().filter(|&&a| a <= 0.0).count();
                if flipped > 0 {
                    frames += 1;
                    worst = worst.max(flipped);
                    failures.push(format!("{name} {m} frame {f}: {flipped} flipped"));
                }
            }
            table.push_str(&format!(" {m}:{frames}/{worst}"));
        }
        table.push('\n');
    }
    (table, failures)
}

#[test]
fn no_triangle_flips_and_bones_keep_their_length_in_any_frame_of_any_motion() {
    let (table, failures) = folds(cases().into_iter().take(4).collect());
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn raised_arms_and_arms_along_the_body_animate_without_folds() {
    let (table, failures) = folds(arm_cases());
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn frame_count_is_fps_times_duration_and_progress_names_the_stages() {
    let (name, w, h, fig, paper) = cases().swap_remove(0);
    let (c, _) = analyzed(&fig, w, h, paper);
    let mut stages = Vec::new();
    let frames = atelier_animate::render(&c, Motion::Wave, &small_render(12, 1.5), &mut |s, _| {
        stages.push(s);
        true
    })
    .unwrap();
    assert_eq!(frames.frames.len(), 18, "{name}");
    assert_eq!(frames.fps, 12);
    assert!(frames.frames.iter().all(|f| f.dimensions() == (96, 96)));
    stages.dedup();
    assert_eq!(stages, [Stage::Retarget, Stage::Render]);
    // Transparent background: corners clear, the character opaque somewhere.
    let f = &frames.frames[0];
    assert_eq!(f.get_pixel(0, 0)[3], 0);
    assert!(f.pixels().any(|p| p[3] == 255));
    // Frames differ: the character moves.
    assert_ne!(frames.frames[0], frames.frames[9]);
    let coloured = atelier_animate::render(
        &c,
        Motion::Walk,
        &RenderParams {
            background: Background::Color([255, 255, 0]),
            ..small_render(10, 0.5)
        },
        &mut quiet(),
    )
    .unwrap();
    assert_eq!(coloured.frames.len(), 5);
    assert_eq!(coloured.frames[0].get_pixel(0, 0).0, [255, 255, 0, 255]);
}

#[test]
fn analysis_reports_its_stages_in_order() {
    let (_, w, h, fig, paper) = cases().swap_remove(3);
    let (img, _) = draw(w, h, &[fig], paper);
    let mut stages = Vec::new();
    analyze(&img, &AnalyzeParams::default(), &mut |s, _| {
        stages.push(s);
        true
    })
    .unwrap();
    stages.dedup();
    assert_eq!(stages, [Stage::Segment, Stage::Skeleton, Stage::Rig]);
}

#[test]
fn a_callback_that_says_stop_stops_the_render_between_chunks() {
    let (_, w, h, fig, paper) = cases().swap_remove(0);
    let (c, _) = analyzed(&fig, w, h, paper);
    // 10 s at 24 fps: 240 frames, many chunks.
    let params = small_render(24, 10.0);
    let mut render_reports = 0;
    let stopped = atelier_animate::render(&c, Motion::Dance, &params, &mut |s, _| {
        if s == Stage::Render {
            render_reports += 1;
        }
        render_reports < 2
    });
    assert_eq!(stopped.unwrap_err(), AnimateError::Canceled);
    assert_eq!(
        render_reports, 2,
        "stopped at the first check after the ask"
    );

    let mut reports = 0;
    let stopped = analyze(
        &draw(w, h, &[fig], paper).0,
        &AnalyzeParams::default(),
        &mut |_, _| {
            reports += 1;
            false
        },
    );
    assert_eq!(stopped.unwrap_err(), AnimateError::Canceled);
    assert_eq!(reports, 1, "analysis stops at its first stage");
}

#[test]
fn produce_writes_every_asked_format_and_the_mask() {
    let (_, w, h, fig, paper) = cases().swap_remove(0);
    let (img, _) = draw(w, h, &[fig], paper);
    let request = atelier_animate::ProduceRequest {
        analyze: AnalyzeParams::default(),
        motion: Motion::Wave,
        render: small_render(8, 0.5),
        formats: vec![
            atelier_animate::FileFormat::Gif,
            atelier_animate::FileFormat::SpriteSheet,
        ],
        mask: true,
    };
    let mut last = 0.0f32;
    let produced = atelier_animate::produce(&img, &request, &mut |s, f| {
        let overall = atelier_animate::produce::overall(s, f);
        assert!(overall + 1e-6 >= last, "progress only goes forward");
        last = overall;
        true
    })
    .unwrap();
    assert_eq!(last, 1.0);
    let roles: Vec<&str> = produced.files.iter().map(|f| f.role).collect();
    assert_eq!(roles, ["gif", "sprite_sheet", "mask"]);
    assert_eq!(produced.frame_count, 4);
    assert_eq!(produced.files[0].dimensions, (96, 96));
    assert_eq!(produced.files[1].dimensions, (192, 192), "2×2 frames");
    assert_eq!(&produced.files[0].bytes[..6], b"GIF89a");
    assert_eq!(&produced.files[1].bytes[1..4], b"PNG");
}

#[test]
fn a_tiny_rest_pose_render_matches_the_golden_image() {
    let fig = figure(
        40.0,
        6.0,
        68.0,
        Style::Filled {
            limb: 5.0,
            torso: 16.0,
            head: 7.0,
        },
        [200, 40, 40],
        0,
        1.0,
    );
    let (c, _) = analyzed(&fig, 80, 80, CLEAN);
    let params = RenderParams {
        width: 64,
        height: 64,
        background: Background::Color([255, 255, 255]),
        ..RenderParams::default()
    };
    let frame =
        atelier_animate::draw(&c, &atelier_animate::Animation::at_rest(&c), &params).swap_remove(0);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rest_64.png");
    if std::env::var_os("ATELIER_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        frame.save(path).unwrap();
    }
    let golden = image::open(path).unwrap().to_rgba8();
    assert_eq!(golden.dimensions(), frame.dimensions());
    let (mut sum, mut max) = (0u64, 0u8);
    for (a, b) in golden.pixels().zip(frame.pixels()) {
        for k in 0..4 {
            let d = a[k].abs_diff(b[k]);
            sum += u64::from(d);
            max = max.max(d);
        }
    }
    let mean = sum as f64 / (64.0 * 64.0 * 4.0);
    assert!(mean < 1.0 && max < 48, "mean {mean}, max {max}");
    // The red figure is there: plenty of reddish pixels, white corners.
    assert_eq!(frame.get_pixel(0, 0).0, [255, 255, 255, 255]);
    assert!(frame.pixels().filter(|p| p[0] > 150 && p[1] < 90).count() > 150);
}

#[test]
fn a_blank_page_is_refused() {
    let (img, _) = draw(300, 300, &[], ROUGH);
    assert_eq!(
        analyze(&img, &AnalyzeParams::default(), &mut quiet()).unwrap_err(),
        AnimateError::NoFigure
    );
    let white = image::RgbaImage::from_pixel(200, 200, image::Rgba([255, 255, 255, 255]));
    assert_eq!(
        analyze(&white, &AnalyzeParams::default(), &mut quiet()).unwrap_err(),
        AnimateError::NoFigure
    );
}

#[test]
fn two_figures_of_similar_size_are_refused() {
    let a = figure(
        120.0,
        40.0,
        300.0,
        Style::Stick { width: 7.0 },
        [0, 0, 0],
        0,
        1.0,
    );
    let b = figure(
        380.0,
        60.0,
        280.0,
        Style::Stick { width: 7.0 },
        [0, 0, 200],
        1,
        1.0,
    );
    let (img, _) = draw(512, 400, &[a.clone(), b], CLEAN);
    assert_eq!(
        analyze(&img, &AnalyzeParams::default(), &mut quiet()).unwrap_err(),
        AnimateError::MultipleFigures { count: 2 }
    );
    // A small doodle next to the figure is not a second figure.
    let dot = figure(
        450.0,
        20.0,
        40.0,
        Style::Stick { width: 3.0 },
        [0, 0, 0],
        0,
        1.0,
    );
    let (img, _) = draw(512, 400, &[a, dot], CLEAN);
    assert!(analyze(&img, &AnalyzeParams::default(), &mut quiet()).is_ok());
}

#[test]
fn an_image_over_the_pixel_limit_is_refused_before_any_work() {
    let img = image::RgbaImage::new(1000, 800);
    let params = AnalyzeParams {
        max_pixels: 500_000,
        ..AnalyzeParams::default()
    };
    assert_eq!(
        analyze(&img, &params, &mut quiet()).unwrap_err(),
        AnimateError::ImageTooLarge {
            width: 1000,
            height: 800,
            max_pixels: 500_000
        }
    );
}

#[test]
fn edited_joints_are_validated_and_rerig_the_character() {
    let (name, w, h, fig, paper) = cases().swap_remove(0);
    let (c, _) = analyzed(&fig, w, h, paper);
    let mut list = c.info().joints;
    // Move the right hand a bit: accepted, used verbatim, source "user".
    list[R_HAND].loc[0] -= 10.0;
    let edited = c.with_joints(&list).unwrap();
    assert_eq!(edited.skeleton_source, SkeletonSource::User, "{name}");
    assert!((edited.joints()[R_HAND].x - list[R_HAND].loc[0]).abs() < 1e-3);
    let frames =
        atelier_animate::render(&edited, Motion::Dance, &small_render(10, 0.3), &mut quiet())
            .unwrap();
    assert_eq!(frames.frames.len(), 3);
    // Out of the image.
    let mut out = list.clone();
    out[L_FOOT].loc = [w as f32 + 5.0, 10.0];
    assert!(
        matches!(c.with_joints(&out), Err(AnimateError::JointOutsideImage { ref name, .. }) if name == "left_foot")
    );
    // Missing, duplicated, unknown, wrong parent.
    assert!(matches!(
        c.with_joints(&list[..15]),
        Err(AnimateError::InvalidJoints(_))
    ));
    let mut dup = list.clone();
    dup[1].name = "root".into();
    assert!(matches!(
        c.with_joints(&dup),
        Err(AnimateError::InvalidJoints(_))
    ));
    let mut unknown = list.clone();
    unknown[3].name = "tail".into();
    assert!(matches!(
        c.with_joints(&unknown),
        Err(AnimateError::InvalidJoints(_))
    ));
    let mut parent = list.clone();
    parent[R_HAND].parent = Some("torso".into());
    assert!(matches!(
        c.with_joints(&parent),
        Err(AnimateError::InvalidJoints(_))
    ));
    // Through analyze: the edited joints skip estimation; bad ones fail before any work.
    let (img, _) = draw(w, h, &[fig], paper);
    let c2 = analyze(
        &img,
        &AnalyzeParams {
            joints: Some(list),
            ..AnalyzeParams::default()
        },
        &mut quiet(),
    )
    .unwrap();
    assert_eq!(c2.skeleton_source, SkeletonSource::User);
    assert!(matches!(
        analyze(
            &img,
            &AnalyzeParams {
                joints: Some(out),
                ..AnalyzeParams::default()
            },
            &mut quiet()
        ),
        Err(AnimateError::JointOutsideImage { .. })
    ));
}

#[test]
fn render_parameters_out_of_range_are_refused() {
    let (_, w, h, fig, paper) = cases().swap_remove(3);
    let (c, _) = analyzed(&fig, w, h, paper);
    for p in [
        small_render(0, 1.0),
        small_render(30, 0.0),
        small_render(30, f32::NAN),
        RenderParams {
            max_frames: 10,
            ..small_render(30, 1.0)
        },
        RenderParams {
            width: 100_000,
            ..small_render(30, 1.0)
        },
    ] {
        assert!(matches!(
            atelier_animate::render(&c, Motion::Walk, &p, &mut quiet()),
            Err(AnimateError::InvalidParams(_))
        ));
    }
}

#[test]
fn character_info_is_in_source_pixels_and_round_trips_through_json() {
    let (_, w, h, fig, paper) = cases().swap_remove(4);
    let (c, _) = analyzed(&fig, w, h, paper);
    let info = c.info();
    assert_eq!((info.width, info.height), (640, 480));
    assert_eq!(info.joints.len(), 16);
    assert!(info.bbox.x + info.bbox.width <= 640 && info.bbox.y + info.bbox.height <= 480);
    let json = serde_json::to_string(&info).unwrap();
    assert!(json.contains("\"skeleton_source\":\"geometric\""));
    let back: atelier_animate::CharacterInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, info);
}

/// Every shape case posed through every motion (every frame of every clip at 30 fps): the
/// torso's area within ±5 % of the rest pose, every limb bone's drawn length within ±10 %,
/// no folded triangle, and the drawn area within ±10 %.
#[test]
fn characters_keep_their_drawn_shape_in_every_frame_of_every_motion() {
    use atelier_animate::Part;
    use atelier_animate::shape::{ShapeSummary, measure};
    let params = small_render(30, 1.6);
    let mut table = String::new();
    let mut failures = Vec::new();
    for (name, w, h, fig, paper) in shape_cases() {
        let (c, _) = analyzed(&fig, w, h, paper);
        let limbs = Part::ALL[1..]
            .iter()
            .filter(|p| c.rig.parts.contains(p))
            .count();
        if limbs < 4 {
            failures.push(format!(
                "{name}: {limbs} of 4 limbs rigged apart from the body"
            ));
        }
        for m in Motion::ALL {
            let anim = atelier_animate::pose(&c, m, &params, &mut quiet()).unwrap();
            let rig = &c.rig;
            let s = ShapeSummary::of(&measure(
                &rig.mesh,
                &rig.parts,
                &rig.rest_joints,
                &anim.vertices,
            ));
            let line = format!(
                "{name:34} {m:6} torso {:.3}-{:.3} limbs {:.3}-{:.3} folds {} drawn {:.3}-{:.3}",
                s.torso_area.0,
                s.torso_area.1,
                s.limb_length.0,
                s.limb_length.1,
                s.frames_with_folds,
                s.drawn_area.0,
                s.drawn_area.1
            );
            // Every pair, every goal: torso ±5 %, limbs ±10 %, no fold, drawn area ±10 %.
            if !s.keeps_shape() {
                failures.push(line.clone());
            }
            table.push_str(&line);
            table.push('\n');
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A red torso and head with blue arms and green legs, drawn straight into an image, with its
/// joints: the parts' colours tell, pixel by pixel, which part a frame shows.
fn coloured_figure() -> (image::RgbaImage, Joints) {
    use atelier_animate::Point;
    let p = Point::new;
    let mut j = [Point::default(); 16];
    for (i, q) in [
        (ROOT, p(100.0, 140.0)),
        (HIP, p(100.0, 140.0)),
        (TORSO, p(100.0, 75.0)),
        (NECK, p(100.0, 55.0)),
        (R_SHOULDER, p(72.0, 72.0)),
        (R_ELBOW, p(50.0, 95.0)),
        (R_HAND, p(30.0, 118.0)),
        (L_SHOULDER, p(128.0, 72.0)),
        (L_ELBOW, p(150.0, 95.0)),
        (L_HAND, p(170.0, 118.0)),
        (R_HIP, p(85.0, 140.0)),
        (R_KNEE, p(80.0, 165.0)),
        (R_FOOT, p(75.0, 190.0)),
        (L_HIP, p(115.0, 140.0)),
        (L_KNEE, p(120.0, 165.0)),
        (L_FOOT, p(125.0, 190.0)),
    ] {
        j[i] = q;
    }
    let stick = |q: Point, bones: &[(usize, usize)]| {
        bones
            .iter()
            .any(|&(a, b)| atelier_animate::geom::dist_to_segment(q, j[a], j[b]) <= 5.0)
    };
    let img = image::RgbaImage::from_fn(200, 200, |x, y| {
        let q = p(x as f32 + 0.5, y as f32 + 0.5);
        let body = (70.0..130.0).contains(&q.x) && (55.0..140.0).contains(&q.y)
            || q.dist(p(100.0, 38.0)) <= 16.0;
        if body {
            image::Rgba([200, 20, 20, 255])
        } else if stick(q, &[(R_SHOULDER, R_ELBOW), (R_ELBOW, R_HAND)])
            || stick(q, &[(L_SHOULDER, L_ELBOW), (L_ELBOW, L_HAND)])
        {
            image::Rgba([20, 20, 200, 255])
        } else if stick(
            q,
            &[
                (R_HIP, R_KNEE),
                (R_KNEE, R_FOOT),
                (L_HIP, L_KNEE),
                (L_KNEE, L_FOOT),
            ],
        ) {
            image::Rgba([20, 160, 20, 255])
        } else {
            image::Rgba([255, 255, 255, 255])
        }
    });
    (img, j)
}

/// A frame's part order decides what shows where a limb crosses the body: the right arm swung
/// across the chest is covered by the torso when the frame puts it behind, and covers the
/// torso when it puts it in front.
#[test]
fn an_arm_behind_the_body_is_covered_by_the_torso_and_one_in_front_covers_it() {
    use atelier_animate::{Animation, DrawOrder, Part, Point, render};
    let (img, rest) = coloured_figure();
    let params = AnalyzeParams {
        joints: Some(to_joint_list(&rest)),
        ..AnalyzeParams::default()
    };
    let c = analyze(&img, &params, &mut quiet()).unwrap();
    assert!(c.rig.parts.contains(&Part::RightArm));
    // The right arm turned a quarter turn about its shoulder: from hanging out to the
    // character's right, to reaching down across the chest.
    let mut pose = c.rig.rest_joints;
    let s = pose[R_SHOULDER];
    for k in [R_ELBOW, R_HAND] {
        let d = pose[k] - s;
        pose[k] = s + Point::new(d.y, -d.x);
    }
    let vertices = c.rig.deform(&pose, 6);
    let behind = DrawOrder::from_depths([-0.3, 0.0, 0.0, 0.0], 0.02);
    let in_front = DrawOrder::from_depths([0.3, 0.0, 0.0, 0.0], 0.02);
    assert!(behind.is_behind(Part::RightArm) && !in_front.is_behind(Part::RightArm));
    let anim = Animation {
        poses: vec![pose, pose],
        vertices: vec![vertices.clone(), vertices],
        orders: vec![behind, in_front],
    };
    let out = RenderParams {
        width: 200,
        height: 200,
        background: Background::Color([255, 255, 255]),
        ..RenderParams::default()
    };
    let frames = atelier_animate::draw(&c, &anim, &out);
    let fit = render::fit(&anim.vertices, 200, 200, 0.04);
    let pixel = |q: Point| {
        let f = q * fit.scale + fit.offset;
        (f.x as u32, f.y as u32)
    };
    let (red, blue) = ([200, 20, 20, 255], [20, 20, 200, 255]);
    // Along the posed forearm, inside the torso: the torso's red behind, the arm's blue in
    // front. The left arm, in the plane, stays in front and blue in both frames.
    for t in [0.3f32, 0.5, 0.7] {
        let (x, y) = pixel(pose[R_ELBOW].lerp(pose[R_HAND], t));
        assert_eq!(frames[0].get_pixel(x, y).0, red, "behind, t {t}");
        assert_eq!(frames[1].get_pixel(x, y).0, blue, "in front, t {t}");
        let (x, y) = pixel(pose[L_ELBOW].lerp(pose[L_HAND], t));
        assert_eq!(frames[0].get_pixel(x, y).0, blue);
        assert_eq!(frames[1].get_pixel(x, y).0, blue);
    }
    // Away from the arm the torso is the same in both frames.
    let (x, y) = pixel(Point::new(120.0, 130.0));
    assert_eq!(frames[0].get_pixel(x, y).0, red);
    assert_eq!(frames[1].get_pixel(x, y).0, red);
}
