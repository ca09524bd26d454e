//! Training a detector on the CPU: frozen EfficientNet-Lite0 features ([`features`]) and a
//! CenterNet-style head trained with hand-written gradients ([`head`]).
//!
//! [`prepare`] runs the backbone once per training image (plus augmented copies: random
//! scale/crop and colour jitter), so each epoch only costs the head; the flip augmentation
//! mirrors feature maps. [`train`] runs epochs of Adam over shuffled mini-batches (images in
//! parallel with rayon), evaluates mAP@0.5 on the held-out samples after each epoch, reports it
//! through the callback (which can cancel), keeps the best head (by eval mAP@0.5, then
//! mAP@[.5:.95], then training loss), and stops early after `patience` epochs without a better
//! one or when the time budget is spent.

pub mod features;
pub mod head;

use std::time::{Duration, Instant};

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::features::{Backbone, FeatureMap, STRIDE};
use self::head::{Adam, Grads, Head, Loss, Targets};
use crate::eval::{Detection, Evaluation, GroundTruth, evaluate};
use crate::geometry::BBox;
use crate::synth::Rng;

/// Errors from training.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// Nothing to train on.
    #[error("no annotated frames to train on")]
    NoAnnotations,
    /// A parameter out of range.
    #[error("invalid training parameter: {0}")]
    Params(String),
    /// The backbone failed.
    #[error("backbone: {0}")]
    Backbone(String),
    /// The callback asked to stop.
    #[error("canceled")]
    Canceled,
}

/// An annotated image: its picture and boxes (class index, box in image pixels).
#[derive(Debug, Clone)]
pub struct Example {
    /// The picture.
    pub image: RgbImage,
    /// Boxes.
    pub boxes: Vec<(usize, BBox)>,
}

/// An image ready for the head: features and boxes in network pixels.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Features (standardised once the head's statistics are known).
    pub features: FeatureMap,
    /// Boxes in network pixels.
    pub boxes: Vec<(usize, BBox)>,
    /// Image pixels → network pixels.
    pub scale: f64,
    /// Network canvas width (for flipping).
    pub canvas_w: f64,
}

/// Training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Hidden units of the head.
    pub hidden: usize,
    /// Most epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Stop after this many epochs without a better head (eval mAP@0.5, then mAP@[.5:.95],
    /// then training loss).
    pub patience: usize,
    /// Wall-clock budget for the epochs (preparation excluded).
    pub time_budget: Duration,
    /// Augmented copies per training image (random crop/scale + colour jitter), each one more
    /// backbone pass.
    pub augment_copies: usize,
    /// Random horizontal flips of feature maps.
    pub flip: bool,
    /// Visit one in this many pure-background cells per step (1: all), weighted to stay
    /// unbiased.
    pub background_keep: u32,
    /// Seed.
    pub seed: u64,
    /// Decay of the running average of the head's weights that is evaluated and kept (one
    /// update per step, at most `(1 + step) / (10 + step)` early on and at most
    /// `1 - 1 / (2 × steps per epoch)`, about two epochs; 0: the weights as trained). Averaging smooths the step-to-step noise
    /// that otherwise decides which epoch early stopping keeps.
    #[serde(default = "default_weight_average")]
    pub weight_average: f32,
}

fn default_weight_average() -> f32 {
    0.99
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            hidden: 64,
            epochs: 40,
            batch: 8,
            learning_rate: 2e-3,
            patience: 6,
            time_budget: Duration::from_secs(240),
            augment_copies: 1,
            flip: true,
            background_keep: 1,
            seed: 1,
            weight_average: default_weight_average(),
        }
    }
}

/// One epoch's figures, as reported to the callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number from 1.
    pub epoch: usize,
    /// Mean training loss per object.
    pub loss: f64,
    /// Eval mAP@0.5 (None without eval samples).
    pub map50: Option<f64>,
    /// Seconds since training started.
    pub elapsed: f64,
}

/// What training returns.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The best head.
    pub head: Head,
    /// Per-epoch figures.
    pub history: Vec<EpochStats>,
    /// Evaluation of the best head on the eval samples.
    pub evaluation: Option<Evaluation>,
}

