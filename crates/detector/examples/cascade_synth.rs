//! Trains an LBP cascade for one synthetic class and measures it on held-out synthetic images:
//! training time per stage, then the share of the class's unoccluded objects found (IoU ≥ 0.5)
//! and the false positives per image, detecting with `atelier_haar` (scale factor 1.1,
//! 3 neighbours, objects from 24 px).
//!
//! `cargo run --release -p atelier-detector --example cascade_synth -- [TRAIN=150] [TEST=50]
//! [STAGES=12] [NEGATIVES=600] [CLASS=disc] [OUT.xml]`

use std::time::{Duration, Instant};

use atelier_detector::BBox;
use atelier_detector::cascade_train::{
    CascadeParams, GrayFrame, TrainingFrame, match_detections, train,
};
use atelier_detector::synth::{self, SynthParams};
use atelier_haar::{Cascade, DetectParams, GrayImage, Size};

fn frame(seed: u64, class: usize) -> Result<TrainingFrame, Box<dyn std::error::Error>> {
    let (img, objects) = synth::image(&SynthParams {
        objects: 4,
        seed,
        ..SynthParams::default()
    });
    let mine = objects.iter().filter(|o| o.class == class);
    Ok(TrainingFrame {
        image: GrayFrame::from_rgb(&img)?,
        positives: mine
            .clone()
            .filter(|o| !o.occluded)
            .map(|o| o.bbox)
            .collect(),
        ignore: mine.filter(|o| o.occluded).map(|o| o.bbox).collect(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let train_n: u64 = args.first().map_or(Ok(150), |v| v.parse())?;
    let test_n: u64 = args.get(1).map_or(Ok(50), |v| v.parse())?;
    let stages: usize = args.get(2).map_or(Ok(12), |v| v.parse())?;
    let negatives: usize = args.get(3).map_or(Ok(600), |v| v.parse())?;
    let name = args.get(4).map_or("disc", String::as_str);
    let class = synth::CLASSES
        .iter()
        .position(|c| *c == name)
        .ok_or("unknown class")?;

    let started = Instant::now();
    let frames = (0..train_n)
        .map(|i| frame(5000 + i, class))
        .collect::<Result<Vec<_>, _>>()?;
    let made = started.elapsed();
    let params = CascadeParams {
        stages,
        negatives,
        max_weak_count: 40,
        time_budget: Duration::from_secs(600),
        ..CascadeParams::default()
    };
    let cascade = train(&frames, &params, &mut atelier_detector::no_progress())?;
    let r = &cascade.report;
    println!(
        "{train_n} training images ({:.1} s to make), {} positive windows (mirrored), window 24x24",
        made.as_secs_f64(),
        r.positives
    );
    for (i, s) in r.stages.iter().enumerate() {
        println!(
            "stage {i:2}: {:3} stumps, pos {:4} neg {:4}, hit {:.3} fa {:.3}, background pass rate before {:.2e}, {:.1} s",
            s.weak_count,
            s.positives,
            s.negatives,
            s.hit_rate,
            s.false_alarm,
            s.acceptance,
            s.seconds
        );
    }
    println!("training: {:.1} s, stopped: {:?}", r.seconds, r.stop);

    let xml = cascade.to_xml();
    if let Some(out) = args.get(5) {
        std::fs::write(out, &xml)?;
    }
    let detector = Cascade::from_xml(&xml)?;
    let detect = DetectParams {
        min_size: Size::new(24, 24),
        ..DetectParams::default()
    };
    let (mut truth, mut found, mut fps) = (0, 0, 0);
    let t = Instant::now();
    for i in 0..test_n {
        let f = frame(90_000 + i, class)?;
        let img = GrayImage::packed(&f.image.pixels, f.image.width, f.image.height)?;
        let boxes: Vec<BBox> = detector
            .detect_multi_scale(&img, &detect)?
            .iter()
            .map(|r| {
                BBox::from_xywh(
                    f64::from(r.x),
                    f64::from(r.y),
                    f64::from(r.width),
                    f64::from(r.height),
                )
            })
            .collect();
        let (m, fp) = match_detections(&f.positives, &f.ignore, &boxes);
        truth += f.positives.len();
        found += m;
        fps += fp;
    }
    println!(
        "held-out: {test_n} images 320x240, {found}/{truth} unoccluded {name} objects found (IoU >= 0.5) = {:.3}, {:.2} false positives per image, detection {:.1} ms per image",
        found as f64 / truth.max(1) as f64,
        fps as f64 / test_n as f64,
        t.elapsed().as_secs_f64() * 1000.0 / test_n as f64
    );
    Ok(())
}
