//! The cascade detectors a process knows: OpenCV's cascade files found on this machine (Debian's
//! `opencv-data` or a configured folder), each parsed once on first use and shared.

use std::{path::PathBuf, sync::Arc};

use atelier_haar::{Cascade, CascadeEntry, HaarError, catalogue, default_cascade_dirs};

use super::{ModelsError, NamedCells};

/// The known cascades and the parsed ones.
#[derive(Debug)]
pub struct CascadeCatalogue {
    dirs: Vec<PathBuf>,
    parsed: NamedCells<Cascade>,
}

impl CascadeCatalogue {
    /// Cascades from `dir`, or from OpenCV's usual install folders when `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        let dirs = dir.map(|d| vec![d]).unwrap_or_else(default_cascade_dirs);
        Self {
            dirs,
            parsed: NamedCells::default(),
        }
    }

    /// Every cascade file found, by short name.
    pub fn list(&self) -> Result<Vec<CascadeEntry>, ModelsError> {
        for dir in &self.dirs {
            if let Ok(entries) = catalogue(dir)
                && !entries.is_empty()
            {
                return Ok(entries);
            }
        }
        let looked = self
            .dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        tracing::warn!(looked = %looked, "no OpenCV cascade folder found");
        Err(ModelsError::unavailable(
            "cascades",
            "no OpenCV cascade folder on this machine; install Debian's opencv-data or set --cascades-dir",
        ))
    }

    /// The parsed cascade `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Cascade>, ModelsError> {
        self.parsed
            .get_or_load(name, || async {
                let entry = self
                    .list()?
                    .into_iter()
                    .find(|entry| entry.name == name)
                    .ok_or_else(|| ModelsError::UnknownCascade(name.to_owned()))?;
                tokio::task::spawn_blocking(move || entry.load())
                    .await
                    .map_err(|err| {
                        HaarError::Unsupported(format!("loading the cascade failed: {err}"))
                    })?
                    .map_err(ModelsError::from)
            })
            .await
    }
}

/// The image with each detection outlined in red (lines scaled to the image), as PNG bytes.
pub fn png_with_boxes(
    mut image: atelier_imaging::RgbImage,
    boxes: &[atelier_haar::Rect],
) -> Result<Vec<u8>, atelier_imaging::EncodeError> {
    use atelier_imaging::{BoxOutline, DynamicImage, OutputFormat, draw_boxes, encode};
    let outlines: Vec<BoxOutline> = boxes
        .iter()
        .map(|b| BoxOutline {
            x: b.x.into(),
            y: b.y.into(),
            width: b.width.into(),
            height: b.height.into(),
        })
        .collect();
    let thickness = (image.width().max(image.height()) / 300).max(2);
    draw_boxes(&mut image, &outlines, [255, 40, 40], thickness);
    encode(&DynamicImage::ImageRgb8(image), OutputFormat::Png)
}
