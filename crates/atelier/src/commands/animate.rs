//! `atelier animate DRAWING --motion dance -o out.gif`: a drawing turned into an animation, with
//! a progress bar over the pipeline's stages; the file type follows the output's extension.

use anyhow::Context;
use atelier_animate::{
    AnalyzeParams, Background, FileFormat, Joint, Motion, ProduceRequest, RenderParams, Stage,
    produce,
};
use atelier_imaging::decode_image;
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
    let format: FileFormat = match extension.as_str() {
        "gif" => FileFormat::Gif,
        "mp4" => FileFormat::Mp4,
        _ => FileFormat::SpriteSheet,
    };
    let request = ProduceRequest {
        analyze: AnalyzeParams {
            joints,
            ..AnalyzeParams::default()
        },
        motion,
        render,
        formats: vec![format],
        mask: false,
    };
    let produced = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut report = |stage: Stage, done: f32| {
            progress_bar.set_position((100.0 * produce::overall(stage, done)) as u64);
            progress_bar.set_message(stage.as_str());
            true
        };
        let image = decode_image(&bytes, &limits)?.to_rgba8();
        Ok(atelier_animate::produce(&image, &request, &mut report)?)
    })
    .await??;
    let info = produced.character;
    let frames = produced.frame_count;
    let encoded = produced
        .files
        .into_iter()
        .next()
        .map(|file| file.bytes)
        .context("the pipeline wrote no file")?;
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