/// Splits items into (train, eval) by group (e.g. video): about `eval_fraction` of the groups go
/// to eval (at least one when there are two or more groups), chosen by `seed`.
pub fn split_by_group(groups: &[usize], eval_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut ids: Vec<usize> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut rng = Rng::new(seed);
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i + 1));
    }
    let n_eval = if ids.len() < 2 {
        0
    } else {
        ((ids.len() as f64 * eval_fraction).round() as usize).max(1)
    };
    let eval_groups = &ids[..n_eval];
    let (mut train, mut eval) = (Vec::new(), Vec::new());
    for (i, g) in groups.iter().enumerate() {
        if eval_groups.contains(g) {
            eval.push(i);
        } else {
            train.push(i);
        }
    }
    (train, eval)
}

/// Random crop (70–100 % of each side) and colour jitter (brightness, contrast, saturation ±20 %);
/// boxes are moved and clipped, and dropped when less than 40 % stays in view.
pub fn augment(example: &Example, rng: &mut Rng) -> Example {
    let (w, h) = (
        f64::from(example.image.width()),
        f64::from(example.image.height()),
    );
    let s = rng.uniform(0.7, 1.0);
    let (cw, ch) = ((w * s).round().max(16.0), (h * s).round().max(16.0));
    let (cx, cy) = (
        rng.uniform(0.0, w - cw + 1.0).floor(),
        rng.uniform(0.0, h - ch + 1.0).floor(),
    );
    let crop =
        image::imageops::crop_imm(&example.image, cx as u32, cy as u32, cw as u32, ch as u32)
            .to_image();
    let mut image = image::imageops::resize(
        &crop,
        w as u32,
        h as u32,
        image::imageops::FilterType::Triangle,
    );
    let (fx, fy) = (w / cw, h / ch);
    let (bright, contrast, sat) = (
        rng.uniform(-0.2, 0.2),
        rng.uniform(0.8, 1.2),
        rng.uniform(0.8, 1.2),
    );
    for p in image.pixels_mut() {
        let grey =
            0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2]);
        for c in 0..3 {
            let v = grey + (f64::from(p.0[c]) - grey) * sat;
            let v = (v - 128.0) * contrast + 128.0 + bright * 255.0;
            p.0[c] = v.clamp(0.0, 255.0) as u8;
        }
    }
    let boxes = example
        .boxes
        .iter()
        .filter_map(|&(class, b)| {
            let moved = BBox::new(
                (b.xtl - cx) * fx,
                (b.ytl - cy) * fy,
                (b.xbr - cx) * fx,
                (b.ybr - cy) * fy,
            );
            let clipped = BBox::new(
                moved.xtl.max(0.0),
                moved.ytl.max(0.0),
                moved.xbr.min(w),
                moved.ybr.min(h),
            );
            (clipped.is_proper() && clipped.area() >= 0.4 * moved.area())
                .then_some((class, clipped))
        })
        .collect();
    Example { image, boxes }
}

