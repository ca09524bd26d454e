//! End-to-end tests on synthetic scenes whose true depth is known.

use std::collections::HashSet;

use atelier_photo3d::synthetic::SyntheticScene;
use atelier_photo3d::{
    CameraPath, DepthConvention, DepthInput, DepthMap, LayerParams, LayeredScene, PathKind,
    Photo3dError, Plane, Pose, RenderParams, build_layers, estimate_depth, export_glb, glb,
    no_progress, render, render_frames, render_pose,
};
use image::{RgbImage, RgbaImage};

fn layered(scene: &SyntheticScene, params: &LayerParams) -> LayeredScene {
    let depth = DepthMap::from_disparity(scene.disparity.clone());
    build_layers(&scene.image, &depth, params, &no_progress).expect("valid scene")
}

/// Near-side pixels of every object boundary with a real depth step.
fn true_edges(scene: &SyntheticScene, min_step: f32) -> HashSet<(u32, u32)> {
    let (w, h) = scene.image.dimensions();
    let mut out = HashSet::new();
    for y in 0..h {
        for x in 0..w {
            for (dx, dy) in [
                (1i64, 0i64),
                (-1, 0),
                (0, 1),
                (0, -1),
                (1, 1),
                (-1, -1),
                (1, -1),
                (-1, 1),
            ] {
                let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                if nx < 0 || ny < 0 || nx >= i64::from(w) || ny >= i64::from(h) {
                    continue;
                }
                let (nx, ny) = (nx as u32, ny as u32);
                let i = (y * w + x) as usize;
                let j = (ny * w + nx) as usize;
                if scene.object[i] != scene.object[j]
                    && scene.disparity.at(x, y) > scene.disparity.at(nx, ny) + min_step
                {
                    out.insert((x, y));
                }
            }
        }
    }
    out
}

fn detected(scene: &LayeredScene) -> HashSet<(u32, u32)> {
    scene
        .edges
        .iter()
        .flat_map(|e| e.pixels.iter().copied())
        .collect()
}

fn psnr(a: &RgbImage, b: &RgbaImage) -> f64 {
    let mut se = 0f64;
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            se += (f64::from(p.0[c]) - f64::from(q.0[c])).powi(2);
        }
    }
    let mse = se / (a.width() as f64 * a.height() as f64 * 3.0);
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[test]
fn recovered_edges_are_exactly_the_known_depth_steps_of_a_card_scene() {
    let scene = SyntheticScene::cards(160, 120);
    let layered = layered(&scene, &LayerParams::default());
    let truth = true_edges(&scene, 0.1);
    assert!(truth.len() > 200, "the scene has edges: {}", truth.len());
    assert_eq!(detected(&layered), truth);
    assert_eq!(layered.edges.len(), 2, "one linked edge per card");
    for e in &layered.edges {
        assert!(e.near > e.far + 0.1, "{} vs {}", e.near, e.far);
    }
}

#[test]
fn recovered_edges_follow_the_outlines_of_boxes_and_spheres() {
    let scene = SyntheticScene::mixed(192, 144);
    let layered = layered(&scene, &LayerParams::default());
    let truth = true_edges(&scene, 0.1);
    let found = detected(&layered);
    let near = |set: &HashSet<(u32, u32)>, (x, y): (u32, u32), r: i64| {
        (-r..=r).any(|dy| {
            (-r..=r).any(|dx| {
                let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                nx >= 0 && ny >= 0 && set.contains(&(nx as u32, ny as u32))
            })
        })
    };
    let recall = truth.iter().filter(|&&p| near(&found, p, 1)).count() as f64 / truth.len() as f64;
    let precision =
        found.iter().filter(|&&p| near(&truth, p, 2)).count() as f64 / found.len() as f64;
    assert!(recall >= 0.97, "recall {recall}");
    assert!(precision >= 0.97, "precision {precision}");
    // The floor meets the wall without a step: no cut along that crease.
    let crease_cuts = found
        .iter()
        .filter(|&&(x, y)| {
            let i = (y * 192 + x) as usize;
            scene.object[i] == 1 && !near(&truth, (x, y), 2)
        })
        .count();
    assert_eq!(crease_cuts, 0);
}

