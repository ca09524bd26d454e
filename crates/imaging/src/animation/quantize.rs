//! Colour reduction for GIF: one palette of at most 255 colours for the whole animation (index 255
//! stays free for transparency), and the mapping of pixels onto it, with optional Floyd–Steinberg
//! dithering.
//!
//! When the frames hold at most 255 distinct colours the palette is exactly those colours and every
//! pixel maps to its own colour (dithering has no error to spread, so it changes nothing).
//! Otherwise the palette comes from median cut over a 15-bit histogram (bins keep their exact mean
//! colour), refined by a few k-means passes; nearest-colour lookups go through a lazily filled
//! 18-bit cache shared by all threads.

use std::sync::atomic::{AtomicU8, Ordering};

use image::RgbaImage;
use rayon::prelude::*;

/// Most colours in the palette; one GIF index is kept for transparency.
pub(crate) const MAX_COLORS: usize = 255;

/// How an RGBA pixel becomes an opaque colour or a transparent one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PixelMode {
    /// Alpha < 128 is transparent; other pixels keep their RGB.
    KeepTransparency,
    /// Alpha is composited onto this colour; nothing is transparent.
    Composite([u8; 3]),
}

impl PixelMode {
    /// The opaque colour of `pixel`, or `None` when it is transparent.
    #[inline]
    pub(crate) fn rgb(self, pixel: [u8; 4]) -> Option<[u8; 3]> {
        match self {
            PixelMode::KeepTransparency if pixel[3] < 128 => None,
            PixelMode::KeepTransparency => Some([pixel[0], pixel[1], pixel[2]]),
            PixelMode::Composite(background) => Some(super::composite(pixel, background)),
        }
    }
}

/// A rectangle inside a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// A palette and the means to map pixels onto it.
pub(crate) struct Quantizer {
    palette: Vec<[u8; 3]>,
    /// Palette colours packed as `0xRRGGBB`, sorted, with their indices; set when the palette holds
    /// every colour of the input exactly.
    exact: Option<Vec<(u32, u8)>>,
    /// 18-bit RGB cell → nearest index + 1 (0 = not computed yet).
    cache: Vec<AtomicU8>,
}

const CACHE_BITS: u32 = 6;
const HIST_BITS: u32 = 5;
/// Pixels looked at when building the histogram; larger inputs are sampled with a stride.
const HISTOGRAM_SAMPLE: u64 = 4_000_000;
const KMEANS_PASSES: usize = 3;
/// Most error (per channel, in levels) a pixel takes from its neighbours when dithering.
const MAX_CARRIED_ERROR: i32 = 32;

#[inline]
fn pack(rgb: [u8; 3]) -> u32 {
    u32::from(rgb[0]) << 16 | u32::from(rgb[1]) << 8 | u32::from(rgb[2])
}

#[inline]
fn distance(a: [i32; 3], b: [u8; 3]) -> i32 {
    let dr = a[0] - i32::from(b[0]);
    let dg = a[1] - i32::from(b[1]);
    let db = a[2] - i32::from(b[2]);
    dr * dr + dg * dg + db * db
}

fn nearest(palette: &[[u8; 3]], color: [i32; 3]) -> u8 {
    let mut best = 0;
    let mut best_distance = i32::MAX;
    for (index, &entry) in palette.iter().enumerate() {
        let d = distance(color, entry);
        if d < best_distance {
            best_distance = d;
            best = index;
        }
    }
    best as u8
}

impl Quantizer {
    /// Builds the palette for all `frames` under `mode`.
    pub(crate) fn for_frames(frames: &[RgbaImage], mode: PixelMode) -> Self {
        let palette;
        let exact;
        if let Some(colors) = distinct_colors(frames, mode, MAX_COLORS) {
            let mut sorted: Vec<(u32, u8)> = colors
                .iter()
                .enumerate()
                .map(|(index, &c)| (pack(c), index as u8))
                .collect();
            sorted.sort_unstable();
            palette = colors;
            exact = Some(sorted);
        } else {
            let bins = histogram(frames, mode);
            palette = kmeans(&bins, median_cut(&bins, MAX_COLORS));
            exact = None;
        }
        let cache = (0..1usize << (3 * CACHE_BITS))
            .map(|_| AtomicU8::new(0))
            .collect();
        Self {
            palette,
            exact,
            cache,
        }
    }

