//! Prints the boxes found in a PGM/PPM image:
//! `detect_pnm CASCADE.xml IMAGE.pnm [SF MINNB [MINW MINH MAXW MAXH]]`.
//!
//! A debugging aid for parity work; prints one `x y w h` per line.

use atelier_haar::{Cascade, DetectParams, GrayImage, Size, rgb_to_gray};

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: detect_pnm CASCADE.xml IMAGE.pnm [SCALE_FACTOR MIN_NEIGHBORS]");
        std::process::exit(2);
    }
    let cascade = Cascade::from_file(&args[1])?;
    let (pixels, w, h, channels) = common::read_pnm(std::path::Path::new(&args[2]));
    let gray = if channels == 3 {
        rgb_to_gray(&pixels, w, h, 3)?
    } else {
        pixels
    };
    let mut params = DetectParams::default();
    if args.len() >= 5 {
        params.scale_factor = args[3].parse()?;
        params.min_neighbors = args[4].parse()?;
    }
    if args.len() >= 9 {
        params.min_size = Size::new(args[5].parse()?, args[6].parse()?);
        params.max_size = Size::new(args[7].parse()?, args[8].parse()?);
    }
    let img = GrayImage::packed(&gray, w, h)?;
    for r in cascade.detect_multi_scale(&img, &params)? {
        println!("{} {} {} {}", r.x, r.y, r.width, r.height);
    }
    Ok(())
}
