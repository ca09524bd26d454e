//! Monocular depth from an ONNX network run through `atelier-infer`.
//!
//! The usual networks (MiDaS v2.1 small: 256×256; Depth Anything V2 small: 518×518) take
//! one RGB image, resized to a fixed square, normalised with ImageNet's mean and std, as
//! NCHW `f32`, and answer one relative *disparity* map (`[1, h, w]` or `[1, 1, h, w]`,
//! larger = nearer, up to scale and shift). [`LearnedDepthSpec`] describes that contract;
//! [`LearnedDepth::estimate`] resizes the answer back to the photo, normalises it to
//! `[0, 1]` and snaps it to the photo's edges with a guided filter (the networks' maps
//! are soft at object boundaries, which would blur the layer cuts).
//!
//! One loaded network serves every job of a process at once: only the network's own run is
//! taken in turn (the runtime keeps scratch state per session, and parallelises the run itself
//! over its threads); resizing, normalising and the guided filter run outside that turn.

use std::sync::{Mutex, PoisonError};

use atelier_infer::{Model, Tensor};
use image::RgbImage;

use super::DepthMap;
use crate::{Photo3dError, Plane};

/// What a depth network expects and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedDepthSpec {
    /// The model's name (reported as the depth source).
    pub name: String,
    /// Input width the network takes.
    pub input_width: u32,
    /// Input height the network takes.
    pub input_height: u32,
    /// Per-channel mean subtracted from `[0, 1]` RGB.
    pub mean: [f32; 3],
    /// Per-channel std divided by.
    pub std: [f32; 3],
    /// Whether the output is disparity (larger = nearer; MiDaS, Depth Anything) rather
    /// than depth.
    pub output_is_disparity: bool,
    /// Guided-filter radius (in photo pixels) used to snap the map to image edges; 0
    /// disables it.
    pub refine_radius: u32,
}

impl LearnedDepthSpec {
    /// MiDaS v2.1 small's contract (256×256, ImageNet normalisation, disparity out).
    pub fn midas_v21_small(name: &str) -> Self {
        Self {
            name: name.to_string(),
            input_width: 256,
            input_height: 256,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            output_is_disparity: true,
            refine_radius: 4,
        }
    }
}

/// A loaded depth network.
pub struct LearnedDepth {
    model: Mutex<Box<dyn Model>>,
    spec: LearnedDepthSpec,
}

impl std::fmt::Debug for LearnedDepth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedDepth")
            .field("spec", &self.spec)
            .field("backend", &self.network().backend())
            .finish()
    }
}

impl LearnedDepth {
    /// Wraps a model loaded by `atelier_infer::Runtime::load`.
    pub fn new(model: Box<dyn Model>, spec: LearnedDepthSpec) -> Result<Self, Photo3dError> {
        if spec.input_width == 0 || spec.input_height == 0 || spec.std.contains(&0.0) {
            return Err(Photo3dError::InvalidParams(format!(
                "depth model spec {spec:?} has an empty input or a zero std"
            )));
        }
        Ok(Self {
            model: Mutex::new(model),
            spec,
        })
    }

    /// The network, for one run at a time (a run that panicked left nothing half-written that
    /// the next run reads: inputs and outputs are per run).
    fn network(&self) -> std::sync::MutexGuard<'_, Box<dyn Model>> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The model's contract.
    pub fn spec(&self) -> &LearnedDepthSpec {
        &self.spec
    }

    /// The input tensor for `image`: resized (bilinear) and normalised, `[1, 3, h, w]`.
    pub fn preprocess(&self, image: &RgbImage) -> Result<Tensor, Photo3dError> {
        let (w, h) = (self.spec.input_width, self.spec.input_height);
        let mut data = Vec::with_capacity(3 * w as usize * h as usize);
        for c in 0..3 {
            let channel = Plane::from_fn(image.width(), image.height(), |x, y| {
                f32::from(image.get_pixel(x, y).0[c]) / 255.0
            })
            .resized(w, h);
            let (m, s) = (self.spec.mean[c], self.spec.std[c]);
            data.extend(channel.data().iter().map(|v| (v - m) / s));
        }
        Tensor::new(vec![1, 3, h as usize, w as usize], data)
            .map_err(|e| Photo3dError::Model(e.to_string()))
    }

    /// Runs the network on `image` and returns its normalised disparity at the photo's size.
    /// Several estimates may run at once; they take turns only for the network's run.
    pub fn estimate(&self, image: &RgbImage) -> Result<DepthMap, Photo3dError> {
        crate::limits::check_not_empty(image.width(), image.height())?;
        let input = self.preprocess(image)?;
        let outputs = self
            .network()
            .run(&input)
            .map_err(|e| Photo3dError::Model(e.to_string()))?;
        let out = outputs
            .first()
            .ok_or_else(|| Photo3dError::Model("the model has no output".into()))?;
        let (oh, ow) = match out.shape() {
            [1, h, w] | [1, 1, h, w] | [h, w] => (*h, *w),
            other => {
                return Err(Photo3dError::Model(format!(
                    "expected a [1, h, w] or [1, 1, h, w] output, got {other:?}"
                )));
            }
        };
        let raw = Plane::from_vec(ow as u32, oh as u32, out.data().to_vec())
            .ok_or_else(|| Photo3dError::Model("output size does not match its shape".into()))?;
        let mut disparity = raw.normalised();
        if !self.spec.output_is_disparity {
            // Depth out: disparity is its inverse (kept away from zero).
            for v in disparity.data_mut() {
                *v = 1.0 / (0.05 + *v);
            }
        }
        let mut full = disparity
            .normalised()
            .resized(image.width(), image.height());
        if self.spec.refine_radius > 0 {
            let guide = super::luminance(image);
            full = full.guided_by(&guide, self.spec.refine_radius, 1e-3);
        }
        Ok(DepthMap::from_disparity(full))
    }
}
