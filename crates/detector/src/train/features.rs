//! Frozen backbone features: an RGB image → EfficientNet-Lite0's stride-8 and stride-16 maps
//! (ONNX Runtime through `atelier_infer`) → one feature vector per stride-8 cell: the cell's
//! stride-8 channels, its stride-16 parent's channels, and the 3×3 and 5×5 means of the
//! stride-16 neighbourhood (context at three scales for a head that only sees one cell; the
//! 5×5 mean, 80 pixels wide, spans the largest objects, which the thin "cross" needs).

use atelier_infer::{Model, Tensor};
use image::RgbImage;

use super::TrainError;

/// Pixels per cell of the output grid.
pub const STRIDE: usize = 8;
/// ImageNet normalisation of the backbone's input: per-channel mean of RGB in `[0, 1]`.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet normalisation: per-channel standard deviation.
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Per-cell features of one image: `cells = grid_w * grid_h` rows of `dim` values.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    /// Grid width (cells).
    pub grid_w: usize,
    /// Grid height (cells).
    pub grid_h: usize,
    /// Values per cell.
    pub dim: usize,
    /// Row-major cells, each `dim` values.
    pub data: Vec<f32>,
}

impl FeatureMap {
    /// Features of cell `(x, y)`.
    pub fn cell(&self, x: usize, y: usize) -> &[f32] {
        let at = (y * self.grid_w + x) * self.dim;
        &self.data[at..at + self.dim]
    }

    /// An empty map of the same shape (for building a transformed copy).
    pub fn clone_shape(&self) -> FeatureMap {
        FeatureMap {
            data: Vec::new(),
            ..*self
        }
    }

    /// The map mirrored left–right (the cheap flip augmentation: features of a mirrored image are
    /// close to mirrored features).
    pub fn flipped(&self) -> FeatureMap {
        let mut data = Vec::with_capacity(self.data.len());
        for y in 0..self.grid_h {
            for x in (0..self.grid_w).rev() {
                data.extend_from_slice(self.cell(x, y));
            }
        }
        FeatureMap { data, ..*self }
    }
}

/// The frozen trunk and its input size.
pub struct Backbone {
    model: Box<dyn Model>,
    /// Network input width (multiple of 32).
    pub width: usize,
    /// Network input height (multiple of 32).
    pub height: usize,
}

impl Backbone {
    /// Wraps a loaded backbone (`convert::checkpoint_to_backbone_onnx`) run at `width × height`
    /// (images are scaled to fit and padded at the bottom/right).
    pub fn new(model: Box<dyn Model>, width: usize, height: usize) -> Result<Self, TrainError> {
        if !width.is_multiple_of(32) || !height.is_multiple_of(32) || width == 0 || height == 0 {
            return Err(TrainError::Params(format!(
                "input {width}x{height} must be multiples of 32"
            )));
        }
        Ok(Self {
            model,
            width,
            height,
        })
    }

    /// The scale from image pixels to network pixels for an image of this size.
    pub fn scale_for(&self, width: u32, height: u32) -> f64 {
        scale_to_fit(width, height, self.width, self.height)
    }

    /// The network input for `image`: scaled by [`Self::scale_for`] (bilinear), padded with the
    /// mean colour (zero after normalisation), normalised, NCHW.
    pub fn input(&self, image: &RgbImage) -> Result<Tensor, TrainError> {
        let resized = fitted(image, self.width, self.height);
        let plane = self.width * self.height;
        let mut data = vec![0.0f32; 3 * plane];
        for (x, y, p) in resized.enumerate_pixels() {
            for c in 0..3 {
                data[c * plane + y as usize * self.width + x as usize] =
                    (f32::from(p.0[c]) / 255.0 - MEAN[c]) / STD[c];
            }
        }
        Tensor::new(vec![1, 3, self.height, self.width], data)
            .map_err(|e| TrainError::Backbone(e.to_string()))
    }

    /// Runs the backbone on one image.
    pub fn features(&mut self, image: &RgbImage) -> Result<FeatureMap, TrainError> {
        let (s8, s16) = self.raw(image)?;
        combine(&s8, &s16)
    }

