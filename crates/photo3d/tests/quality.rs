//! What a viewer sees on a real photo: no smeared borders, no stretched triangles.
//!
//! The photo is scikit-image's `coffee` (Rachel Michetti, CC0), resized to 320×213 and
//! stored as `fixtures/coffee-320.jpg`; depth is the classical fallback, as in a job
//! without a depth network.

use atelier_photo3d::quality::{border_ratios, stretched_triangles};
use atelier_photo3d::synthetic::SyntheticScene;
use atelier_photo3d::{
    CameraPath, DepthInput, DepthMap, LayerParams, LayeredScene, PathKind, Pose, RenderParams,
    build_layers, estimate_depth, no_progress, render_frames, render_pose,
};

fn coffee() -> LayeredScene {
    coffee_with(&LayerParams::default())
}

fn coffee_with(params: &LayerParams) -> LayeredScene {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/coffee-320.jpg");
    let photo = image::open(path).expect("fixture").to_rgb8();
    let depth = estimate_depth(&photo, DepthInput::Classical).expect("depth");
    build_layers(&photo, &depth.map, params, &no_progress).expect("layers")
}

/// Every path, 2 s at 15 fps (the whole motion, sampled every other job frame).
fn paths(amplitude: f32) -> impl Iterator<Item = CameraPath> {
    PathKind::ALL.into_iter().map(move |kind| CameraPath {
        kind,
        duration: 2.0,
        fps: 15,
        amplitude,
    })
}

#[test]
fn no_frame_of_any_path_smears_a_border_or_stretches_a_triangle() {
    let scene = coffee();
    // The photo itself reads 0.8–1.2 on every border.
    let own = render_pose(&scene, &Pose::IDENTITY, &RenderParams::default());
    for r in border_ratios(&own.image) {
        assert!(r > 0.75, "{r}");
    }
    for path in paths(0.03) {
        let frames = render_frames(&scene, &path, &RenderParams::default(), &no_progress).unwrap();
        let poses = path.framed_poses(&scene);
        for (i, (frame, pose)) in frames.iter().zip(&poses).enumerate() {
            assert_eq!(frame.uncovered_samples, 0, "{:?} frame {i}", path.kind);
            for (b, r) in border_ratios(&frame.image).into_iter().enumerate() {
                assert!(r >= 0.5, "{:?} frame {i} border {b}: {r}", path.kind);
            }
            assert_eq!(
                stretched_triangles(&scene, pose),
                0,
                "{:?} frame {i}",
                path.kind
            );
        }
    }
}

#[test]
fn without_the_path_zoom_the_moving_camera_smears_the_border() {
    // The measure can fail: the same poses unzoomed show the edge-replicated margin.
    let scene = coffee();
    let path = paths(0.03).find(|p| p.kind == PathKind::Circle).unwrap();
    let worst = (0..path.frame_count())
        .map(|i| {
            let frame = render_pose(&scene, &path.pose(&scene, i), &RenderParams::default());
            border_ratios(&frame.image)
                .into_iter()
                .fold(f64::INFINITY, f64::min)
        })
        .fold(f64::INFINITY, f64::min);
    assert!(worst < 0.3, "{worst}");
}

#[test]
fn cut_meshes_stretch_no_triangle_and_uncut_ones_do() {
    // The classical depth of the coffee photo is smooth (no step wide enough to stretch a
    // triangle by a pixel even uncut), so the stretch measure is also run on a synthetic
    // scene with exact depth steps: cards, a box and a sphere before a wall.
    let scene = SyntheticScene::mixed(256, 192);
    let depth = DepthMap::from_disparity(scene.disparity.clone());
    let build = |params: &LayerParams| {
        build_layers(&scene.image, &depth, params, &no_progress).expect("layers")
    };
    let cut = build(&LayerParams::default());
    let uncut = build(&LayerParams {
        edge_step: 1.0,
        ..LayerParams::default()
    });
    for path in paths(0.03) {
        for (i, pose) in path.framed_poses(&cut).iter().enumerate() {
            assert_eq!(
                stretched_triangles(&cut, pose),
                0,
                "{:?} frame {i}",
                path.kind
            );
        }
        let most = path
            .framed_poses(&uncut)
            .iter()
            .map(|pose| stretched_triangles(&uncut, pose))
            .max()
            .unwrap();
        assert!(most > 100, "{:?}: {most}", path.kind);
    }
}

#[test]
fn the_zoom_is_slight_and_grows_with_the_amplitude() {
    let scene = coffee();
    for path in paths(0.03) {
        let zoom = path.zoom(&scene);
        assert!((1.0..1.12).contains(&zoom), "{:?}: {zoom}", path.kind);
        let still = CameraPath {
            amplitude: 0.0,
            ..path
        };
        // Half a pixel of slack at the border, nothing more.
        assert!(still.zoom(&scene) < 1.005, "{:?}", path.kind);
        let wider = CameraPath {
            amplitude: 0.05,
            ..path
        };
        if path.kind == PathKind::ZoomIn {
            // Moving in only pushes the border outward.
            assert_eq!(wider.zoom(&scene), zoom);
        } else {
            assert!(wider.zoom(&scene) > zoom, "{:?}", path.kind);
        }
    }
}
