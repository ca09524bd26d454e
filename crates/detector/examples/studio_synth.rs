//! Synthetic studio data as files, for scripted runs against a server (`bench/studio/http.sh`):
//! `clip-{i}.mp4` (H.264, 25 fps, 320 × 240, 3 moving objects of the 4 classes) with
//! `clip-{i}.xml` (its tracks in CVAT for video 1.1, key frames every 10th frame), and
//! `probe.jpg`, a frame of another clip (other seed) to send to a trained detector.
//!
//! `cargo run --release -p atelier-detector --example studio_synth -- OUT_DIR [CLIPS=6] [FRAMES=100]`

use atelier_detector::{
    formats::cvat_video,
    synth::{self, SynthParams},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::path::PathBuf::from(
        args.first()
            .ok_or("usage: studio_synth OUT_DIR [CLIPS] [FRAMES]")?,
    );
    let clips: u64 = args.get(1).map_or(Ok(6), |v| v.parse())?;
    let frames: u32 = args.get(2).map_or(Ok(100), |v| v.parse())?;
    std::fs::create_dir_all(&out)?;
    for i in 0..clips {
        let p = SynthParams {
            objects: 3,
            seed: 1000 + i,
            ..SynthParams::default()
        };
        let clip = synth::video(&p, frames, 10);
        std::fs::write(
            out.join(format!("clip-{i}.mp4")),
            synth::encode_video(&clip.frames, 25)?,
        )?;
        std::fs::write(
            out.join(format!("clip-{i}.xml")),
            cvat_video::write(&clip.annotations),
        )?;
    }
    let probe = synth::video(
        &SynthParams {
            objects: 4,
            seed: 9_999,
            ..SynthParams::default()
        },
        1,
        1,
    );
    probe.frames[0].save(out.join("probe.jpg"))?;
    println!(
        "{clips} clips of {frames} frames and probe.jpg in {}",
        out.display()
    );
    Ok(())
}