    /// The trunk's raw stride-8 and stride-16 maps of one image (`[1, c, h, w]` each).
    pub fn raw(&mut self, image: &RgbImage) -> Result<(Tensor, Tensor), TrainError> {
        let input = self.input(image)?;
        let out = self
            .model
            .run(&input)
            .map_err(|e| TrainError::Backbone(e.to_string()))?;
        let get = |name: &str| {
            out.get(name)
                .ok_or_else(|| TrainError::Backbone(format!("no output {name:?}")))
        };
        Ok((get("stride8")?.clone(), get("stride16")?.clone()))
    }
}

/// The scale from image pixels to network pixels for an image of `width × height` on a
/// `net_w × net_h` canvas (fit inside, aspect kept).
pub fn scale_to_fit(width: u32, height: u32, net_w: usize, net_h: usize) -> f64 {
    (net_w as f64 / f64::from(width)).min(net_h as f64 / f64::from(height))
}

/// `image` scaled by [`scale_to_fit`] (bilinear, sides rounded; unchanged when the scale keeps
/// its size): what goes at the top-left of the network canvas.
pub fn fitted(image: &RgbImage, net_w: usize, net_h: usize) -> RgbImage {
    let scale = scale_to_fit(image.width(), image.height(), net_w, net_h);
    let w = ((f64::from(image.width()) * scale).round() as u32).clamp(1, net_w as u32);
    let h = ((f64::from(image.height()) * scale).round() as u32).clamp(1, net_h as u32);
    if (w, h) == image.dimensions() {
        image.clone()
    } else {
        image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle)
    }
}

/// Radii (in stride-16 cells) of the context means appended to each cell's features, in order:
/// the 3×3 and the 5×5 mean of the stride-16 neighbourhood. Heads trained before the 5×5 mean
/// existed read the first `c8 + 2 · c16` values only, which is still their layout.
pub const CONTEXT_RADII: [usize; 2] = [1, 2];

/// `[c, h, w]` → the mean over each value's `(2r + 1)²` neighbourhood (edges average what
/// exists, as ONNX `AveragePool` with `count_include_pad = 0`).
fn neighbourhood_mean(t: &[f32], c: usize, h: usize, w: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; c * h * w];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        sum += t[(ch * h + yy) * w + xx];
                        n += 1.0;
                    }
                }
                out[(ch * h + y) * w + x] = sum / n;
            }
        }
    }
    out
}

/// Builds per-cell vectors from `[1, c8, h8, w8]` and `[1, c16, h16, w16]` maps.
fn combine(s8: &Tensor, s16: &Tensor) -> Result<FeatureMap, TrainError> {
    let (&[1, c8, h8, w8], &[1, c16, h16, w16]) = (s8.shape(), s16.shape()) else {
        return Err(TrainError::Backbone(format!(
            "unexpected shapes {:?} {:?}",
            s8.shape(),
            s16.shape()
        )));
    };
    if h16 * 2 != h8 || w16 * 2 != w8 {
        return Err(TrainError::Backbone(
            "stride-16 map is not half the stride-8 map".into(),
        ));
    }
    let (a, b) = (s8.data(), s16.data());
    let contexts: Vec<Vec<f32>> = CONTEXT_RADII
        .iter()
        .map(|&r| neighbourhood_mean(b, c16, h16, w16, r))
        .collect();
    let dim = c8 + (1 + contexts.len()) * c16;
    let mut data = Vec::with_capacity(h8 * w8 * dim);
    for y in 0..h8 {
        for x in 0..w8 {
            data.extend((0..c8).map(|c| a[(c * h8 + y) * w8 + x]));
            let (py, px) = (y / 2, x / 2);
            data.extend((0..c16).map(|c| b[(c * h16 + py) * w16 + px]));
            for ctx in &contexts {
                data.extend((0..c16).map(|c| ctx[(c * h16 + py) * w16 + px]));
            }
        }
    }
    Ok(FeatureMap {
        grid_w: w8,
        grid_h: h8,
        dim,
        data,
    })
}
