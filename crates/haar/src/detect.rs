//! Multi-scale detection: the scale list, the window scan and grouping, as in OpenCV 4's
//! `CascadeClassifier::detectMultiScale` (CPU path, no mask generator).

use rayon::prelude::*;

use crate::HaarError;
use crate::cascade::{Cascade, Rect, Size};
use crate::eval::{Program, WindowScan};
use crate::group::group_rectangles;
use crate::image::GrayImage;
use crate::limits::{Budget, Meter};
use crate::pyramid::{self, Level};

/// OpenCV's grouping tolerance in `detectMultiScale`.
pub const GROUP_EPS: f64 = 0.2;

/// Upper bound on the number of pyramid levels (a scale factor barely above 1 would otherwise
/// allocate without limit).
pub const MAX_LEVELS: usize = 1000;

/// Upper bound on the integral-image cells of the whole pyramid (each cell takes 8 bytes, 12 with
/// tilted features): about 46 megapixels at scale factor 1.1. Raise `min_size` or downscale
/// larger images.
pub const MAX_PYRAMID_CELLS: usize = 1 << 28;

/// Parameters of [`Cascade::detect_multi_scale`], with OpenCV's meaning and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectParams {
    /// How much the image shrinks between pyramid levels; must be finite and above 1
    /// (OpenCV default 1.1).
    pub scale_factor: f64,
    /// A detection must gather more than this many raw candidates to be kept; 0 returns the raw
    /// candidates ungrouped (OpenCV default 3).
    pub min_neighbors: u32,
    /// Smallest object size; smaller windows are skipped. `0x0` means no limit.
    pub min_size: Size,
    /// Largest object size; bigger windows stop the pyramid. A zero side means the image size.
    pub max_size: Size,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            scale_factor: 1.1,
            min_neighbors: 3,
            min_size: Size::new(0, 0),
            max_size: Size::new(0, 0),
        }
    }
}

impl Cascade {
    /// Finds objects at all scales and groups overlapping hits, exactly as OpenCV's
    /// `CascadeClassifier::detectMultiScale(image, scaleFactor, minNeighbors, 0, minSize, maxSize)`.
    ///
    /// Boxes come back in OpenCV's order (clusters in order of their first candidate, candidates
    /// by scale then row then column) and clipped to the image. Runs on the current rayon pool.
    pub fn detect_multi_scale(
        &self,
        image: &GrayImage<'_>,
        params: &DetectParams,
    ) -> Result<Vec<Rect>, HaarError> {
        self.detect_multi_scale_within(image, params, &Budget::default())
    }

    /// [`Cascade::detect_multi_scale`] within `budget`: the window scan checks the deadline and
    /// the cancel flag before each row and counts candidates after it, and stops with
    /// [`HaarError::DeadlineExceeded`], [`HaarError::Canceled`] or
    /// [`HaarError::TooManyCandidates`] (before grouping, whose cost is their number squared).
    pub fn detect_multi_scale_within(
        &self,
        image: &GrayImage<'_>,
        params: &DetectParams,
        budget: &Budget<'_>,
    ) -> Result<Vec<Rect>, HaarError> {
        let candidates = self.candidates(image, params, true, budget)?;
        let threshold = i32::try_from(params.min_neighbors).unwrap_or(i32::MAX);
        let grouped = group_rectangles(&candidates, threshold, GROUP_EPS);
        Ok(clip(grouped, image))
    }

    /// The raw windows accepted by every stage, before grouping (OpenCV's
    /// `detectMultiScaleNoGrouping`), in scale, row, column order. `min_neighbors` is ignored.
    pub fn detect_candidates(
        &self,
        image: &GrayImage<'_>,
        params: &DetectParams,
    ) -> Result<Vec<Rect>, HaarError> {
        self.candidates(image, params, true, &Budget::default())
    }

