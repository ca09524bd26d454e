//! Rendered frames encode to an MP4 and a GIF with the path's frame count.

use atelier_imaging::animation::{
    GifOptions, Mp4Options, encode_gif, encode_mp4, inspect_gif, inspect_mp4,
};
use atelier_photo3d::synthetic::SyntheticScene;
use atelier_photo3d::{
    CameraPath, DepthMap, LayerParams, PathKind, RenderParams, build_layers, no_progress, render,
};

#[test]
fn the_video_and_the_gif_decode_with_fps_times_duration_frames() {
    let scene = SyntheticScene::mixed(96, 64);
    let depth = DepthMap::from_disparity(scene.disparity.clone());
    let layered =
        build_layers(&scene.image, &depth, &LayerParams::default(), &no_progress).unwrap();
    let path = CameraPath {
        kind: PathKind::DollyZoom,
        duration: 1.5,
        fps: 12,
        amplitude: 0.04,
    };
    let frames = render(&layered, &path, &RenderParams::default(), &no_progress).unwrap();
    assert_eq!(frames.len(), 18);
    let mp4 = inspect_mp4(&encode_mp4(&frames, path.fps, &Mp4Options::default()).unwrap()).unwrap();
    assert_eq!(mp4.frame_count, 18);
    assert_eq!((mp4.width, mp4.height), (96, 64));
    let gif = inspect_gif(&encode_gif(&frames, path.fps, &GifOptions::default()).unwrap()).unwrap();
    assert_eq!(gif.frame_count, 18);
}

#[test]
fn a_callback_that_says_stop_stops_layers_and_rendering() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use atelier_photo3d::{Photo3dError, Stage};
    let scene = SyntheticScene::mixed(96, 64);
    let depth = DepthMap::from_disparity(scene.disparity.clone());
    let stopped = build_layers(&scene.image, &depth, &LayerParams::default(), &|_, _| false);
    assert!(matches!(stopped, Err(Photo3dError::Canceled)));

    let layered =
        build_layers(&scene.image, &depth, &LayerParams::default(), &no_progress).unwrap();
    let path = CameraPath {
        kind: PathKind::Circle,
        duration: 10.0,
        fps: 30,
        amplitude: 0.03,
    };
    let frames_reported = AtomicUsize::new(0);
    let stopped = render(&layered, &path, &RenderParams::default(), &|stage, _| {
        if stage == Stage::Render {
            frames_reported.fetch_add(1, Ordering::Relaxed);
        }
        // Go on through the start report and the first frame, then ask to stop.
        frames_reported.load(Ordering::Relaxed) < 2
    });
    assert!(matches!(stopped, Err(Photo3dError::Canceled)));
    let rendered = frames_reported.load(Ordering::Relaxed) - 1;
    assert!(
        rendered < 300 / 2,
        "most of the 300 frames were skipped once asked to stop ({rendered} rendered)"
    );
}