    /// The palette colours (at most 255).
    pub(crate) fn palette(&self) -> &[[u8; 3]] {
        &self.palette
    }

    /// Nearest palette index for an (error-adjusted) colour, through the shared cache.
    #[inline]
    fn nearest_cached(&self, color: [i32; 3]) -> u8 {
        let shift = 8 - CACHE_BITS;
        let cell = ((color[0] as usize >> shift) << (2 * CACHE_BITS))
            | ((color[1] as usize >> shift) << CACHE_BITS)
            | (color[2] as usize >> shift);
        let slot = &self.cache[cell];
        let known = slot.load(Ordering::Relaxed);
        if known != 0 {
            return known - 1;
        }
        let half = 1 << (shift - 1);
        let center = [
            (color[0] >> shift << shift) + half,
            (color[1] >> shift << shift) + half,
            (color[2] >> shift << shift) + half,
        ];
        let index = nearest(&self.palette, center);
        slot.store(index + 1, Ordering::Relaxed);
        index
    }

    /// Maps `rect` of `frame` to palette indices (`transparent` for transparent pixels), dithering
    /// with Floyd–Steinberg when asked and the palette is not exact.
    pub(crate) fn map(
        &self,
        frame: &RgbaImage,
        rect: Rect,
        mode: PixelMode,
        dither: bool,
        transparent: u8,
    ) -> Vec<u8> {
        match &self.exact {
            Some(sorted) => map_exact(sorted, frame, rect, mode, transparent),
            None if dither => self.map_dithered(frame, rect, mode, transparent),
            None => {
                let mut out = Vec::with_capacity(rect.width as usize * rect.height as usize);
                for row in rect_rows(frame, rect) {
                    out.extend(row.chunks_exact(4).map(
                        |p| match mode.rgb([p[0], p[1], p[2], p[3]]) {
                            None => transparent,
                            Some(c) => self.nearest_cached(c.map(i32::from)),
                        },
                    ));
                }
                out
            }
        }
    }