    fn candidates(
        &self,
        image: &GrayImage<'_>,
        params: &DetectParams,
        simd: bool,
        budget: &Budget<'_>,
    ) -> Result<Vec<Rect>, HaarError> {
        let meter = Meter::new(budget);
        meter.check()?;
        let mut levels = self.levels(image, params)?;
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        let planes = pyramid::build(image, &mut levels, self.has_tilted);
        let program = Program::compile(self, planes.stride);
        let mut scan = WindowScan::new(&program, &planes, self.window);
        scan.simd = simd;

        // OpenCV splits the rows of every level into `nstripes` stripes sized from the first
        // level's working width; the integer arithmetic can leave the last row(s) of a level
        // unscanned, and parity means leaving them too.
        let working = |l: &Level| {
            (
                (l.width + 1).saturating_sub(self.window.width as usize),
                (l.height + 1).saturating_sub(self.window.height as usize),
            )
        };
        let nstripes = working(&levels[0]).0.div_ceil(32);
        if nstripes == 0 {
            return Ok(Vec::new());
        }
        // One task per (level, row), in OpenCV's single-thread order.
        let tasks: Vec<(usize, usize)> = levels
            .iter()
            .enumerate()
            .flat_map(|(li, l)| {
                let rows = working(l).1;
                let stripe = (rows / l.step).div_ceil(nstripes).max(1) * l.step;
                let end = rows.min(nstripes * stripe);
                (0..end).step_by(l.step).map(move |y| (li, y))
            })
            .collect();
        let rows: Result<Vec<Vec<Rect>>, HaarError> = tasks
            .par_iter()
            .map(|&(li, y)| {
                meter.check()?;
                let mut hits = Vec::new();
                scan.scan_row(&levels[li], y, &mut hits);
                meter.add(hits.len())?;
                Ok(hits)
            })
            .collect();
        pyramid::scratch::give_back(planes);
        Ok(rows?.into_iter().flatten().collect())
    }

    /// The pyramid levels OpenCV would use for this image and these parameters.
    fn levels(
        &self,
        image: &GrayImage<'_>,
        params: &DetectParams,
    ) -> Result<Vec<Level>, HaarError> {
        let sf = params.scale_factor;
        if !sf.is_finite() || sf <= 1.0 {
            return Err(HaarError::param(
                "scale_factor",
                format!("must be a finite number above 1, got {sf}"),
            ));
        }
        let (iw, ih) = (image.width(), image.height());
        let min = params.min_size;
        if min.width > iw || min.height > ih {
            return Err(HaarError::param(
                "min_size",
                format!(
                    "{}x{} is larger than the {iw}x{ih} image",
                    min.width, min.height
                ),
            ));
        }
        let max = if params.max_size.width == 0 || params.max_size.height == 0 {
            Size::new(iw, ih)
        } else {
            params.max_size
        };
        if max.width < min.width || max.height < min.height {
            return Err(HaarError::param(
                "max_size",
                format!(
                    "{}x{} is smaller than min_size {}x{}",
                    max.width, max.height, min.width, min.height
                ),
            ));
        }

        let win = self.window;
        // Every factor whose window fits the image (OpenCV 4 keeps them as f32)...
        let mut all_scales: Vec<f32> = Vec::new();
        let mut factor = 1.0f64;
        loop {
            let ww = (f64::from(win.width) * factor).round_ties_even();
            let wh = (f64::from(win.height) * factor).round_ties_even();
            if ww > f64::from(iw) || wh > f64::from(ih) {
                break;
            }
            all_scales.push(factor as f32);
            if all_scales.len() > MAX_LEVELS {
                return Err(too_many(sf, iw, ih));
            }
            factor *= sf;
        }
        // ...then those whose window lies within [min_size, max_size]...
        let window_at = |scale: f32| {
            (
                (win.width as f32 * scale).round_ties_even() as i64,
                (win.height as f32 * scale).round_ties_even() as i64,
            )
        };
        let mut scales: Vec<f32> = Vec::new();
        for &scale in &all_scales {
            let (ww, wh) = window_at(scale);
            if ww > i64::from(max.width) || wh > i64::from(max.height) {
                break;
            }
            if ww < i64::from(min.width) || wh < i64::from(min.height) {
                continue;
            }
            scales.push(scale);
        }
        // ...or, when none does (e.g. min_size == max_size between two levels), the single
        // level whose window is nearest to min_size.
        if scales.is_empty() {
            let dist = |scale: f32| {
                let (ww, wh) = window_at(scale);
                let (dx, dy) = (i64::from(min.width) - ww, i64::from(min.height) - wh);
                dx * dx + dy * dy
            };
            let mut best: Option<f32> = None;
            for &scale in &all_scales {
                if best.is_none_or(|b| dist(b) > dist(scale)) {
                    best = Some(scale);
                }
            }
            scales.extend(best);
        }

        let mut levels = Vec::with_capacity(scales.len());
        let mut cells = 0usize;
        for scale in scales {
            let width = (iw as f32 / scale).round_ties_even() as usize;
            let height = (ih as f32 / scale).round_ties_even() as usize;
            cells += (width + 1) * (height + 1);
            if cells > MAX_PYRAMID_CELLS {
                return Err(HaarError::PyramidTooLarge {
                    width: iw,
                    height: ih,
                    max_cells: MAX_PYRAMID_CELLS,
                });
            }
            levels.push(Level {
                scale,
                width,
                height,
                step: if scale >= 2.0 { 1 } else { 2 },
                offset: 0,
            });
        }
        Ok(levels)
    }
}

