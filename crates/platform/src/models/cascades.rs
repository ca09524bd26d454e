//! The cascade detectors a process knows: OpenCV's cascade files found on this machine (Debian's
//! `opencv-data` or a configured folder), else the manifest's cascade pack in the model cache
//! (the Haar cascades of a pinned PyPI wheel, fetched on first use when downloads are allowed),
//! each parsed once on first use and shared.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use atelier_haar::{Cascade, CascadeEntry, HaarError, catalogue, default_cascade_dirs};
use tokio::sync::OnceCell;

use super::{ModelsConfig, ModelsError, NamedCells};

/// How long a failed fetch of the cascade pack is remembered before the next request tries
/// again (so a machine without network answers at once instead of retrying on every request).
const FETCH_RETRY: Duration = Duration::from_secs(60);

/// The known cascades and the parsed ones.
#[derive(Debug)]
pub struct CascadeCatalogue {
    dirs: Vec<PathBuf>,
    models: ModelsConfig,
    pack: OnceCell<PathBuf>,
    failed: Mutex<Option<(Instant, String)>>,
    parsed: NamedCells<Cascade>,
}

impl CascadeCatalogue {
    /// Cascades from `config.cascades_dir` (or OpenCV's usual install folders when `None`),
    /// else from the cascade pack in `config.cache_dir`.
    pub fn new(config: &ModelsConfig) -> Self {
        let dirs = config
            .cascades_dir
            .clone()
            .map(|d| vec![d])
            .unwrap_or_else(default_cascade_dirs);
        Self {
            dirs,
            models: config.clone(),
            pack: OnceCell::new(),
            failed: Mutex::new(None),
            parsed: NamedCells::default(),
        }
    }

    /// Every cascade file found, by short name.
    pub async fn list(&self) -> Result<Vec<CascadeEntry>, ModelsError> {
        for dir in &self.dirs {
            if let Ok(entries) = catalogue(dir)
                && !entries.is_empty()
            {
                return Ok(entries);
            }
        }
        let pack = self.pack().await?;
        catalogue(&pack).map_err(ModelsError::from)
    }

    /// The cascade pack's folder, verified (once per process) or fetched.
    async fn pack(&self) -> Result<PathBuf, ModelsError> {
        let unavailable = |message: String| ModelsError::unavailable("cascades", message);
        if let Some((at, message)) = self.failed.lock().map(|f| f.clone()).unwrap_or(None)
            && at.elapsed() < FETCH_RETRY
        {
            return Err(unavailable(message));
        }
        let models = self.models.clone();
        let result = self
            .pack
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || provision(&models))
                    .await
                    .map_err(|err| err.to_string())?
            })
            .await
            .cloned();
        result.map_err(|message| {
            tracing::warn!(%message, "no OpenCV cascades");
            if let Ok(mut failed) = self.failed.lock() {
                *failed = Some((Instant::now(), message.clone()));
            }
            unavailable(message)
        })
    }

    /// The parsed cascade `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Cascade>, ModelsError> {
        self.parsed
            .get_or_load(name, || async {
                let entry = self
                    .list()
                    .await?
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

/// The cascade pack from the cache, fetched into it when downloads are allowed. The message
/// of a failure names no path (it reaches clients).
fn provision(config: &ModelsConfig) -> Result<PathBuf, String> {
    let registry = config.registry().map_err(|err| err.to_string())?;
    if let Some(dir) = registry.cached_cascades() {
        return Ok(dir);
    }
    if !config.allow_download {
        return Err(
            "no OpenCV cascade folder on this machine and the cascade pack is not in the model \
             cache (offline): run `atelier models fetch opencv-cascades`, install Debian's \
             opencv-data or set --cascades-dir"
                .to_owned(),
        );
    }
    registry.fetch_cascades().map_err(|err| {
        tracing::warn!(error = %err, "fetching the OpenCV cascade pack failed");
        "no OpenCV cascade folder on this machine and the cascade pack could not be fetched; \
         install Debian's opencv-data, set --cascades-dir, or set --package-mirror"
            .to_owned()
    })
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