/// Runs the backbone over the examples (and `copies` augmented versions of each).
pub fn prepare(
    backbone: &mut Backbone,
    examples: &[Example],
    copies: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Vec<Sample>, TrainError> {
    let mut rng = Rng::new(seed);
    let total = examples.len() * (1 + copies);
    let mut out = Vec::with_capacity(total);
    for ex in examples {
        for copy in 0..=copies {
            let aug;
            let ex = if copy == 0 {
                ex
            } else {
                aug = augment(ex, &mut rng);
                &aug
            };
            out.push(sample(backbone, ex)?);
            if !progress(out.len(), total) {
                return Err(TrainError::Canceled);
            }
        }
    }
    Ok(out)
}

/// One example through the backbone.
pub fn sample(backbone: &mut Backbone, ex: &Example) -> Result<Sample, TrainError> {
    let scale = backbone.scale_for(ex.image.width(), ex.image.height());
    let features = backbone.features(&ex.image)?;
    let boxes = ex
        .boxes
        .iter()
        .map(|&(c, b)| {
            (
                c,
                BBox::new(b.xtl * scale, b.ytl * scale, b.xbr * scale, b.ybr * scale),
            )
        })
        .collect();
    Ok(Sample {
        features,
        boxes,
        scale,
        canvas_w: backbone.width as f64,
    })
}

/// CenterNet targets of boxes (network pixels) on a `grid_w × grid_h` grid.
pub fn targets(boxes: &[(usize, BBox)], grid_w: usize, grid_h: usize, classes: usize) -> Targets {
    let mut heat = vec![0.0f32; grid_w * grid_h * classes];
    let mut centres = Vec::new();
    let s = STRIDE as f64;
    for &(class, b) in boxes {
        let (cx, cy) = ((b.xtl + b.xbr) / 2.0 / s, (b.ytl + b.ybr) / 2.0 / s);
        let (ix, iy) = (
            (cx.floor() as usize).min(grid_w - 1),
            (cy.floor() as usize).min(grid_h - 1),
        );
        let (sx, sy) = (
            (b.width() / s / 6.0).max(0.5),
            (b.height() / s / 6.0).max(0.5),
        );
        for y in 0..grid_h {
            for x in 0..grid_w {
                let (dx, dy) = (x as f64 - ix as f64, y as f64 - iy as f64);
                let g = (-(dx * dx / (2.0 * sx * sx) + dy * dy / (2.0 * sy * sy))).exp() as f32;
                let at = (y * grid_w + x) * classes + class;
                if g > heat[at] {
                    heat[at] = g;
                }
            }
        }
        heat[(iy * grid_w + ix) * classes + class] = 1.0;
        let t = [
            (b.width() / s).ln() as f32,
            (b.height() / s).ln() as f32,
            (cx - ix as f64) as f32,
            (cy - iy as f64) as f32,
        ];
        centres.push((iy * grid_w + ix, t));
    }
    Targets { heat, centres }
}

/// Boxes in network pixels mirrored on a canvas of width `canvas_w`.
fn flip_boxes(boxes: &[(usize, BBox)], canvas_w: f64) -> Vec<(usize, BBox)> {
    boxes
        .iter()
        .map(|&(c, b)| {
            (
                c,
                BBox::new(canvas_w - b.xbr, b.ytl, canvas_w - b.xtl, b.ybr),
            )
        })
        .collect()
}

/// Per-feature mean and 1/std over the samples.
fn statistics(samples: &[Sample]) -> (Vec<f32>, Vec<f32>) {
    let dim = samples[0].features.dim;
    let (mut sum, mut sq, mut n) = (vec![0.0f64; dim], vec![0.0f64; dim], 0.0f64);
    for s in samples {
        for cell in s.features.data.chunks_exact(dim) {
            for (i, v) in cell.iter().enumerate() {
                sum[i] += f64::from(*v);
                sq[i] += f64::from(*v) * f64::from(*v);
            }
            n += 1.0;
        }
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let inv: Vec<f32> = sum
        .iter()
        .zip(&sq)
        .map(|(s, q)| {
            let var = (q / n - (s / n).powi(2)).max(1e-6);
            (1.0 / var.sqrt()) as f32
        })
        .collect();
    (mean, inv)
}

/// The head's standardised inputs of every cell: the first `head.dim` features of each (a head
/// from before [`features::CONTEXT_RADII`] grew reads a prefix).
fn standardise(head: &Head, fm: &FeatureMap) -> FeatureMap {
    let mut data = vec![0.0; fm.grid_w * fm.grid_h * head.dim];
    for (raw, o) in fm
        .data
        .chunks_exact(fm.dim)
        .zip(data.chunks_exact_mut(head.dim))
    {
        head.normalise(raw, o);
    }
    FeatureMap {
        dim: head.dim,
        data,
        ..fm.clone_shape()
    }
}

/// Detections of one image's features: 3×3 peaks of the heat map above `threshold`, best
/// first, then per-class non-maximum suppression ([`crate::nms`]), at most `max_detections`,
/// boxes in network pixels.
pub fn decode(
    head: &Head,
    fm: &FeatureMap,
    threshold: f32,
    max_detections: usize,
) -> Vec<(usize, BBox, f32)> {
    let c = head.classes;
    let cells = fm.grid_w * fm.grid_h;
    let mut outs = vec![0.0f32; cells * (c + 4)];
    let mut x = vec![0.0f32; head.dim];
    let mut hidden = vec![0.0f32; head.hidden];
    for cell in 0..cells {
        head.normalise(&fm.data[cell * fm.dim..(cell + 1) * fm.dim], &mut x);
        head.forward(
            &x,
            &mut hidden,
            &mut outs[cell * (c + 4)..(cell + 1) * (c + 4)],
        );
    }
    let logit = |x: usize, y: usize, k: usize| outs[(y * fm.grid_w + x) * (c + 4) + k];
    let s = STRIDE as f64;
    let mut found = Vec::new();
    for y in 0..fm.grid_h {
        for x in 0..fm.grid_w {
            for k in 0..c {
                let v = logit(x, y, k);
                let score = 1.0 / (1.0 + (-v).exp());
                if score < threshold {
                    continue;
                }
                let mut peak = true;
                'n: for yy in y.saturating_sub(1)..(y + 2).min(fm.grid_h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(fm.grid_w) {
                        if (xx, yy) != (x, y) && logit(xx, yy, k) > v {
                            peak = false;
                            break 'n;
                        }
                    }
                }
                if !peak {
                    continue;
                }
                let o = &outs[(y * fm.grid_w + x) * (c + 4) + c..(y * fm.grid_w + x + 1) * (c + 4)];
                let (w, h) = (f64::from(o[0]).exp() * s, f64::from(o[1]).exp() * s);
                let (cx, cy) = (
                    (x as f64 + f64::from(o[2])) * s,
                    (y as f64 + f64::from(o[3])) * s,
                );
                found.push((
                    k,
                    BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
                    score,
                ));
            }
        }
    }
    found.sort_by(|a, b| b.2.total_cmp(&a.2));
    crate::nms::suppress_overlaps(found, max_detections)
}

