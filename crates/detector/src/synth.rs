//! Synthetic detection data, made by the tests and the benchmark: objects of several classes
//! (disc, triangle, cross, diamond, each touching its box on all four sides so the box is exact)
//! composited at random positions and scales onto textured backgrounds (smooth value noise plus
//! clutter), with partial occlusion by bars; as still images with their boxes, or as videos whose
//! objects move linearly, annotated as tracks with a key frame every `key_every` frames (linear
//! motion makes the interpolated frames exact too).
//!
//! Everything is deterministic in its seed (a SplitMix64 generator, no external randomness).

use std::collections::BTreeMap;

use atelier_imaging::animation::{AnimationError, Mp4Options, encode_mp4};
use image::{Rgb, RgbImage, RgbaImage};

use crate::annotation::{Annotations, Attributes, Frame, KeyFrame, Label, Track, video_frame_name};
use crate::geometry::BBox;

/// The object classes, in label order.
pub const CLASSES: [&str; 4] = ["disc", "triangle", "cross", "diamond"];

const CLASS_COLORS: [[u8; 3]; 4] = [[220, 60, 50], [60, 170, 70], [50, 90, 210], [230, 190, 40]];

/// A small deterministic random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The labels of the synthetic classes.
pub fn labels() -> Vec<Label> {
    CLASSES
        .iter()
        .zip(CLASS_COLORS)
        .map(|(name, [r, g, b])| Label::new(name, &format!("#{r:02x}{g:02x}{b:02x}")))
        .collect()
}

/// A textured background: two octaves of smooth colour noise plus a few flat clutter shapes.
pub fn background(width: u32, height: u32, rng: &mut Rng) -> RgbImage {
    let base: [f64; 3] = [
        rng.uniform(60.0, 200.0),
        rng.uniform(60.0, 200.0),
        rng.uniform(60.0, 200.0),
    ];
    let grids: Vec<(usize, Vec<[f64; 3]>)> = [6usize, 23]
        .iter()
        .map(|&cells| {
            let amp = if cells == 6 { 60.0 } else { 20.0 };
            let values = (0..(cells + 1) * (cells + 1))
                .map(|_| {
                    [
                        rng.uniform(-amp, amp),
                        rng.uniform(-amp, amp),
                        rng.uniform(-amp, amp),
                    ]
                })
                .collect();
            (cells, values)
        })
        .collect();
    let mut img = RgbImage::from_fn(width, height, |x, y| {
        let mut c = base;
        for (cells, values) in &grids {
            let gx = f64::from(x) / f64::from(width) * *cells as f64;
            let gy = f64::from(y) / f64::from(height) * *cells as f64;
            let (ix, iy) = ((gx as usize).min(cells - 1), (gy as usize).min(cells - 1));
            let (fx, fy) = (gx - ix as f64, gy - iy as f64);
            let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
            let at = |i: usize, j: usize| values[j * (cells + 1) + i];
            for (k, v) in c.iter_mut().enumerate() {
                let top = at(ix, iy)[k] * (1.0 - sx) + at(ix + 1, iy)[k] * sx;
                let bottom = at(ix, iy + 1)[k] * (1.0 - sx) + at(ix + 1, iy + 1)[k] * sx;
                *v += top * (1.0 - sy) + bottom * sy;
            }
        }
        Rgb(c.map(|v| v.clamp(0.0, 255.0) as u8))
    });
    // Clutter: muted rectangles and ellipses, so that not every blob is an object.
    for _ in 0..6 {
        let w = rng.uniform(0.05, 0.25) * f64::from(width);
        let h = rng.uniform(0.05, 0.25) * f64::from(height);
        let x = rng.uniform(0.0, f64::from(width) - w);
        let y = rng.uniform(0.0, f64::from(height) - h);
        let grey = rng.uniform(70.0, 180.0);
        let colour = [
            grey + rng.uniform(-20.0, 20.0),
            grey,
            grey + rng.uniform(-20.0, 20.0),
        ]
        .map(|v| v.clamp(0.0, 255.0) as u8);
        let elliptic = rng.below(2) == 0;
        fill(&mut img, BBox::new(x, y, x + w, y + h), colour, |u, v| {
            !elliptic || (u - 0.5).powi(2) + (v - 0.5).powi(2) <= 0.25
        });
    }
    img
}

