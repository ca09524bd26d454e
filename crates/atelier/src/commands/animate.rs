//! `atelier animate DRAWING --motion dance -o out.gif`: a drawing turned into an animation, with
//! a progress bar over the pipeline's stages; the file type follows the output's extension.

use anyhow::Context;
use atelier_animate::{AnalyzeParams, Background, Joint, Motion, RenderParams, Stage};
use atelier_imaging::{
    DynamicImage, OutputFormat,
    animation::{GifOptions, Mp4Options, encode_gif, encode_mp4, sprite_sheet},
    decode_image, encode,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{cli::AnimateArgs, settings::Settings};

/// Parses `transparent` or `#rrggbb`.
fn parse_background(text: &str) -> anyhow::Result<Option<[u8; 3]>> {
    if text.eq_ignore_ascii_case("transparent") {
        return Ok(None);
    }
    let hex = text.trim_start_matches('#');
    anyhow::ensure!(hex.len() == 6, "--background is `transparent` or `#rrggbb`");
    let c = |i: usize| {
        u8::from_str_radix(&hex[i..i + 2], 16).context("--background is `transparent` or `#rrggbb`")
    };
    Ok(Some([c(0)?, c(2)?, c(4)?]))
}

/// Overall percent at the start of each stage.
fn stage_start(stage: Stage) -> (u64, u64) {
    match stage {
        Stage::Segment => (0, 5),
        Stage::Skeleton => (5, 7),
        Stage::Rig => (7, 10),
        Stage::Retarget => (10, 20),
        Stage::Render => (20, 60),
        Stage::Encode => (60, 100),
    }
}

/// Renders one animation to a file.
pub async fn run(args: AnimateArgs, settings: Settings) -> anyhow::Result<()> {
    let motion: Motion = args.motion.parse()?;
    let background = parse_background(&args.background)?;
    let extension = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    anyhow::ensure!(
        matches!(extension.as_str(), "gif" | "mp4" | "png"),
        "the output must end in .gif, .mp4 or .png (sprite sheet)"
    );
    let joints: Option<Vec<Joint>> = match &args.joints {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)?;
            // Accept a bare list or a character file with a `joints` field.
            let list = value.get("joints").cloned().unwrap_or(value);
            Some(
                serde_json::from_value(list)
                    .context("joints must be a list of {name, loc: [x, y]}")?,
            )
        }
        None => None,
    };
    let bytes = std::fs::read(&args.drawing)
        .with_context(|| format!("cannot read {}", args.drawing.display()))?;
    let limits = settings.platform.uploads.decode;
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}% {msg}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let progress_bar = bar.clone();
    let render = RenderParams {
        fps: args.fps,
        duration_s: args.duration,
        width: args.size,
        height: args.size,
        background: background.map_or(Background::Transparent, Background::Color),
        ..RenderParams::default()
    };
    let (encoded, info, frames) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut report = |stage: Stage, f: f32| {
            let (a, b) = stage_start(stage);
            progress_bar.set_position(a + ((b - a) as f32 * f.clamp(0.0, 1.0)) as u64);
            progress_bar.set_message(stage.as_str());
        };
        let image = decode_image(&bytes, &limits)?.to_rgba8();
        let character = atelier_animate::analyze(
            &image,
            &AnalyzeParams {
                joints,
                ..AnalyzeParams::default()
            },
            &mut report,
        )?;
        let frames = atelier_animate::render(&character, motion, &render, &mut report)?;
        report(Stage::Encode, 0.0);
        let encoded = match extension.as_str() {
            "gif" => encode_gif(
                &frames.frames,
                frames.fps,
                &GifOptions {
                    background,
                    ..GifOptions::default()
                },
            )?,
            "mp4" => encode_mp4(
                &frames.frames,
                frames.fps,
                &Mp4Options {
                    background: background.unwrap_or([255, 255, 255]),
                    ..Mp4Options::default()
                },
            )?,
            _ => {
                let columns = (frames.frames.len() as f64).sqrt().ceil() as u32;
                encode(
                    &DynamicImage::ImageRgba8(sprite_sheet(&frames.frames, columns)?),
                    OutputFormat::Png,
                )?
            }
        };
        report(Stage::Encode, 1.0);
        Ok((encoded, character.info(), frames.frames.len()))
    })
    .await??;
    bar.finish_and_clear();
    std::fs::write(&args.output, &encoded)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(path) = &args.character {
        std::fs::write(path, serde_json::to_vec_pretty(&info)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "{}",
        serde_json::json!({
            "output": args.output.display().to_string(),
            "motion": motion.name(),
            "frames": frames,
            "fps": args.fps,
            "bytes": encoded.len(),
            "skeleton_source": info.skeleton_source,
            "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
        })
    );
    Ok(())
}
