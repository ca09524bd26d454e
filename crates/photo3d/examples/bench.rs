//! Seconds per 3D photo, per stage: a synthetic 512-px photo → a 4 s, 30 fps circle → MP4.
//!
//! `cargo run --release -p atelier-photo3d --example bench -- [RUNS] [SIDE] [PHOTO.png]`
//! prints one line per run and the median of each stage. With a photo path, that photo
//! (resized so its longer side is SIDE) replaces the synthetic scene. Depth is the
//! classical fallback (no depth network ships in a reachable package registry).
//! `PHOTO3D_DUMP=DIR` keeps the first run's depth preview, a few frames and the MP4.

use std::time::Instant;

use atelier_imaging::animation::{Mp4Options, encode_mp4, inspect_mp4};
use atelier_photo3d::synthetic::SyntheticScene;
use atelier_photo3d::{
    CameraPath, DepthInput, LayerParams, PathKind, RenderParams, build_layers, estimate_depth,
    no_progress, render,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let side: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(512);
    let photo = match args.get(3) {
        Some(path) => {
            let img = image::open(path)?;
            let (w, h) = (img.width(), img.height());
            let scale = side as f32 / w.max(h) as f32;
            img.resize_exact(
                (w as f32 * scale).round() as u32,
                (h as f32 * scale).round() as u32,
                image::imageops::FilterType::Triangle,
            )
            .to_rgb8()
        }
        None => SyntheticScene::mixed(side, side * 3 / 4).image,
    };
    let path = CameraPath {
        kind: PathKind::Circle,
        duration: 4.0,
        fps: 30,
        amplitude: 0.03,
    };
    println!(
        "photo {}x{}, {} frames, {} rayon threads",
        photo.width(),
        photo.height(),
        path.frame_count(),
        rayon::current_num_threads()
    );
    let stages = ["depth", "layers+inpaint", "render", "encode", "total"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    for run in 0..runs {
        let t0 = Instant::now();
        let depth = estimate_depth(&photo, DepthInput::Classical)?;
        let t1 = Instant::now();
        let scene = build_layers(&photo, &depth.map, &LayerParams::default(), &no_progress)?;
        let t2 = Instant::now();
        let frames = render(&scene, &path, &RenderParams::default(), &no_progress)?;
        let t3 = Instant::now();
        let mp4 = encode_mp4(&frames, path.fps, &Mp4Options::default())?;
        let t4 = Instant::now();
        assert_eq!(inspect_mp4(&mp4)?.frame_count, frames.len());
        if let (0, Ok(dir)) = (run, std::env::var("PHOTO3D_DUMP")) {
            // Keep the first run's outputs for a look: depth preview, frames, MP4.
            std::fs::create_dir_all(&dir)?;
            depth.map.preview().save(format!("{dir}/depth.png"))?;
            for i in [0, 15, 30, 45] {
                frames[i].save(format!("{dir}/frame{i:03}.png"))?;
            }
            std::fs::write(format!("{dir}/out.mp4"), &mp4)?;
        }
        let row = [
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            (t4 - t3).as_secs_f64(),
            (t4 - t0).as_secs_f64(),
        ];
        println!(
            "run {run}: depth {:.3} s, layers+inpaint {:.3} s, render {:.3} s, encode {:.3} s, total {:.3} s ({} triangles, {} KiB MP4)",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            scene.triangle_count(),
            mp4.len() / 1024
        );
        for (t, v) in times.iter_mut().zip(row) {
            t.push(v);
        }
    }
    print!("median of {runs}:");
    for (name, t) in stages.iter().zip(times) {
        print!(" {name} {:.3} s", median(t));
    }
    println!();
    Ok(())
}
