//! Times `atelier_haar::Cascade::detect_multi_scale` on PGM/PPM images.
//!
//! `atelier-haar-bench --cascade FILE.xml --threads N [--runs R] [--warmup W]
//!  [--scale-factor F] [--min-neighbors K] IMAGE...`
//!
//! Each run detects on every image once, on a rayon pool of N threads; the median, minimum and
//! mean wall time of a run are printed as one JSON line, with the boxes found in the first image
//! so the caller can check both engines agree.

use std::path::PathBuf;
use std::time::Instant;

use atelier_haar::{Cascade, DetectParams, GrayImage, rgb_to_gray};

struct Args {
    cascade: PathBuf,
    threads: usize,
    runs: usize,
    warmup: usize,
    params: DetectParams,
    images: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        cascade: PathBuf::new(),
        threads: 1,
        runs: 20,
        warmup: 3,
        params: DetectParams::default(),
        images: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--cascade" => a.cascade = PathBuf::from(value("--cascade")?),
            "--threads" => a.threads = value("--threads")?.parse().map_err(|e| format!("{e}"))?,
            "--runs" => a.runs = value("--runs")?.parse().map_err(|e| format!("{e}"))?,
            "--warmup" => a.warmup = value("--warmup")?.parse().map_err(|e| format!("{e}"))?,
            "--scale-factor" => {
                a.params.scale_factor = value("--scale-factor")?
                    .parse()
                    .map_err(|e| format!("{e}"))?
            }
            "--min-neighbors" => {
                a.params.min_neighbors = value("--min-neighbors")?
                    .parse()
                    .map_err(|e| format!("{e}"))?
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => a.images.push(PathBuf::from(arg)),
        }
    }
    if a.images.is_empty() || a.cascade.as_os_str().is_empty() || a.runs == 0 {
        return Err(
            "usage: atelier-haar-bench --cascade FILE.xml --threads N [--runs R] \
                    [--warmup W] [--scale-factor F] [--min-neighbors K] IMAGE..."
                .into(),
        );
    }
    Ok(a)
}

/// Reads a binary PGM (P5) or PPM (P6) file and returns gray pixels.
fn read_gray(path: &PathBuf) -> Result<(Vec<u8>, u32, u32), String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while pos < data.len() && data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while pos < data.len() && !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if start == pos {
            return Err(format!("{}: truncated PNM header", path.display()));
        }
        fields.push(String::from_utf8_lossy(&data[start..pos]).to_string());
    }
    pos += 1;
    let channels = match fields[0].as_str() {
        "P5" => 1,
        "P6" => 3,
        m => return Err(format!("{}: unsupported PNM type {m}", path.display())),
    };
    let w: u32 = fields[1].parse().map_err(|e| format!("{e}"))?;
    let h: u32 = fields[2].parse().map_err(|e| format!("{e}"))?;
    let n = w as usize * h as usize * channels;
    let pixels = data
        .get(pos..pos + n)
        .ok_or(format!("{}: truncated pixels", path.display()))?;
    let gray = if channels == 3 {
        rgb_to_gray(pixels, w, h, 3).map_err(|e| e.to_string())?
    } else {
        pixels.to_vec()
    };
    Ok((gray, w, h))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cascade = Cascade::from_file(&args.cascade).map_err(|e| e.to_string())?;
    let images = args
        .images
        .iter()
        .map(read_gray)
        .collect::<Result<Vec<_>, _>>()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| e.to_string())?;
    let detect_all = || -> Result<Vec<Vec<atelier_haar::Rect>>, String> {
        images
            .iter()
            .map(|(g, w, h)| {
                let img = GrayImage::packed(g, *w, *h).map_err(|e| e.to_string())?;
                cascade
                    .detect_multi_scale(&img, &args.params)
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let mut boxes = Vec::new();
    let mut times = Vec::with_capacity(args.runs);
    pool.install(|| -> Result<(), String> {
        for _ in 0..args.warmup {
            boxes = detect_all()?;
        }
        for _ in 0..args.runs {
            let t = Instant::now();
            boxes = detect_all()?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(())
    })?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let first: Vec<[i32; 4]> = boxes
        .first()
        .map(|b| b.iter().map(|r| [r.x, r.y, r.width, r.height]).collect())
        .unwrap_or_default();
    println!(
        "{{\"engine\": \"atelier\", \"threads\": {}, \"runs\": {}, \"images\": {}, \
         \"median_ms\": {median:.3}, \"min_ms\": {:.3}, \"mean_ms\": {mean:.3}, \"boxes\": {first:?}}}",
        args.threads,
        args.runs,
        images.len(),
        times[0]
    );
    Ok(())
}
