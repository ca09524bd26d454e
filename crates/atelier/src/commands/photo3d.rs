//! `atelier photo3d PHOTO [--depth D.png] --path circle -o out.mp4`: a 3D photo made locally
//! (no server), with a progress bar over the pipeline's stages; the output's extension picks
//! the file (`.mp4`, `.gif` or `.glb`). Same pipeline and parameters as the `photo3d` job.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use atelier_photo3d::Stage;
use atelier_platform::{
    jobs::photo3d::{Photo3dParams, produce},
    models::Models,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{cli::Photo3dArgs, settings::Settings};

/// The output format named by `path`'s extension.
fn format_of(path: &std::path::Path) -> anyhow::Result<&'static str> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "mp4" => Ok("mp4"),
        "gif" => Ok("gif"),
        "glb" => Ok("glb"),
        _ => anyhow::bail!("the output must end in .mp4, .gif or .glb"),
    }
}

/// Makes one 3D photo and writes it.
pub async fn run(args: Photo3dArgs, settings: Settings) -> anyhow::Result<()> {
    let format = format_of(&args.output)?;
    let mut params = Photo3dParams {
        depth_upload_id: args.depth.as_ref().map(|p| p.display().to_string()),
        depth_convention: args.depth_convention.clone(),
        path: args.path.clone(),
        duration: args.duration,
        fps: args.fps,
        amplitude: args.amplitude,
        formats: vec![format.to_owned()],
        max_side: args.max_side,
        ..Photo3dParams::for_upload(args.photo.display().to_string())
    };
    params.validate()?;
    let photo = std::fs::read(&args.photo)
        .with_context(|| format!("cannot read {}", args.photo.display()))?;
    let depth = match &args.depth {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        None => None,
    };
    let limits = settings.platform.uploads.decode;
    // A supplied depth map needs no model; otherwise the cached depth model, if any.
    let model = match &depth {
        Some(_) => None,
        None => {
            Models::new(settings.platform.models.clone())
                .depth()
                .await?
        }
    };
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}% {msg}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let progress_bar = bar.clone();
    let job_params = params.clone();
    let produced = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // Stages report out of order at their seams: the bar only moves forward.
        let shown = AtomicU64::new(0);
        let report = |stage: Stage, f: f32| {
            let position = (100.0 * atelier_photo3d::produce::overall(stage, f)) as u64;
            if position >= shown.fetch_max(position, Ordering::Relaxed) {
                progress_bar.set_position(position);
                progress_bar.set_message(stage.as_str());
            }
            true
        };
        Ok(produce(
            &photo,
            depth.as_deref(),
            &job_params,
            &limits,
            model.as_deref(),
            &report,
        )?)
    })
    .await??;
    bar.finish_and_clear();
    let mut bytes = 0;
    for file in &produced.files {
        let target = match file.name {
            "depth" => match &args.depth_preview {
                Some(path) => path,
                None => continue,
            },
            _ => &args.output,
        };
        std::fs::write(target, &file.bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        if file.name != "depth" {
            bytes = file.bytes.len();
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "output": args.output.display().to_string(),
            "format": format,
            "path": params.path,
            "frames": produced.frame_count,
            "fps": params.fps,
            "width": produced.size.0,
            "height": produced.size.1,
            "bytes": bytes,
            "depth_source": produced.depth_source,
            "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_extension_picks_the_format() {
        assert_eq!(format_of("a/b.MP4".as_ref()).ok(), Some("mp4"));
        assert_eq!(format_of("x.gif".as_ref()).ok(), Some("gif"));
        assert_eq!(format_of("x.glb".as_ref()).ok(), Some("glb"));
        assert!(format_of("x.avi".as_ref()).is_err());
        assert!(format_of("noext".as_ref()).is_err());
    }
}