/// Evaluates a head on samples (boxes compared in network pixels, which only rescales them).
pub fn evaluate_head(head: &Head, samples: &[Sample]) -> Option<Evaluation> {
    if samples.is_empty() {
        return None;
    }
    let mut gt = Vec::new();
    let mut dets = Vec::new();
    let per_image: Vec<Vec<(usize, BBox, f32)>> = samples
        .par_iter()
        .map(|s| decode(head, &s.features, 0.01, 100))
        .collect();
    for (i, (s, found)) in samples.iter().zip(per_image).enumerate() {
        let image = i as u64 + 1;
        gt.extend(
            s.boxes
                .iter()
                .map(|&(label, bbox)| GroundTruth { image, label, bbox }),
        );
        dets.extend(found.into_iter().filter(|(_, b, _)| b.is_proper()).map(
            |(label, bbox, score)| Detection {
                image,
                label,
                bbox,
                score: f64::from(score),
            },
        ));
    }
    let images: Vec<u64> = (1..=samples.len() as u64).collect();
    evaluate(&images, head.classes, &gt, &dets).ok()
}

/// Trains a fresh head on `train` samples, evaluating on `eval` after each epoch.
pub fn train(
    train: &[Sample],
    eval: &[Sample],
    classes: usize,
    params: &TrainParams,
    on_epoch: &mut dyn FnMut(&EpochStats) -> bool,
) -> Result<Trained, TrainError> {
    train_from(None, train, eval, classes, params, on_epoch)
}