    /// Serpentine Floyd–Steinberg. The diffused error is damped (×7/8) and what a pixel receives
    /// is capped (±[`MAX_CARRIED_ERROR`]), so a region whose colour falls between distant palette
    /// entries gets a regular pattern instead of stray far-off pixels.
    fn map_dithered(
        &self,
        frame: &RgbaImage,
        rect: Rect,
        mode: PixelMode,
        transparent: u8,
    ) -> Vec<u8> {
        let width = rect.width as usize;
        let mut out = vec![transparent; width * rect.height as usize];
        // Errors ×16 for this row and the next, with one guard cell on each side.
        let mut current = vec![[0i32; 3]; width + 2];
        let mut next = vec![[0i32; 3]; width + 2];
        for (row_index, (row, out_row)) in rect_rows(frame, rect)
            .zip(out.chunks_exact_mut(width))
            .enumerate()
        {
            let backwards = row_index % 2 == 1;
            for step in 0..width {
                let i = if backwards { width - 1 - step } else { step };
                let p = &row[i * 4..i * 4 + 4];
                let Some(c) = mode.rgb([p[0], p[1], p[2], p[3]]) else {
                    continue;
                };
                let carried = current[i + 1];
                let mut wanted = [0i32; 3];
                for k in 0..3 {
                    let e = ((carried[k] + 8) >> 4).clamp(-MAX_CARRIED_ERROR, MAX_CARRIED_ERROR);
                    wanted[k] = (i32::from(c[k]) + e).clamp(0, 255);
                }
                let index = self.nearest_cached(wanted);
                out_row[i] = index;
                let got = self.palette[usize::from(index)];
                // Guard cells: index i + 1 is this pixel; ahead and behind depend on direction.
                let (ahead, behind) = if backwards { (i, i + 2) } else { (i + 2, i) };
                for k in 0..3 {
                    let err = (wanted[k] - i32::from(got[k])) * 7 / 8;
                    current[ahead][k] += err * 7;
                    next[behind][k] += err * 3;
                    next[i + 1][k] += err * 5;
                    next[ahead][k] += err;
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.fill([0; 3]);
        }
        out
    }
}

/// The RGBA bytes of each row of `rect` in `frame`.
fn rect_rows(frame: &RgbaImage, rect: Rect) -> impl Iterator<Item = &[u8]> {
    let stride = frame.width() as usize * 4;
    let (left, right) = (rect.x as usize * 4, (rect.x + rect.width) as usize * 4);
    frame
        .as_raw()
        .chunks_exact(stride)
        .skip(rect.y as usize)
        .take(rect.height as usize)
        .map(move |row| &row[left..right])
}

fn map_exact(
    sorted: &[(u32, u8)],
    frame: &RgbaImage,
    rect: Rect,
    mode: PixelMode,
    transparent: u8,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(rect.width as usize * rect.height as usize);
    let mut last: Option<(u32, u8)> = None;
    for row in rect_rows(frame, rect) {
        for p in row.chunks_exact(4) {
            let Some(c) = mode.rgb([p[0], p[1], p[2], p[3]]) else {
                out.push(transparent);
                continue;
            };
            let key = pack(c);
            let index = match last {
                Some((k, i)) if k == key => i,
                _ => {
                    // Every colour is in the palette by construction; 0 is never reached.
                    let i = sorted
                        .binary_search_by_key(&key, |&(k, _)| k)
                        .map_or(0, |at| sorted[at].1);
                    last = Some((key, i));
                    i
                }
            };
            out.push(index);
        }
    }
    out
}

/// The distinct opaque colours of all frames, in order of first appearance, or `None` when there
/// are more than `max`.
fn distinct_colors(frames: &[RgbaImage], mode: PixelMode, max: usize) -> Option<Vec<[u8; 3]>> {
    let mut seen = vec![0u64; (1 << 24) / 64];
    let mut colors = Vec::new();
    let mut last = None;
    for frame in frames {
        for pixel in frame.pixels() {
            let Some(c) = mode.rgb(pixel.0) else { continue };
            if last == Some(c) {
                continue;
            }
            last = Some(c);
            let key = pack(c) as usize;
            let (word, bit) = (key / 64, 1u64 << (key % 64));
            if seen[word] & bit == 0 {
                seen[word] |= bit;
                colors.push(c);
                if colors.len() > max {
                    return None;
                }
            }
        }
    }
    Some(colors)
}

/// One histogram bin: how many pixels fell in it and the sum of their colours.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    count: u64,
    sum: [u64; 3],
}

impl Bin {
    fn add(&mut self, other: &Bin) {
        self.count += other.count;
        for (mine, theirs) in self.sum.iter_mut().zip(other.sum) {
            *mine += theirs;
        }
    }

    fn mean(&self) -> [f64; 3] {
        let n = self.count as f64;
        [
            self.sum[0] as f64 / n,
            self.sum[1] as f64 / n,
            self.sum[2] as f64 / n,
        ]
    }
}

/// Non-empty 15-bit bins over a sample of the opaque pixels of all frames.
fn histogram(frames: &[RgbaImage], mode: PixelMode) -> Vec<Bin> {
    let total: u64 = frames
        .iter()
        .map(|f| u64::from(f.width()) * u64::from(f.height()))
        .sum();
    let step = total.div_ceil(HISTOGRAM_SAMPLE).max(1) as usize;
    let size = 1usize << (3 * HIST_BITS);
    let shift = 8 - HIST_BITS;
    let bins = frames
        .par_iter()
        .enumerate()
        .fold(
            || vec![Bin::default(); size],
            |mut bins, (n, frame)| {
                let raw = frame.as_raw();
                // Start each frame at a different offset so strided samples don't line up.
                let mut at = (n * 7919) % step;
                while at * 4 < raw.len() {
                    let p = [
                        raw[at * 4],
                        raw[at * 4 + 1],
                        raw[at * 4 + 2],
                        raw[at * 4 + 3],
                    ];
                    if let Some(c) = mode.rgb(p) {
                        let cell = (usize::from(c[0] >> shift) << (2 * HIST_BITS))
                            | (usize::from(c[1] >> shift) << HIST_BITS)
                            | usize::from(c[2] >> shift);
                        let bin = &mut bins[cell];
                        bin.count += 1;
                        bin.sum[0] += u64::from(c[0]);
                        bin.sum[1] += u64::from(c[1]);
                        bin.sum[2] += u64::from(c[2]);
                    }
                    at += step;
                }
                bins
            },
        )
        .reduce(
            || vec![Bin::default(); size],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.add(&y);
                }
                a
            },
        );
    bins.into_iter().filter(|b| b.count > 0).collect()
}

