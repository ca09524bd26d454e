//! Benchmark: one 512×512 drawing from PNG bytes to an animated GIF (5 s at 30 fps), timed per
//! stage, repeated; prints per-stage medians. Used by `bench/animate/run.sh`.
//!
//! `cargo run --release -p atelier-animate --example bench_animate -- [RUNS=7] [MOTION=dance]`
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use atelier_animate::{AnalyzeParams, Motion, RenderParams, Stage};
use common::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let motion: Motion = args.get(2).map_or(Motion::Dance, |m| m.parse().unwrap());
    let drawings = [
        (
            "stick",
            figure(
                256.0,
                40.0,
                430.0,
                Style::Stick { width: 8.0 },
                [20, 20, 20],
                0,
                1.0,
            ),
            ROUGH,
        ),
        (
            "filled",
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
    ];
    println!(
        "threads: {}, runs: {runs}, motion: {motion}, 5 s at 30 fps, 512x512 frames",
        rayon::current_num_threads()
    );
    for (name, fig, paper) in drawings {
        let (img, _) = draw(512, 512, &[fig], paper);
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let stages = [
            "decode", "segment", "skeleton", "rig", "retarget", "render", "encode", "total",
        ];
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
        let mut gif_len = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let img = image::load_from_memory(&png).unwrap().to_rgba8();
            let mut marks: Vec<(Stage, Duration)> = Vec::new();
            let decoded = t0.elapsed();
            let c = atelier_animate::analyze(&img, &AnalyzeParams::default(), &mut |s, f| {
                if f >= 1.0 {
                    marks.push((s, t0.elapsed()));
                }
                true
            })
            .unwrap();
            let params = RenderParams::default();
            let frames = atelier_animate::render(&c, motion, &params, &mut |s, f| {
                if f >= 1.0 {
                    marks.push((s, t0.elapsed()));
                }
                true
            })
            .unwrap();
            let gif = atelier_imaging::animation::encode_gif(
                &frames.frames,
                frames.fps,
                &Default::default(),
            )
            .unwrap();
            let total = t0.elapsed();
            gif_len = gif.len();
            assert_eq!(frames.frames.len(), 150);
            let mut prev = decoded;
            times[0].push(decoded.as_secs_f64());
            for (i, st) in [
                Stage::Segment,
                Stage::Skeleton,
                Stage::Rig,
                Stage::Retarget,
                Stage::Render,
            ]
            .iter()
            .enumerate()
            {
                let at = marks.iter().find(|m| m.0 == *st).unwrap().1;
                times[i + 1].push((at - prev).as_secs_f64());
                prev = at;
            }
            times[6].push((total - prev).as_secs_f64());
            times[7].push(total.as_secs_f64());
        }
        let row: Vec<String> = stages
            .iter()
            .zip(times)
            .map(|(s, t)| format!("{s} {:.0} ms", median(t) * 1000.0))
            .collect();
        println!("{name}: {} (GIF {} KiB)", row.join(", "), gif_len / 1024);
    }
}