/// `clipObjects`: intersect with the image and drop boxes that become empty.
fn clip(rects: Vec<Rect>, image: &GrayImage<'_>) -> Vec<Rect> {
    let (w, h) = (image.width() as i32, image.height() as i32);
    rects
        .into_iter()
        .filter_map(|r| {
            let x0 = r.x.max(0);
            let y0 = r.y.max(0);
            let x1 = (r.x.saturating_add(r.width)).min(w);
            let y1 = (r.y.saturating_add(r.height)).min(h);
            (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
        })
        .collect()
}

fn too_many(sf: f64, iw: u32, ih: u32) -> HaarError {
    HaarError::param(
        "scale_factor",
        format!("{sf} needs more than {MAX_LEVELS} pyramid levels for a {iw}x{ih} image"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CascadeLimits;

    /// One stump on "left half minus right half" of a 4×4 window: objects are windows whose left
    /// half is at least as bright as their right half.
    const LEFT_BRIGHTER: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>4</height>
  <width>4</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 0.</internalNodes>
          <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_><rects><_>0 0 2 4 1.</_><_>2 0 2 4 -1.</_></rects></_></features></cascade>
</opencv_storage>"#;

    /// One LBP stump on a 3×3 window of 1×1 blocks accepting only code 255 (no neighbour darker
    /// than the centre).
    const NO_DARKER_NEIGHBOUR: &str = r#"<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>LBP</featureType>
  <height>3</height>
  <width>3</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>256</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 0 0 0 0 0 0 0 -2147483648</internalNodes>
          <leafValues>1. -1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_><rect>0 0 1 1</rect></_></features></cascade>
</opencv_storage>"#;

    /// Columns 0 0 200 200 200 0 0 0, odd rows 40 brighter (so every window has variance).
    fn columns_image() -> Vec<u8> {
        let c = [0u8, 0, 200, 200, 200, 0, 0, 0];
        (0..6)
            .flat_map(|y| c.iter().map(move |&v| v + (y % 2) as u8 * 40))
            .collect()
    }

    fn raw(sf: f64) -> DetectParams {
        DetectParams {
            scale_factor: sf,
            min_neighbors: 0,
            ..DetectParams::default()
        }
    }

    #[test]
    fn a_one_stump_haar_cascade_finds_exactly_the_windows_opencv_finds() {
        // Checked against cv2.CascadeClassifier.detectMultiScale(img, 2.0, 0) (OpenCV 4.14).
        // x = 0 is rejected by stage 0, so OpenCV skips x = 2 (which would pass); x = 4 passes.
        // Row 2 is never scanned: OpenCV's stripe arithmetic stops after row 0 on this image.
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        let pixels = columns_image();
        let img = GrayImage::packed(&pixels, 8, 6).unwrap();
        assert_eq!(
            c.detect_multi_scale(&img, &raw(2.0)).unwrap(),
            vec![Rect::new(4, 0, 4, 4)]
        );
    }

    #[test]
    fn a_one_stump_lbp_cascade_finds_exactly_the_windows_opencv_finds() {
        // A 7×7 image of 100 with one dark pixel at (4, 3); checked against OpenCV 4.14.
        let mut pixels = vec![100u8; 49];
        pixels[3 * 7 + 4] = 10;
        let img = GrayImage::packed(&pixels, 7, 7).unwrap();
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        let expected = vec![
            Rect::new(0, 0, 3, 3),
            Rect::new(2, 0, 3, 3),
            Rect::new(4, 0, 3, 3),
            Rect::new(0, 2, 3, 3),
        ];
        assert_eq!(c.detect_multi_scale(&img, &raw(2.0)).unwrap(), expected);
        let capped = DetectParams {
            max_size: Size::new(5, 5),
            ..raw(2.0)
        };
        assert_eq!(c.detect_multi_scale(&img, &capped).unwrap(), expected);
    }

    #[test]
    fn grouping_needs_more_candidates_than_min_neighbors() {
        let mut pixels = vec![100u8; 49];
        pixels[3 * 7 + 4] = 10;
        let img = GrayImage::packed(&pixels, 7, 7).unwrap();
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        // The four 3×3 candidates are 2 px apart: delta = 0.2 * (3 + 3) / 2 = 0.6, so none merge
        // and no cluster has more than one member.
        let grouped = DetectParams {
            min_neighbors: 1,
            ..raw(2.0)
        };
        assert_eq!(c.detect_multi_scale(&img, &grouped).unwrap(), vec![]);
    }

    #[test]
    fn candidates_come_in_scale_row_column_order() {
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        let pixels = vec![50u8; 20 * 20];
        let img = GrayImage::packed(&pixels, 20, 20).unwrap();
        let found = c.detect_candidates(&img, &raw(1.5)).unwrap();
        assert!(!found.is_empty());
        let sizes: Vec<i32> = found.iter().map(|r| r.width).collect();
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        let first_level: Vec<&Rect> = found.iter().filter(|r| r.width == 3).collect();
        assert!(
            first_level
                .windows(2)
                .all(|w| (w[0].y, w[0].x) < (w[1].y, w[1].x))
        );
    }

    #[test]
    fn a_cascade_that_accepts_everything_stops_at_the_candidate_limit() {
        // Every window of a flat image has no darker neighbour: all pass.
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        let pixels = vec![50u8; 200 * 200];
        let img = GrayImage::packed(&pixels, 200, 200).unwrap();
        let all = c.detect_candidates(&img, &raw(1.1)).unwrap().len();
        assert!(all > 5_000, "{all}");
        let budget = Budget {
            max_candidates: Some(1_000),
            ..Budget::default()
        };
        assert_eq!(
            c.detect_multi_scale_within(&img, &DetectParams::default(), &budget),
            Err(HaarError::TooManyCandidates { max: 1_000 })
        );
        let roomy = Budget {
            max_candidates: Some(all),
            ..Budget::default()
        };
        assert!(c.detect_multi_scale_within(&img, &raw(1.1), &roomy).is_ok());
    }

    #[test]
    fn a_cascade_over_the_limits_is_refused() {
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        assert!(c.check_limits(&CascadeLimits::default()).is_ok());
        let none = CascadeLimits {
            max_trees: 0,
            ..CascadeLimits::default()
        };
        assert_eq!(
            c.check_limits(&none),
            Err(HaarError::CascadeTooLarge {
                what: "trees",
                count: 1,
                max: 0
            })
        );
    }

    #[test]
    fn a_canceled_or_late_detection_stops() {
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        let pixels = vec![50u8; 64 * 64];
        let img = GrayImage::packed(&pixels, 64, 64).unwrap();
        let cancel = std::sync::atomic::AtomicBool::new(true);
        let canceled = Budget {
            cancel: Some(&cancel),
            ..Budget::default()
        };
        assert_eq!(
            c.detect_multi_scale_within(&img, &raw(1.1), &canceled),
            Err(HaarError::Canceled)
        );
        let late = Budget {
            deadline: Some(std::time::Instant::now()),
            ..Budget::default()
        };
        assert_eq!(
            c.detect_multi_scale_within(&img, &raw(1.1), &late),
            Err(HaarError::DeadlineExceeded)
        );
    }

    fn params_error(p: DetectParams) -> HaarError {
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        let pixels = columns_image();
        let img = GrayImage::packed(&pixels, 8, 6).unwrap();
        c.detect_multi_scale(&img, &p).unwrap_err()
    }

    #[test]
    fn a_scale_factor_of_one_or_less_is_rejected() {
        for sf in [1.0, 0.5, -2.0, f64::NAN, f64::INFINITY] {
            let e = params_error(DetectParams {
                scale_factor: sf,
                ..DetectParams::default()
            });
            assert!(
                matches!(
                    e,
                    HaarError::InvalidParam {
                        name: "scale_factor",
                        ..
                    }
                ),
                "{sf}: {e}"
            );
        }
    }

    #[test]
    fn a_scale_factor_barely_above_one_is_rejected_rather_than_allocating_forever() {
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        let pixels = vec![0u8; 400 * 400];
        let img = GrayImage::packed(&pixels, 400, 400).unwrap();
        let e = c
            .detect_multi_scale(
                &img,
                &DetectParams {
                    scale_factor: 1.000_001,
                    ..DetectParams::default()
                },
            )
            .unwrap_err();
        assert!(matches!(
            e,
            HaarError::InvalidParam {
                name: "scale_factor",
                ..
            }
        ));
    }

    #[test]
    fn a_pyramid_beyond_the_cell_limit_is_refused_before_allocating_it() {
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        let (w, h) = (8000u32, 6000u32);
        let pixels = vec![0u8; (w * h) as usize];
        let img = GrayImage::packed(&pixels, w, h).unwrap();
        assert!(matches!(
            c.detect_multi_scale(&img, &DetectParams::default()),
            Err(HaarError::PyramidTooLarge { .. })
        ));
        // A larger minimum size drops the big levels and makes it acceptable.
        let p = DetectParams {
            min_size: Size::new(4000, 4000),
            ..DetectParams::default()
        };
        assert!(c.levels(&img, &p).is_ok());
    }

    #[test]
    fn a_min_size_larger_than_the_image_is_rejected() {
        let e = params_error(DetectParams {
            min_size: Size::new(9, 2),
            ..DetectParams::default()
        });
        assert!(matches!(
            e,
            HaarError::InvalidParam {
                name: "min_size",
                ..
            }
        ));
    }

    #[test]
    fn a_max_size_below_min_size_is_rejected() {
        let e = params_error(DetectParams {
            min_size: Size::new(5, 5),
            max_size: Size::new(4, 4),
            ..DetectParams::default()
        });
        assert!(matches!(
            e,
            HaarError::InvalidParam {
                name: "max_size",
                ..
            }
        ));
    }

    #[test]
    fn an_image_smaller_than_the_window_has_no_detections() {
        let c = Cascade::from_xml(LEFT_BRIGHTER).unwrap();
        let img = GrayImage::packed(&[7, 7, 7, 7, 7, 7], 3, 2).unwrap();
        assert_eq!(
            c.detect_multi_scale(&img, &DetectParams::default())
                .unwrap(),
            vec![]
        );
    }

    #[test]
    fn boxes_are_clipped_to_the_image() {
        let pixels = vec![0u8; 4 * 4];
        let img = GrayImage::packed(&pixels, 4, 4).unwrap();
        let clipped = clip(
            vec![
                Rect::new(-2, 1, 4, 4),
                Rect::new(4, 0, 2, 2),
                Rect::new(1, 1, 2, 2),
            ],
            &img,
        );
        assert_eq!(clipped, vec![Rect::new(0, 1, 2, 3), Rect::new(1, 1, 2, 2)]);
    }

    /// Three stages of stumps mixing 2- and 3-rectangle, tilted and upright features.
    fn stump_cascade(weight: &str) -> String {
        format!(
            r#"<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType>
  <height>8</height><width>8</width><featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stages>
    <_><stageThreshold>-0.5</stageThreshold><weakClassifiers>
      <_><internalNodes>0 -1 0 0.05</internalNodes><leafValues>-0.75 0.625</leafValues></_>
      <_><internalNodes>0 -1 1 -0.02</internalNodes><leafValues>0.5 -0.25</leafValues></_></weakClassifiers></_>
    <_><stageThreshold>0.1</stageThreshold><weakClassifiers>
      <_><internalNodes>0 -1 2 0.01</internalNodes><leafValues>-0.4 0.3</leafValues></_>
      <_><internalNodes>0 -1 0 -0.1</internalNodes><leafValues>0.2 0.1</leafValues></_></weakClassifiers></_>
    <_><stageThreshold>0.</stageThreshold><weakClassifiers>
      <_><internalNodes>0 -1 1 0.</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_><rects><_>0 0 8 8 -1.</_><_>0 0 4 8 2.</_></rects></_>
    <_><rects><_>0 0 8 6 -1.</_><_>0 2 8 2 {weight}</_></rects></_>
    <_><rects><_>4 0 4 2 -1.</_><_>4 1 2 1 2.</_><_>5 2 1 1 3.</_></rects><tilted>1</tilted></_></features></cascade>
</opencv_storage>"#
        )
    }

    #[test]
    fn the_simd_row_path_and_the_window_path_agree() {
        let mut seed = 99u32;
        let pixels: Vec<u8> = (0..97 * 71)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 24) as usize / 2 + (i % 97) + (i / 97) * 2) as u8
            })
            .collect();
        let img = GrayImage::packed(&pixels, 97, 71).unwrap();
        let trees = |weight: &str| {
            // The first weak classifier becomes a two-node tree (node 1 under node 0's right).
            stump_cascade(weight).replace(
                "<internalNodes>0 -1 0 0.05</internalNodes><leafValues>-0.75 0.625</leafValues>",
                "<internalNodes>0 1 0 0.05 -1 -2 2 -0.01</internalNodes>\
                 <leafValues>-0.75 0.625 0.25</leafValues>",
            )
        };
        let lbp = r#"<opencv_storage><cascade><stageType>BOOST</stageType><featureType>LBP</featureType>
  <height>6</height><width>6</width><featureParams><maxCatCount>256</maxCatCount></featureParams>
  <stages>
    <_><stageThreshold>-0.3</stageThreshold><weakClassifiers>
      <_><internalNodes>0 -1 0 -67130709 -21569 -1426120013 -1275125205 -21585 -16385 587145899 -24005</internalNodes><leafValues>-0.65 0.4</leafValues></_>
      <_><internalNodes>0 -1 1 -163512766 -769593758 -10027009 -262145 -514457854 -193593353 -524289 -1</internalNodes><leafValues>-0.5 0.375</leafValues></_></weakClassifiers></_>
    <_><stageThreshold>0.05</stageThreshold><weakClassifiers>
      <_><internalNodes>0 -1 2 1 2 4 8 16 32 64 -2147483648</internalNodes><leafValues>0.5 -0.25</leafValues></_></weakClassifiers></_></stages>
  <features><_><rect>0 0 2 2</rect></_><_><rect>1 1 1 1</rect></_><_><rect>0 3 2 1</rect></_></features></cascade></opencv_storage>"#
            .to_string();
        for xml in [
            stump_cascade("3."),
            stump_cascade("2.75"),
            trees("3."),
            trees("2.75"),
            lbp,
        ] {
            let c = Cascade::from_xml(&xml).unwrap();
            let weight = if c.max_nodes_per_tree > 1 {
                "tree"
            } else {
                "stump"
            };
            for sf in [1.1, 1.3] {
                let simd = c
                    .candidates(&img, &raw(sf), true, &Budget::default())
                    .unwrap();
                let scalar = c
                    .candidates(&img, &raw(sf), false, &Budget::default())
                    .unwrap();
                assert!(!scalar.is_empty(), "weight {weight}, sf {sf}");
                assert_eq!(simd, scalar, "weight {weight}, sf {sf}");
            }
        }
    }

    #[test]
    fn min_size_equal_to_max_size_between_levels_uses_the_nearest_level() {
        // Windows are 4, 6 (factor 1.5), 9 (2.25): 7×7 is nearest to 6×6.
        let c = Cascade::from_xml(NO_DARKER_NEIGHBOUR).unwrap();
        let pixels = vec![100u8; 20 * 20];
        let img = GrayImage::packed(&pixels, 20, 20).unwrap();
        let c4 = Cascade {
            window: Size::new(4, 4),
            ..c
        };
        let p = DetectParams {
            scale_factor: 1.5,
            min_neighbors: 0,
            min_size: Size::new(7, 7),
            max_size: Size::new(7, 7),
        };
        let levels = c4.levels(&img, &p).unwrap();
        assert_eq!(levels.len(), 1);
        assert_eq!(levels[0].scale, 1.5);
    }
}
