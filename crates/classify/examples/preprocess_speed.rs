//! Times the torchvision-exact preprocessing on synthetic photos of common sizes.
//!
//! `cargo run --release --example preprocess_speed`

use std::time::Instant;

use atelier_classify::{Preprocess, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Preprocess::imagenet();
    for (w, h) in [(320u32, 240u32), (640, 480), (1920, 1080), (4032, 3024)] {
        let px: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let image = RgbImage::new(w, h, &px)?;
        let runs = 20;
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(p.apply(image)?);
        }
        println!(
            "{w}x{h}: {:.2} ms per image",
            t.elapsed().as_secs_f64() * 1e3 / runs as f64
        );
    }
    Ok(())
}