/// Trains a head on `train` samples, from `base` when given (fine-tuning: its weights and its
/// feature standardisation, already mapped to these `classes` by [`Head::with_classes`]; it is
/// evaluated first and kept when no epoch beats it), else from a fresh one. A base head that
/// reads fewer features than the samples carry (trained before the wider context existed) goes
/// on reading its prefix of them.
pub fn train_from(
    base: Option<Head>,
    train: &[Sample],
    eval: &[Sample],
    classes: usize,
    params: &TrainParams,
    on_epoch: &mut dyn FnMut(&EpochStats) -> bool,
) -> Result<Trained, TrainError> {
    if train.iter().all(|s| s.boxes.is_empty()) {
        return Err(TrainError::NoAnnotations);
    }
    if params.batch == 0 || params.hidden == 0 || classes == 0 {
        return Err(TrainError::Params(
            "batch, hidden and classes must be positive".into(),
        ));
    }
    let dim = train[0].features.dim;
    if let Some(b) = &base
        && (b.dim > dim || b.classes != classes)
    {
        return Err(TrainError::Params(format!(
            "the base head takes {} features for {} classes, the samples {dim} for {classes}",
            b.dim, b.classes
        )));
    }
    let start = Instant::now();
    let mut rng = Rng::new(params.seed);
    let mut best: Option<(Rank, Head, Option<Evaluation>)> = None;
    let mut head = match base {
        Some(base) => {
            let evaluation = evaluate_head(&base, eval);
            if evaluation.as_ref().is_some_and(|e| e.map50.is_some()) {
                let rank = Rank::of(evaluation.as_ref(), f64::INFINITY);
                best = Some((rank, base.clone(), evaluation));
            }
            base
        }
        None => {
            let (mean, inv_std) = statistics(train);
            Head::new(dim, params.hidden, classes, mean, inv_std, &mut rng)
        }
    };
    let mut adam = Adam::new(&head, params.learning_rate, 1e-4);
    let mut average = head.clone();
    // Standardised features once, with targets plain and mirrored (maps are mirrored per step).
    let prepared: Vec<(FeatureMap, [Targets; 2])> = train
        .par_iter()
        .map(|s| {
            let (gw, gh) = (s.features.grid_w, s.features.grid_h);
            let features = standardise(&head, &s.features);
            let plain = targets(&s.boxes, gw, gh, classes);
            let mirrored = targets(&flip_boxes(&s.boxes, s.canvas_w), gw, gh, classes);
            (features, [plain, mirrored])
        })
        .collect();
    let mut history = Vec::new();
    let mut since_best = 0;
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    let mut step = 0u64;
    let steps_per_epoch = prepared.len().div_ceil(params.batch);
    let horizon = 1.0 - 1.0 / (2 * steps_per_epoch).max(1) as f32;
    for epoch in 1..=params.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut epoch_loss = 0.0;
        let mut epoch_objects = 0usize;
        for chunk in order.chunks(params.batch) {
            let picks: Vec<(usize, usize)> = chunk
                .iter()
                .map(|&i| (i, usize::from(params.flip && rng.below(2) == 1)))
                .collect();
            let objects: usize = picks
                .iter()
                .map(|&(i, v)| prepared[i].1[v].centres.len())
                .sum();
            step += 1;
            let keep = params.background_keep.max(1);
            let (loss, grads) = picks
                .par_iter()
                .map(|&(i, v)| {
                    let (features, t) = &prepared[i];
                    let salt = step.wrapping_mul(0x0001_0000_01b3) ^ i as u64;
                    if v == 1 {
                        head.gradient_sampled(&features.flipped().data, &t[1], keep, salt)
                    } else {
                        head.gradient_sampled(&features.data, &t[0], keep, salt)
                    }
                })
                .reduce_with(|(la, ga): (Loss, Grads), (lb, gb)| (la + lb, ga.plus(gb)))
                .ok_or(TrainError::NoAnnotations)?;
            let norm = objects.max(1) as f32;
            adam.step(&mut head, &grads, 1.0 / norm);
            // Warm-up: the average starts at the untrained head, so early steps weigh more
            // (decay (1 + t) / (10 + t) until it reaches `weight_average`); and it reaches
            // back about two epochs at most, so a small project (a few steps an epoch) is not
            // judged by the average of heads from many epochs ago.
            let warm = (1.0 + step as f32) / (10.0 + step as f32);
            average.blend(
                &head,
                params.weight_average.clamp(0.0, 1.0).min(warm).min(horizon),
            );
            epoch_loss += loss.heat + loss.size + loss.offset;
            epoch_objects += objects.max(1);
        }
        let evaluation = evaluate_head(&average, eval);
        let map50 = evaluation.as_ref().and_then(|e| e.map50);
        let stats = EpochStats {
            epoch,
            loss: epoch_loss / epoch_objects as f64,
            map50,
            elapsed: start.elapsed().as_secs_f64(),
        };
        history.push(stats.clone());
        let rank = Rank::of(evaluation.as_ref(), stats.loss);
        if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
            best = Some((rank, average.clone(), evaluation));
            since_best = 0;
        } else {
            since_best += 1;
        }
        if !on_epoch(&stats) {
            return Err(TrainError::Canceled);
        }
        if since_best >= params.patience || start.elapsed() >= params.time_budget {
            break;
        }
    }
    let (_, head, evaluation) = best.ok_or(TrainError::NoAnnotations)?;
    Ok(Trained {
        head,
        history,
        evaluation,
    })
}