/// Whether `(u, v)` in the unit square lies in the class's shape. Each shape touches all four
/// sides of the square.
fn inside(class: usize, u: f64, v: f64) -> bool {
    match class {
        0 => (u - 0.5).powi(2) + (v - 0.5).powi(2) <= 0.25,
        1 => (u - 0.5).abs() <= 0.5 * v,
        2 => (u - 0.5).abs() <= 0.17 || (v - 0.5).abs() <= 0.17,
        _ => (u - 0.5).abs() + (v - 0.5).abs() <= 0.5,
    }
}

/// Fills the part of `bbox` where `shape(u, v)` holds, with 4× supersampled edges.
fn fill(img: &mut RgbImage, bbox: BBox, colour: [u8; 3], shape: impl Fn(f64, f64) -> bool) {
    let (w, h) = (img.width(), img.height());
    let x0 = bbox.xtl.floor().max(0.0) as u32;
    let y0 = bbox.ytl.floor().max(0.0) as u32;
    let x1 = (bbox.xbr.ceil() as u32).min(w);
    let y1 = (bbox.ybr.ceil() as u32).min(h);
    for y in y0..y1 {
        for x in x0..x1 {
            let mut hits = 0;
            for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let u = (f64::from(x) + dx - bbox.xtl) / bbox.width();
                let v = (f64::from(y) + dy - bbox.ytl) / bbox.height();
                if (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v) && shape(u, v) {
                    hits += 1;
                }
            }
            if hits > 0 {
                let a = f64::from(hits) / 4.0;
                let p = img.get_pixel_mut(x, y);
                for (channel, &c) in p.0.iter_mut().zip(&colour) {
                    *channel = (f64::from(*channel) * (1.0 - a) + f64::from(c) * a).round() as u8;
                }
            }
        }
    }
}

/// Draws one object of `class` filling `bbox`, its colour jittered by `shade` in `[-1, 1]`.
pub fn draw_object(img: &mut RgbImage, class: usize, bbox: BBox, shade: f64) {
    let colour = CLASS_COLORS[class % CLASS_COLORS.len()]
        .map(|c| (f64::from(c) * (1.0 + 0.2 * shade)).clamp(0.0, 255.0) as u8);
    fill(img, bbox, colour, |u, v| inside(class, u, v));
}

/// An occluding bar over part of `bbox` (a third of it, on a random side); returns the bar.
fn occluder(img: &mut RgbImage, bbox: &BBox, rng: &mut Rng) -> BBox {
    let (w, h) = (bbox.width(), bbox.height());
    let cut = rng.uniform(0.2, 0.4);
    let bar = match rng.below(4) {
        0 => BBox::new(
            bbox.xtl - 0.1 * w,
            bbox.ytl - 0.1 * h,
            bbox.xtl + cut * w,
            bbox.ybr + 0.1 * h,
        ),
        1 => BBox::new(
            bbox.xbr - cut * w,
            bbox.ytl - 0.1 * h,
            bbox.xbr + 0.1 * w,
            bbox.ybr + 0.1 * h,
        ),
        2 => BBox::new(
            bbox.xtl - 0.1 * w,
            bbox.ytl - 0.1 * h,
            bbox.xbr + 0.1 * w,
            bbox.ytl + cut * h,
        ),
        _ => BBox::new(
            bbox.xtl - 0.1 * w,
            bbox.ybr - cut * h,
            bbox.xbr + 0.1 * w,
            bbox.ybr + 0.1 * h,
        ),
    };
    let grey = rng.uniform(40.0, 120.0) as u8;
    fill(img, bar, [grey, grey, grey.saturating_add(10)], |_, _| true);
    bar
}

