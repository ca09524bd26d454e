//! Times the animation encoders on synthetic frames (moving shapes over a drifting gradient, like
//! a drawn character dancing over a parallax background): GIF with and without dithering, and MP4.
//! Prints one line per encoder with the median wall and CPU time of the runs; with `--out DIR` also
//! writes the frames as raw RGBA (`frames.rgba`, the input of the ffmpeg reference in
//! `bench/encode/run.sh`) and the encoded files.
//!
//! Usage: `encode_bench [--frames 150] [--size 512] [--fps 30] [--runs 5] [--out DIR]`

use std::f32::consts::TAU;
use std::time::Instant;

use atelier_imaging::{GifOptions, Mp4Options, RgbaImage, encode_gif, encode_mp4};

struct Args {
    frames: usize,
    size: u32,
    fps: u32,
    runs: usize,
    out: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        frames: 150,
        size: 512,
        fps: 30,
        runs: 5,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--frames" => args.frames = number()?,
            "--size" => args.size = number()? as u32,
            "--fps" => args.fps = number()? as u32,
            "--runs" => args.runs = number()?.max(1),
            "--out" => args.out = Some(value.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// Frame `i` of the synthetic clip.
fn frame(i: usize, count: usize, size: u32) -> RgbaImage {
    let t = i as f32 / count as f32;
    let s = size as f32;
    let shapes: [(f32, f32, f32, [u8; 3]); 4] = [
        (
            0.5 + 0.3 * (t * TAU).sin(),
            0.55 + 0.2 * (t * 2.0 * TAU).cos(),
            0.12,
            [220, 40, 60],
        ),
        (0.3 + 0.4 * t, 0.3, 0.08, [30, 160, 80]),
        (
            0.7 - 0.4 * t,
            0.75 + 0.1 * (t * 4.0 * TAU).sin(),
            0.1,
            [250, 210, 40],
        ),
        (0.5, 0.5 + 0.25 * (t * TAU).sin(), 0.05, [20, 30, 40]),
    ];
    RgbaImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32 / s, y as f32 / s);
        for &(cx, cy, r, c) in &shapes {
            let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
            if d < r {
                // A little shading so shapes are not flat.
                let k = 1.0 - 0.35 * d / r;
                return image::Rgba([
                    (f32::from(c[0]) * k) as u8,
                    (f32::from(c[1]) * k) as u8,
                    (f32::from(c[2]) * k) as u8,
                    255,
                ]);
            }
        }
        // Background: a gradient drifting sideways (a camera pan).
        let u = fx + t * 0.5;
        image::Rgba([
            (120.0 + 100.0 * (u * 3.1).sin()) as u8,
            (90.0 + 80.0 * fy) as u8,
            (160.0 + 60.0 * ((u + fy) * 4.7).cos()) as u8,
            255,
        ])
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// CPU time (user + system, all threads) of this process in ms, from /proc (10 ms resolution).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks * 10.0
}

/// Median wall and CPU milliseconds over `runs`, and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), cpu_ms());
        last = Some(f());
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
        cpus.push(cpu_ms() - cpu);
    }
    (median(walls), median(cpus), last.expect("at least one run"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let frames: Vec<RgbaImage> = (0..args.frames)
        .map(|i| frame(i, args.frames, args.size))
        .collect();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        let raw: Vec<u8> = frames
            .iter()
            .flat_map(|f| f.as_raw().iter().copied())
            .collect();
        std::fs::write(dir.join("frames.rgba"), raw)?;
    }
    println!(
        "{} frames of {}x{} at {} fps, {} runs, {} rayon threads",
        args.frames,
        args.size,
        args.size,
        args.fps,
        args.runs,
        rayon::current_num_threads()
    );
    let per50 = |ms: f64| ms * 50.0 / args.frames as f64;
    let cases: [(&str, &str); 3] = [("gif", "dither"), ("gif", "no-dither"), ("mp4", "qp26")];
    for (kind, variant) in cases {
        let (ms, cpu, bytes) = time(args.runs, || match kind {
            "gif" => encode_gif(
                &frames,
                args.fps,
                &GifOptions {
                    dither: variant == "dither",
                    ..GifOptions::default()
                },
            ),
            _ => encode_mp4(&frames, args.fps, &Mp4Options::default()),
        });
        let bytes = bytes?;
        println!(
            "atelier {kind:<4} {variant:<10} wall {ms:8.1} ms  cpu {cpu:8.1} ms  ({:6.1} cpu ms per 50 frames)  {:9} bytes",
            per50(cpu),
            bytes.len()
        );
        if let Some(dir) = &args.out {
            std::fs::write(dir.join(format!("atelier-{variant}.{kind}")), &bytes)?;
        }
    }
    Ok(())
}