/// Weighted sum of squared distances to the mean along each axis.
fn box_spread(bins: &[Bin]) -> [f64; 3] {
    let mut weight = 0.0;
    let mut sum = [0.0; 3];
    let mut squares = [0.0; 3];
    for bin in bins {
        let w = bin.count as f64;
        let m = bin.mean();
        weight += w;
        for k in 0..3 {
            sum[k] += w * m[k];
            squares[k] += w * m[k] * m[k];
        }
    }
    let mut spread = [0.0; 3];
    if weight > 0.0 {
        for k in 0..3 {
            spread[k] = squares[k] - sum[k] * sum[k] / weight;
        }
    }
    spread
}

/// Median cut: splits the box with the largest spread at its weighted median until `max` boxes.
fn median_cut(bins: &[Bin], max: usize) -> Vec<[u8; 3]> {
    let mut bins = bins.to_vec();
    // Boxes are ranges of `bins`, with their spread per axis.
    let mut boxes: Vec<(std::ops::Range<usize>, [f64; 3])> = Vec::new();
    if !bins.is_empty() {
        boxes.push((0..bins.len(), box_spread(&bins)));
    }
    while boxes.len() < max {
        let pick = boxes
            .iter()
            .enumerate()
            .filter(|(_, (range, _))| range.len() > 1)
            .max_by(|a, b| total(a.1.1).total_cmp(&total(b.1.1)));
        let Some((pick, _)) = pick else { break };
        let (range, spread) = boxes.swap_remove(pick);
        let axis = (0..3)
            .max_by(|&a, &b| spread[a].total_cmp(&spread[b]))
            .unwrap_or(0);
        let slice = &mut bins[range.clone()];
        slice.sort_unstable_by(|a, b| a.mean()[axis].total_cmp(&b.mean()[axis]));
        let half: u64 = slice.iter().map(|b| b.count).sum::<u64>() / 2;
        let mut running = 0;
        let mut cut = 1;
        for (i, bin) in slice.iter().enumerate() {
            running += bin.count;
            if running >= half {
                cut = (i + 1).clamp(1, slice.len() - 1);
                break;
            }
        }
        let (left, right) = slice.split_at(cut);
        let (spread_left, spread_right) = (box_spread(left), box_spread(right));
        let middle = range.start + cut;
        boxes.push((range.start..middle, spread_left));
        boxes.push((middle..range.end, spread_right));
    }
    boxes
        .iter()
        .map(|(range, _)| mean_color(&bins[range.clone()]))
        .collect()
}

fn total(spread: [f64; 3]) -> f64 {
    spread[0] + spread[1] + spread[2]
}

fn mean_color(bins: &[Bin]) -> [u8; 3] {
    let mut total = Bin::default();
    for bin in bins {
        total.add(bin);
    }
    let (count, sum) = (total.count.max(1), total.sum);
    [
        ((sum[0] + count / 2) / count) as u8,
        ((sum[1] + count / 2) / count) as u8,
        ((sum[2] + count / 2) / count) as u8,
    ]
}