/// How an epoch's head ranks for keeping: by eval mAP@0.5, then eval mAP@[.5:.95], then the
/// lower training loss (the fields compare in this order). The mAPs of a small eval split
/// saturate (a single video's every tenth frame: two frames at 1.0 after a few epochs), and
/// without the later keys the first saturated epoch would be kept, long before the head
/// generalises; with no eval split the loss alone decides.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Rank {
    map50: f64,
    map: f64,
    neg_loss: f64,
}

impl Rank {
    fn of(evaluation: Option<&Evaluation>, loss: f64) -> Self {
        Self {
            map50: evaluation
                .and_then(|e| e.map50)
                .unwrap_or(f64::NEG_INFINITY),
            map: evaluation.and_then(|e| e.map).unwrap_or(f64::NEG_INFINITY),
            neg_loss: -loss,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Features that say "class k object centred here" on a small grid, with noise elsewhere.
    fn toy_sample(rng: &mut Rng, classes: usize) -> Sample {
        let (gw, gh, dim) = (8, 6, 6);
        let mut data: Vec<f32> = (0..gw * gh * dim)
            .map(|_| rng.uniform(-0.1, 0.1) as f32)
            .collect();
        let (x, y, k) = (
            1 + rng.below(gw - 2),
            1 + rng.below(gh - 2),
            rng.below(classes),
        );
        data[(y * gw + x) * dim + k] += 3.0;
        let (cx, cy) = (
            (x as f64 + 0.5) * STRIDE as f64,
            (y as f64 + 0.5) * STRIDE as f64,
        );
        let b = BBox::new(cx - 8.0, cy - 8.0, cx + 8.0, cy + 8.0);
        Sample {
            features: FeatureMap {
                grid_w: gw,
                grid_h: gh,
                dim,
                data,
            },
            boxes: vec![(k, b)],
            scale: 1.0,
            canvas_w: (gw * STRIDE) as f64,
        }
    }

    /// 30 epochs of small batches without flips or early stopping, for the toy problem.
    fn toy_params() -> TrainParams {
        TrainParams {
            hidden: 16,
            epochs: 30,
            batch: 8,
            learning_rate: 1e-2,
            patience: 30,
            flip: false,
            ..TrainParams::default()
        }
    }

    #[test]
    fn the_head_learns_a_separable_toy_problem_and_reports_each_epoch() {
        let mut rng = Rng::new(11);
        let train_set: Vec<Sample> = (0..64).map(|_| toy_sample(&mut rng, 3)).collect();
        let eval_set: Vec<Sample> = (0..16).map(|_| toy_sample(&mut rng, 3)).collect();
        let params = toy_params();
        let mut epochs = 0;
        let trained = train(&train_set, &eval_set, 3, &params, &mut |s| {
            epochs += 1;
            assert_eq!(s.epoch, epochs);
            true
        })
        .expect("train");
        assert_eq!(epochs, 30);
        let map50 = trained.evaluation.and_then(|e| e.map50).expect("evaluated");
        assert!(map50 > 0.9, "toy mAP@0.5 {map50}");
    }

    #[test]
    fn fine_tuning_starts_from_the_base_head_and_never_ends_below_it() {
        let mut rng = Rng::new(21);
        let train_set: Vec<Sample> = (0..64).map(|_| toy_sample(&mut rng, 3)).collect();
        let eval_set: Vec<Sample> = (0..16).map(|_| toy_sample(&mut rng, 3)).collect();
        let long = toy_params();
        let base = train(&train_set, &eval_set, 3, &long, &mut |_| true).expect("base");
        let base_map = base.evaluation.and_then(|e| e.map50).expect("base mAP");
        // One epoch of small steps: a fresh head barely moves, a tuned one starts where the
        // base is (the averaged weights of one epoch of the toy's large steps already solve it).
        let one = TrainParams {
            epochs: 1,
            learning_rate: 1e-4,
            ..long
        };
        let map_of = |t: Trained| t.evaluation.and_then(|e| e.map50).expect("mAP");
        let fresh = map_of(train(&train_set, &eval_set, 3, &one, &mut |_| true).expect("fresh"));
        let tuned = train_from(
            Some(base.head.clone()),
            &train_set,
            &eval_set,
            3,
            &one,
            &mut |_| true,
        )
        .expect("tuned");
        assert_eq!(tuned.history.len(), 1);
        let tuned = map_of(tuned);
        assert!(tuned >= base_map, "tuned {tuned} < base {base_map}");
        assert!(
            tuned > fresh + 0.2,
            "tuned {tuned}, fresh after one epoch {fresh}"
        );

        // A base that reads a prefix of the features (a head from before the wider context)
        // fine-tunes on the longer vectors, reading its prefix; a longer one is refused.
        let short: Vec<Sample> = train_set
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.features = FeatureMap {
                    dim: 4,
                    data: s
                        .features
                        .data
                        .chunks_exact(6)
                        .flat_map(|c| &c[..4])
                        .copied()
                        .collect(),
                    ..s.features.clone_shape()
                };
                s
            })
            .collect();
        let narrow = train(&short, &short, 3, &one, &mut |_| true).expect("narrow");
        assert_eq!(narrow.head.dim, 4);
        let widened = train_from(
            Some(narrow.head.clone()),
            &train_set,
            &eval_set,
            3,
            &one,
            &mut |_| true,
        )
        .expect("prefix base");
        assert_eq!(widened.head.dim, 4);
        assert!(matches!(
            train_from(
                Some(base.head.clone()),
                &short,
                &short,
                3,
                &one,
                &mut |_| true
            ),
            Err(TrainError::Params(_))
        ));

        // A base for other classes is refused; mapped to these classes it trains.
        let two = base.head.with_classes(&[Some(0), Some(1)], &mut rng);
        assert!(matches!(
            train_from(Some(two), &train_set, &eval_set, 3, &one, &mut |_| true),
            Err(TrainError::Params(_))
        ));
    }

    #[test]
    fn training_without_annotations_or_after_cancel_fails_cleanly() {
        let mut rng = Rng::new(1);
        let mut empty = toy_sample(&mut rng, 2);
        empty.boxes.clear();
        assert_eq!(
            train(&[empty], &[], 2, &TrainParams::default(), &mut |_| true).err(),
            Some(TrainError::NoAnnotations)
        );
        let s = toy_sample(&mut rng, 2);
        assert_eq!(
            train(&[s], &[], 2, &TrainParams::default(), &mut |_| false).err(),
            Some(TrainError::Canceled)
        );
    }

    #[test]
    fn the_split_keeps_each_group_on_one_side() {
        let groups: Vec<usize> = (0..100).map(|i| i / 10).collect();
        let (train_set, eval_set) = split_by_group(&groups, 0.1, 3);
        assert_eq!(eval_set.len(), 10, "one video of ten");
        let eval_group = groups[eval_set[0]];
        assert!(eval_set.iter().all(|&i| groups[i] == eval_group));
        assert!(train_set.iter().all(|&i| groups[i] != eval_group));
        assert_eq!(
            split_by_group(&[0, 0, 0], 0.1, 3).1.len(),
            0,
            "one group: nothing to hold out"
        );
    }
}