/// An object in a synthetic image.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthObject {
    /// Class index into [`CLASSES`].
    pub class: usize,
    /// Its full box (hidden parts included).
    pub bbox: BBox,
    /// Partly hidden by a bar.
    pub occluded: bool,
}

/// Parameters of a synthetic image or video.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthParams {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Objects per image / video.
    pub objects: usize,
    /// Smallest object side as a fraction of the image height.
    pub min_scale: f64,
    /// Largest object side as a fraction of the image height.
    pub max_scale: f64,
    /// Probability that an object is partly occluded.
    pub occlusion: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            objects: 3,
            min_scale: 0.15,
            max_scale: 0.35,
            occlusion: 0.3,
            seed: 1,
        }
    }
}

fn random_box(p: &SynthParams, rng: &mut Rng) -> BBox {
    let side = rng.uniform(p.min_scale, p.max_scale) * f64::from(p.height);
    let aspect = rng.uniform(0.75, 1.33);
    let (w, h) = ((side * aspect).min(f64::from(p.width) - 2.0), side);
    let x = rng.uniform(0.0, f64::from(p.width) - w);
    let y = rng.uniform(0.0, f64::from(p.height) - h);
    BBox::new(x, y, x + w, y + h)
}

/// A still image with `p.objects` objects, mostly not overlapping each other.
pub fn image(p: &SynthParams) -> (RgbImage, Vec<SynthObject>) {
    let mut rng = Rng::new(p.seed);
    let mut img = background(p.width, p.height, &mut rng);
    let mut objects: Vec<SynthObject> = Vec::new();
    for _ in 0..p.objects {
        let mut bbox = random_box(p, &mut rng);
        for _ in 0..20 {
            if objects.iter().all(|o| o.bbox.iou(&bbox) < 0.05) {
                break;
            }
            bbox = random_box(p, &mut rng);
        }
        let class = rng.below(CLASSES.len());
        draw_object(&mut img, class, bbox, rng.uniform(-1.0, 1.0));
        let occluded = rng.uniform(0.0, 1.0) < p.occlusion;
        if occluded {
            occluder(&mut img, &bbox, &mut rng);
        }
        objects.push(SynthObject {
            class,
            bbox,
            occluded,
        });
    }
    (img, objects)
}

/// A synthetic video: frames and its annotations.
#[derive(Debug, Clone)]
pub struct SynthVideo {
    /// The frames.
    pub frames: Vec<RgbImage>,
    /// Tracks with key frames every `key_every` frames (and on the last frame).
    pub annotations: Annotations,
    /// The exact box of every object on every frame: `truth[frame]` = (class, box).
    pub truth: Vec<Vec<(usize, BBox)>>,
}

