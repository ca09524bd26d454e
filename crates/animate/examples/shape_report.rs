//! Shape report: how well characters keep their drawn shape, per drawing and motion — the rig
//! in body parts (today's) beside the same mesh deformed in one piece (the earlier design),
//! judged with the same part labels — and a contact sheet (every 8th frame) per drawing and
//! motion. Used by `bench/animate/shape.sh`.
//!
//! `cargo run --release -p atelier-animate --example shape_report -- [OUT_DIR=target/animate-shape]`
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use atelier_animate::shape::{ShapeSummary, measure};
use atelier_animate::{AnalyzeParams, Animation, Character, Motion, RenderParams, analyze};
use common::*;
use image::{Rgba, RgbaImage};

fn quiet() -> impl FnMut(atelier_animate::Stage, f32) -> bool {
    |_, _| true
}

fn row(label: &str, s: &ShapeSummary) -> String {
    format!(
        "| {label} | {:.3}–{:.3} | {:.3}–{:.3} | {} | {:.3}–{:.3} | {} |",
        s.torso_area.0,
        s.torso_area.1,
        s.limb_length.0,
        s.limb_length.1,
        s.frames_with_folds,
        s.drawn_area.0,
        s.drawn_area.1,
        if s.keeps_shape() { "yes" } else { "no" }
    )
}

/// Every 8th frame, side by side in rows of 8, on white.
fn contact_sheet(character: &Character, anim: &Animation, params: &RenderParams) -> RgbaImage {
    let frames = atelier_animate::draw(character, anim, params);
    let picked: Vec<&RgbaImage> = frames.iter().step_by(8).collect();
    let (w, h) = (params.width, params.height);
    let cols = picked.len().min(8) as u32;
    let rows = picked.len().div_ceil(8) as u32;
    let mut sheet = RgbaImage::from_pixel(cols * w, rows * h, Rgba([255, 255, 255, 255]));
    for (i, f) in picked.iter().enumerate() {
        let (x, y) = ((i as u32 % 8) * w, (i as u32 / 8) * h);
        image::imageops::overlay(&mut sheet, *f, i64::from(x), i64::from(y));
    }
    sheet
}

/// The rest mesh with each triangle in its part's colour (torso grey, right arm red, left arm
/// blue, right leg green, left leg yellow) and the joints in black.
fn label_picture(c: &Character) -> RgbaImage {
    use atelier_animate::{Part, Point, geom::signed_area2};
    let colours = [
        [200, 200, 200],
        [220, 40, 40],
        [40, 40, 220],
        [40, 180, 40],
        [200, 160, 0],
    ];
    let (w, h) = (c.mask.width, c.mask.height);
    let mut img = RgbaImage::from_pixel(w, h, Rgba([255, 255, 255, 255]));
    let mesh = &c.rig.mesh;
    for (t, part) in mesh.triangles.iter().zip(&c.rig.parts) {
        let [a, b, d] = t.map(|v| mesh.vertices[v as usize]);
        let k = Part::ALL.iter().position(|p| p == part).unwrap();
        let [r, g, bl] = colours[k];
        let (x0, x1) = (
            a.x.min(b.x).min(d.x).max(0.0) as u32,
            a.x.max(b.x).max(d.x).ceil() as u32,
        );
        let (y0, y1) = (
            a.y.min(b.y).min(d.y).max(0.0) as u32,
            a.y.max(b.y).max(d.y).ceil() as u32,
        );
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                let p = Point::new(x as f32 + 0.5, y as f32 + 0.5);
                if signed_area2(a, b, p) >= 0.0
                    && signed_area2(b, d, p) >= 0.0
                    && signed_area2(d, a, p) >= 0.0
                {
                    img.put_pixel(x, y, Rgba([r, g, bl, 255]));
                }
            }
        }
    }
    for p in c.rig.rest_joints {
        for (dx, dy) in (-2i64..=2).flat_map(|dx| (-2i64..=2).map(move |dy| (dx, dy))) {
            let (x, y) = (p.x as i64 + dx, p.y as i64 + dy);
            if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                img.put_pixel(x as u32, y as u32, Rgba([0, 0, 0, 255]));
            }
        }
    }
    img
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/animate-shape".into());
    std::fs::create_dir_all(&out).unwrap();
    let params = RenderParams {
        fps: 30,
        duration_s: 1.6,
        width: 160,
        height: 160,
        ..RenderParams::default()
    };
    println!("every frame of 1.6 s at 30 fps; ranges are min–max over the frames, 1 = as drawn");
    println!(
        "goal: torso area ±5 %, every limb bone's drawn length ±10 %, no fold, drawn area ±10 %\n"
    );
    println!(
        "| drawing · motion · rig | torso area | limb lengths | frames with folds | drawn area | keeps shape |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut kept, mut kept_before, mut total) = (0, 0, 0);
    for (name, w, h, fig, paper) in shape_cases() {
        let (img, _) = draw(w, h, std::slice::from_ref(&fig), paper);
        let c = analyze(&img, &AnalyzeParams::default(), &mut quiet()).unwrap();
        let one_piece = c.rig_in_one_piece().unwrap();
        label_picture(&c)
            .save(format!("{out}/parts-{}.png", name.replace(' ', "-")))
            .unwrap();
        for m in Motion::ALL {
            let anim = atelier_animate::pose(&c, m, &params, &mut quiet()).unwrap();
            let rig = &c.rig;
            let after = ShapeSummary::of(&measure(
                &rig.mesh,
                &rig.parts,
                &rig.rest_joints,
                &anim.vertices,
            ));
            let before_x: Vec<_> = anim
                .poses
                .iter()
                .map(|p| one_piece.deform(p, params.arap_iterations))
                .collect();
            let before = ShapeSummary::of(&measure(
                &one_piece.mesh,
                &rig.parts,
                &rig.rest_joints,
                &before_x,
            ));
            println!(
                "{}",
                row(&format!("{name} · {m} · one piece (before)"), &before)
            );
            println!("{}", row(&format!("{name} · {m} · parts (after)"), &after));
            total += 1;
            kept += usize::from(after.keeps_shape());
            kept_before += usize::from(before.keeps_shape());
            let file = format!("{out}/{}-{m}.png", name.replace(' ', "-"));
            contact_sheet(&c, &anim, &params).save(&file).unwrap();
        }
    }
    println!(
        "\nkeeps its shape: {kept} of {total} drawing·motion pairs (one piece: {kept_before})"
    );
    println!("contact sheets (every 8th frame): {out}/<drawing>-<motion>.png");
    println!("body parts as rigged: {out}/parts-<drawing>.png");
}