#[test]
fn the_start_pose_reproduces_the_photo() {
    let scene = SyntheticScene::mixed(192, 144);
    let layered = layered(&scene, &LayerParams::default());
    let frame = render_pose(&layered, &Pose::IDENTITY, &RenderParams::default());
    assert_eq!(frame.uncovered_samples, 0);
    let p = psnr(&scene.image, &frame.image);
    assert!(p >= 35.0, "PSNR {p} dB");
    // Paths that start at the photo's pose start with the photo, magnified by the path's
    // zoom (which keeps the border out of every frame).
    for kind in [PathKind::ZoomIn, PathKind::DollyZoom, PathKind::Swing] {
        let path = CameraPath {
            kind,
            duration: 1.0,
            fps: 4,
            amplitude: 0.05,
        };
        let frames = render(&layered, &path, &RenderParams::default(), &no_progress).unwrap();
        let zoom = path.zoom(&layered);
        assert!((1.0..1.2).contains(&zoom), "{kind:?}: {zoom}");
        let start = Pose {
            focal_scale: zoom,
            ..Pose::IDENTITY
        };
        assert_eq!(
            frames[0],
            render_pose(&layered, &start, &RenderParams::default()).image,
            "{kind:?}"
        );
        assert_ne!(frames[0], frames[1], "{kind:?} moves");
    }
}

/// Longest projected triangle edge (pixels) over the scene's triangles for `pose`.
fn longest_edge(scene: &LayeredScene, pose: &Pose) -> f32 {
    let mut longest = 0f32;
    for layer in &scene.layers {
        let p: Vec<_> = layer
            .vertices
            .iter()
            .map(|v| {
                atelier_photo3d::camera::project(scene, pose, v).expect("in front of the camera")
            })
            .collect();
        for q in &layer.quads {
            for t in q.triangles() {
                for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                    let (a, b) = (p[a as usize], p[b as usize]);
                    longest = longest.max(((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt());
                }
            }
        }
    }
    longest
}

#[test]
fn moving_the_camera_uncovers_no_hole_and_stretches_no_triangle() {
    let scene = SyntheticScene::mixed(192, 144);
    let params = LayerParams::default();
    let layered = layered(&scene, &params);
    for kind in PathKind::ALL {
        let path = CameraPath {
            kind,
            duration: 1.0,
            fps: 8,
            amplitude: params.max_amplitude,
        };
        let frames =
            render_frames(&layered, &path, &RenderParams::default(), &no_progress).unwrap();
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.uncovered_samples, 0, "{kind:?} frame {i}");
            let edge = longest_edge(&layered, &path.pose(&layered, i));
            // A pixel quad spans ~1.4 px; steep but continuous surfaces (the box's sides,
            // the sphere's limb) stretch a little; a triangle across a cut would stretch by
            // the parallax difference of the edge (more than 5 px here, see below).
            assert!(
                edge < 3.0,
                "{kind:?} frame {i}: a triangle edge of {edge} px"
            );
        }
    }
    // The same check fails on a mesh that is not cut (a rubber sheet), so it can fail.
    let uncut = layered_without_cuts(&scene);
    let path = CameraPath {
        kind: PathKind::Circle,
        duration: 1.0,
        fps: 8,
        amplitude: params.max_amplitude,
    };
    let stretched = longest_edge(&uncut, &path.pose(&uncut, 0));
    assert!(stretched > 5.0, "{stretched}");
}

fn layered_without_cuts(scene: &SyntheticScene) -> LayeredScene {
    layered(
        scene,
        &LayerParams {
            edge_step: 1.0,
            ..LayerParams::default()
        },
    )
}

#[test]
fn frame_count_is_fps_times_duration() {
    let scene = SyntheticScene::cards(48, 32);
    let layered = layered(&scene, &LayerParams::default());
    let path = CameraPath {
        kind: PathKind::Circle,
        duration: 4.0,
        fps: 30,
        amplitude: 0.03,
    };
    let frames = render(&layered, &path, &RenderParams::default(), &no_progress).unwrap();
    assert_eq!(frames.len(), 120);
    assert!(frames.iter().all(|f| f.dimensions() == (48, 32)));
    let too_many = RenderParams {
        max_frames: 100,
        ..RenderParams::default()
    };
    assert!(matches!(
        render(&layered, &path, &too_many, &no_progress),
        Err(Photo3dError::InvalidParams(_))
    ));
}

