//! The cascade detectors a server knows: OpenCV's cascade files found on this machine (Debian's
//! `opencv-data` or a configured folder), parsed once on first use and shared.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use atelier_haar::{Cascade, CascadeEntry, HaarError, Rect, catalogue, default_cascade_dirs};
use atelier_imaging::{
    BoxOutline, DynamicImage, EncodeError, OutputFormat, RgbImage, draw_boxes, encode,
};
use tokio::sync::Mutex;

/// Why a cascade could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DetectorsError {
    /// No cascade of that name.
    #[error("unknown cascade {0:?}; GET /api/v1/detect/cascades lists them")]
    Unknown(String),
    /// No cascade folder on this machine.
    #[error(
        "no OpenCV cascade folder found (looked in {0}); install Debian's opencv-data or set --cascades-dir"
    )]
    NoCascades(String),
    /// The cascade file is broken.
    #[error(transparent)]
    Haar(#[from] HaarError),
}

/// The known cascades and the parsed ones.
#[derive(Debug)]
pub struct Detectors {
    dirs: Vec<PathBuf>,
    parsed: Mutex<HashMap<String, Arc<Cascade>>>,
}

impl Detectors {
    /// Cascades from `dir`, or from OpenCV's usual install folders when `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        let dirs = dir.map(|d| vec![d]).unwrap_or_else(default_cascade_dirs);
        Self {
            dirs,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// Every cascade file found, by short name.
    pub fn list(&self) -> Result<Vec<CascadeEntry>, DetectorsError> {
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
        Err(DetectorsError::NoCascades(looked))
    }

    /// The parsed cascade `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Cascade>, DetectorsError> {
        let mut parsed = self.parsed.lock().await;
        if let Some(found) = parsed.get(name) {
            return Ok(found.clone());
        }
        let entry = self
            .list()?
            .into_iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| DetectorsError::Unknown(name.to_owned()))?;
        let cascade = Arc::new(
            tokio::task::spawn_blocking(move || entry.load())
                .await
                .map_err(|err| {
                    HaarError::Unsupported(format!("loading the cascade failed: {err}"))
                })??,
        );
        parsed.insert(name.to_owned(), cascade.clone());
        Ok(cascade)
    }
}

/// The image with each detection outlined in red (lines scaled to the image), as PNG bytes.
pub fn png_with_boxes(mut image: RgbImage, boxes: &[Rect]) -> Result<Vec<u8>, EncodeError> {
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