/// A video of `frame_count` frames where `p.objects` objects move (and grow or shrink) linearly
/// across a fixed background; objects whose path crosses a static bar are occluded there.
pub fn video(p: &SynthParams, frame_count: u32, key_every: u32) -> SynthVideo {
    let mut rng = Rng::new(p.seed);
    let bg = background(p.width, p.height, &mut rng);
    let movers: Vec<(usize, BBox, BBox, f64)> = (0..p.objects)
        .map(|_| {
            (
                rng.below(CLASSES.len()),
                random_box(p, &mut rng),
                random_box(p, &mut rng),
                rng.uniform(-1.0, 1.0),
            )
        })
        .collect();
    let bar = (rng.uniform(0.0, 1.0) < p.occlusion).then(|| {
        let x = rng.uniform(0.2, 0.7) * f64::from(p.width);
        BBox::new(x, 0.0, x + 0.06 * f64::from(p.width), f64::from(p.height))
    });
    let last = frame_count.saturating_sub(1).max(1);
    let at = |start: &BBox, end: &BBox, f: u32| start.lerp(end, f64::from(f) / f64::from(last));
    let mut frames = Vec::with_capacity(frame_count as usize);
    let mut truth = Vec::with_capacity(frame_count as usize);
    for f in 0..frame_count {
        let mut img = bg.clone();
        let mut boxes = Vec::new();
        for (class, start, end, shade) in &movers {
            let b = at(start, end, f);
            draw_object(&mut img, *class, b, *shade);
            boxes.push((*class, b));
        }
        if let Some(bar) = &bar {
            fill(&mut img, *bar, [70, 70, 80], |_, _| true);
        }
        frames.push(img);
        truth.push(boxes);
    }
    let names = labels();
    let mut tracks = BTreeMap::new();
    for (i, (class, start, end, _)) in movers.iter().enumerate() {
        let keys: Vec<u32> = (0..frame_count)
            .filter(|f| f % key_every == 0 || *f == frame_count - 1)
            .collect();
        let keyframes = keys
            .into_iter()
            .map(|f| {
                let b = at(start, end, f);
                let occluded = bar.is_some_and(|bar| bar.iou(&b) > 0.0);
                (
                    f,
                    KeyFrame {
                        occluded,
                        ..KeyFrame::visible(b)
                    },
                )
            })
            .collect();
        let id = i as u64 + 1;
        tracks.insert(
            id,
            Track {
                id,
                label: names[*class].name.clone(),
                source: "manual".into(),
                attributes: Attributes::new(),
                keyframes,
            },
        );
    }
    let annotations = Annotations {
        name: format!("synthetic video {}", p.seed),
        labels: names,
        frames: (0..frame_count)
            .map(|n| Frame {
                name: video_frame_name(n),
                width: p.width,
                height: p.height,
            })
            .collect(),
        shapes: BTreeMap::new(),
        tracks,
    };
    SynthVideo {
        frames,
        annotations,
        truth,
    }
}

/// Encodes frames as an H.264 MP4 with atelier's encoder and muxer.
pub fn encode_video(frames: &[RgbImage], fps: u32) -> Result<Vec<u8>, AnimationError> {
    let rgba: Vec<RgbaImage> = frames
        .iter()
        .map(|f| {
            RgbaImage::from_fn(f.width(), f.height(), |x, y| {
                let [r, g, b] = f.get_pixel(x, y).0;
                image::Rgba([r, g, b, 255])
            })
        })
        .collect();
    encode_mp4(&rgba, fps, &Mp4Options::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_image() {
        let p = SynthParams::default();
        assert_eq!(image(&p), image(&p));
        let (a, _) = image(&p);
        let (b, _) = image(&SynthParams { seed: 2, ..p });
        assert_ne!(a, b);
    }

    #[test]
    fn objects_are_drawn_inside_their_boxes_and_touch_every_side() {
        // One unoccluded object on a flat background: the changed pixels span exactly its box.
        for class in 0..CLASSES.len() {
            let mut img = RgbImage::from_pixel(100, 80, Rgb([0, 0, 0]));
            let b = BBox::new(20.0, 10.0, 70.0, 60.0);
            draw_object(&mut img, class, b, 0.0);
            let lit: Vec<(u32, u32)> = img
                .enumerate_pixels()
                .filter(|(_, _, p)| p.0 != [0, 0, 0])
                .map(|(x, y, _)| (x, y))
                .collect();
            let min_x = lit.iter().map(|p| p.0).min();
            let max_x = lit.iter().map(|p| p.0).max();
            let min_y = lit.iter().map(|p| p.1).min();
            let max_y = lit.iter().map(|p| p.1).max();
            assert_eq!(
                (min_x, max_x, min_y, max_y),
                (Some(20), Some(69), Some(10), Some(59)),
                "class {class}"
            );
        }
    }

    #[test]
    fn video_annotations_are_valid_and_interpolate_to_the_truth() {
        let v = video(
            &SynthParams {
                objects: 3,
                ..SynthParams::default()
            },
            31,
            10,
        );
        v.annotations.validate().expect("valid");
        for (f, truth) in v.truth.iter().enumerate() {
            for (track, (_, want)) in v.annotations.tracks.values().zip(truth) {
                let got = track.box_at(f as u32).expect("visible");
                assert!(
                    (got.xtl - want.xtl).abs() < 1e-9 && (got.ybr - want.ybr).abs() < 1e-9,
                    "frame {f}"
                );
            }
        }
    }
}
