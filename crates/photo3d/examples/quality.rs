//! What a viewer sees, per photo and camera path: border smear and stretched triangles per
//! frame, and a contact sheet of every 15th frame.
//!
//! `cargo run --release -p atelier-photo3d --example quality -- OUT_DIR [SIDE] PHOTO.png…`
//!
//! Each photo is resized so its longer side is SIDE (default 512); depth is the classical
//! fallback; every path runs 4 s at 30 fps with amplitude 0.03 (the job's defaults). Prints
//! one line per photo × path: the smallest border ratio over all frames and borders
//! ([`atelier_photo3d::quality::border_ratios`], goal ≥ 0.5), the frame and border where it
//! occurs, the largest number of stretched triangles in a frame
//! ([`atelier_photo3d::quality::stretched_triangles`], goal 0), the path's zoom and the
//! photo's own ratios (left/right/top/bottom; a photo whose own border reads below 0.5
//! cannot read 0.5 in a frame). Writes
//! `OUT_DIR/<photo>-<path>.png`: frames 0, 15, 30, … at half size, four to a row.

use atelier_photo3d::quality::{border_ratios, stretched_triangles};
use atelier_photo3d::{
    CameraPath, DepthInput, LayerParams, PathKind, Pose, RenderParams, build_layers,
    estimate_depth, no_progress, render_frames, render_pose,
};
use image::RgbaImage;
use image::imageops::FilterType;

const SHEET_STEP: usize = 15;
const SHEET_COLUMNS: u32 = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        return Err("usage: quality OUT_DIR [SIDE] PHOTO.png…".into());
    };
    let (side, photos) = match args.get(1).and_then(|s| s.parse::<u32>().ok()) {
        Some(side) => (side, &args[2..]),
        None => (512, &args[1..]),
    };
    std::fs::create_dir_all(out)?;
    println!(
        "photo path frames zoom min_border_ratio(frame,border) max_stretched_triangles photo_own_border_ratios"
    );
    for file in photos {
        let name = std::path::Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("photo");
        let img = image::open(file)?;
        let scale = side as f32 / img.width().max(img.height()) as f32;
        let photo = img
            .resize_exact(
                (img.width() as f32 * scale).round() as u32,
                (img.height() as f32 * scale).round() as u32,
                FilterType::Triangle,
            )
            .to_rgb8();
        let depth = estimate_depth(&photo, DepthInput::Classical)?;
        let scene = build_layers(&photo, &depth.map, &LayerParams::default(), &no_progress)?;
        // The photo itself (the unzoomed start pose), as the reference for its borders.
        let own =
            border_ratios(&render_pose(&scene, &Pose::IDENTITY, &RenderParams::default()).image)
                .map(|r| format!("{r:.2}"))
                .join("/");
        for kind in PathKind::ALL {
            let path = CameraPath {
                kind,
                ..CameraPath::default()
            };
            let frames = render_frames(&scene, &path, &RenderParams::default(), &no_progress)?;
            let poses = path.framed_poses(&scene);
            let mut worst = (f64::INFINITY, 0usize, 0usize);
            let mut stretched = 0usize;
            for (i, (frame, pose)) in frames.iter().zip(&poses).enumerate() {
                for (b, r) in border_ratios(&frame.image).into_iter().enumerate() {
                    if r < worst.0 {
                        worst = (r, i, b);
                    }
                }
                stretched = stretched.max(stretched_triangles(&scene, pose));
            }
            let border = ["left", "right", "top", "bottom"][worst.2];
            println!(
                "{name} {} {} {:.3} {:.2}({},{border}) {stretched} {own}",
                kind.as_str(),
                frames.len(),
                path.zoom(&scene),
                worst.0,
                worst.1
            );
            let picked: Vec<&RgbaImage> = frames
                .iter()
                .step_by(SHEET_STEP)
                .map(|f| &f.image)
                .collect();
            contact_sheet(&picked).save(format!("{out}/{name}-{}.png", kind.as_str()))?;
        }
    }
    Ok(())
}

/// Half-size thumbnails, [`SHEET_COLUMNS`] to a row, 4-pixel gaps.
fn contact_sheet(frames: &[&RgbaImage]) -> RgbaImage {
    let (w, h) = frames[0].dimensions();
    let (tw, th) = (w / 2, h / 2);
    let cols = SHEET_COLUMNS.min(frames.len() as u32);
    let rows = (frames.len() as u32).div_ceil(cols);
    let gap = 4;
    let mut sheet = RgbaImage::from_pixel(
        cols * (tw + gap) + gap,
        rows * (th + gap) + gap,
        image::Rgba([255, 255, 255, 255]),
    );
    for (k, f) in frames.iter().enumerate() {
        let thumb = image::imageops::resize(*f, tw, th, FilterType::Triangle);
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        image::imageops::replace(
            &mut sheet,
            &thumb,
            i64::from(gap + c * (tw + gap)),
            i64::from(gap + r * (th + gap)),
        );
    }
    sheet
}