/// Lloyd iterations over the bins, starting from `palette`.
fn kmeans(bins: &[Bin], mut palette: Vec<[u8; 3]>) -> Vec<[u8; 3]> {
    if palette.is_empty() {
        return vec![[0, 0, 0]];
    }
    for _ in 0..KMEANS_PASSES {
        let groups = bins
            .par_iter()
            .fold(
                || vec![Bin::default(); palette.len()],
                |mut groups, bin| {
                    let m = bin.mean();
                    let index = nearest(&palette, [m[0] as i32, m[1] as i32, m[2] as i32]);
                    let group = &mut groups[usize::from(index)];
                    group.add(bin);
                    groups
                },
            )
            .reduce(
                || vec![Bin::default(); palette.len()],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.add(&y);
                    }
                    a
                },
            );
        for (entry, group) in palette.iter_mut().zip(&groups) {
            if group.count > 0 {
                *entry = mean_color(std::slice::from_ref(group));
            }
        }
    }
    palette
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                ((x + y) % 256) as u8,
                255,
            ])
        })
    }

    fn full(frame: &RgbaImage) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: frame.width(),
            height: frame.height(),
        }
    }

    #[test]
    fn few_colours_give_an_exact_palette_and_dithering_changes_nothing() {
        // 15 × 16 = 240 distinct colours.
        let frame = RgbaImage::from_fn(15, 16, |x, y| {
            image::Rgba([(x * 16) as u8, (y * 16) as u8, 7, 255])
        });
        let q = Quantizer::for_frames(std::slice::from_ref(&frame), PixelMode::KeepTransparency);
        assert_eq!(q.palette().len(), 240);
        let plain = q.map(
            &frame,
            full(&frame),
            PixelMode::KeepTransparency,
            false,
            255,
        );
        let dithered = q.map(&frame, full(&frame), PixelMode::KeepTransparency, true, 255);
        assert_eq!(plain, dithered);
        for (i, pixel) in frame.pixels().enumerate() {
            let c = q.palette()[usize::from(plain[i])];
            assert_eq!(c, [pixel.0[0], pixel.0[1], pixel.0[2]]);
        }
    }

    #[test]
    fn many_colours_are_reduced_to_255_close_ones() {
        let frame = gradient(128, 128);
        let q = Quantizer::for_frames(std::slice::from_ref(&frame), PixelMode::KeepTransparency);
        assert_eq!(q.palette().len(), MAX_COLORS);
        let indices = q.map(
            &frame,
            full(&frame),
            PixelMode::KeepTransparency,
            false,
            255,
        );
        let mut worst = 0;
        for (i, pixel) in frame.pixels().enumerate() {
            let c = q.palette()[usize::from(indices[i])];
            let d = distance([pixel.0[0].into(), pixel.0[1].into(), pixel.0[2].into()], c);
            worst = worst.max(d);
        }
        // 255 colours over a 3-D ramp: every pixel within ~14 levels per channel on average.
        assert!(worst < 3 * 24 * 24, "worst squared error {worst}");
    }

    #[test]
    fn dithering_keeps_the_average_colour_of_a_region() {
        // A flat colour that is not in the palette: dithering should mix neighbours to match it.
        let mut frames = vec![gradient(64, 64)];
        frames.push(RgbaImage::from_pixel(
            64,
            64,
            image::Rgba([77, 140, 201, 255]),
        ));
        let q = Quantizer::for_frames(&frames, PixelMode::KeepTransparency);
        let flat = &frames[1];
        let indices = q.map(flat, full(flat), PixelMode::KeepTransparency, true, 255);
        let mut sum = [0u64; 3];
        for &i in &indices {
            let c = q.palette()[usize::from(i)];
            for k in 0..3 {
                sum[k] += u64::from(c[k]);
            }
        }
        let n = indices.len() as u64;
        let mean = [sum[0] / n, sum[1] / n, sum[2] / n];
        for (k, want) in [77u64, 140, 201].into_iter().enumerate() {
            assert!(mean[k].abs_diff(want) <= 2, "channel {k}: {mean:?}");
        }
    }

    #[test]
    fn transparent_pixels_map_to_the_transparent_index() {
        let mut frame = RgbaImage::from_pixel(4, 4, image::Rgba([9, 9, 9, 255]));
        frame.put_pixel(1, 2, image::Rgba([200, 0, 0, 127]));
        let q = Quantizer::for_frames(std::slice::from_ref(&frame), PixelMode::KeepTransparency);
        let indices = q.map(&frame, full(&frame), PixelMode::KeepTransparency, true, 255);
        assert_eq!(indices[2 * 4 + 1], 255);
        assert_eq!(indices.iter().filter(|&&i| i == 255).count(), 1);
        assert_eq!(q.palette(), &[[9, 9, 9]]);
    }
}
