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