#[test]
fn the_glb_parses_back_with_every_triangle_and_texture() {
    let scene = SyntheticScene::mixed(96, 72);
    let layered = layered(&scene, &LayerParams::default());
    let bytes = export_glb(&layered).unwrap();
    let info = glb::inspect(&bytes).unwrap();
    assert_eq!(info.meshes, 2);
    assert_eq!(info.triangles, layered.triangle_count());
    let grid = (layered.grid_width(), layered.grid_height());
    assert_eq!(info.images, vec![grid, grid]);
    // Corruption is detected.
    let mut broken = bytes.clone();
    broken.truncate(bytes.len() - 7);
    assert!(glb::inspect(&broken).is_err());
}

#[test]
fn a_supplied_16_bit_depth_png_gives_the_same_edges_as_the_true_depth() {
    let scene = SyntheticScene::cards(120, 90);
    let png16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(120, 90, |x, y| {
        image::Luma([(scene.disparity.at(x, y) * 65535.0).round() as u16])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    png16.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    let estimate = estimate_depth(
        &scene.image,
        DepthInput::Supplied {
            bytes: bytes.get_ref(),
            convention: DepthConvention::Disparity,
        },
    )
    .unwrap();
    assert_eq!(estimate.source.describe(), "supplied (disparity)");
    let from_png = build_layers(
        &scene.image,
        &estimate.map,
        &LayerParams::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(detected(&from_png), true_edges(&scene, 0.1));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let scene = SyntheticScene::cards(64, 48);
    let params = LayerParams::default();
    // Depth of the wrong size.
    let small = DepthMap::from_disparity(Plane::filled(32, 48, 0.5));
    assert!(matches!(
        build_layers(&scene.image, &small, &params, &no_progress),
        Err(Photo3dError::DepthSizeMismatch {
            got_width: 32,
            width: 64,
            ..
        })
    ));
    // A 20k-pixel panorama.
    let pano = RgbImage::new(20_000, 16);
    let flat = DepthMap::from_disparity(Plane::filled(20_000, 16, 0.5));
    assert!(matches!(
        build_layers(&pano, &flat, &params, &no_progress),
        Err(Photo3dError::TooLarge { width: 20_000, .. })
    ));
    // Empty input.
    let empty = RgbImage::new(0, 0);
    assert!(matches!(
        estimate_depth(&empty, DepthInput::Classical),
        Err(Photo3dError::EmptyImage { .. })
    ));
    assert!(matches!(
        build_layers(
            &empty,
            &DepthMap::from_disparity(Plane::filled(0, 0, 0.0)),
            &params,
            &no_progress
        ),
        Err(Photo3dError::EmptyImage { .. })
    ));
    // Out-of-range parameters.
    assert!(matches!(
        build_layers(
            &scene.image,
            &DepthMap::from_disparity(scene.disparity.clone()),
            &LayerParams {
                far_disparity: 1.5,
                ..params.clone()
            },
            &no_progress
        ),
        Err(Photo3dError::InvalidParams(_))
    ));
}

#[test]
fn a_constant_depth_map_makes_a_flat_card_without_holes() {
    let scene = SyntheticScene::cards(64, 48);
    let flat = DepthMap::from_disparity(Plane::filled(64, 48, 0.3));
    let layered = build_layers(&scene.image, &flat, &LayerParams::default(), &no_progress).unwrap();
    assert!(layered.edges.is_empty());
    assert!(layered.layers[1].quads.is_empty(), "no background band");
    let path = CameraPath {
        kind: PathKind::Circle,
        duration: 1.0,
        fps: 6,
        amplitude: 0.05,
    };
    for f in render_frames(&layered, &path, &RenderParams::default(), &no_progress).unwrap() {
        assert_eq!(f.uncovered_samples, 0);
    }
}

#[test]
fn the_classical_fallback_runs_end_to_end_and_says_so() {
    let scene = SyntheticScene::mixed(96, 72);
    let estimate = estimate_depth(&scene.image, DepthInput::Classical).unwrap();
    assert_eq!(estimate.source, atelier_photo3d::DepthSource::Classical);
    let layered = build_layers(
        &scene.image,
        &estimate.map,
        &LayerParams::default(),
        &no_progress,
    )
    .unwrap();
    let path = CameraPath {
        kind: PathKind::Swing,
        duration: 1.0,
        fps: 6,
        amplitude: 0.05,
    };
    for f in render_frames(&layered, &path, &RenderParams::default(), &no_progress).unwrap() {
        assert_eq!(f.uncovered_samples, 0);
    }
}
