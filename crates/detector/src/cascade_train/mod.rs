//! LBP cascade training: a detector family for tiny devices, exported as the XML that
//! `opencv_traincascade` writes, so it runs in OpenCV's `CascadeClassifier` and in
//! `atelier_haar` with the same boxes.
//!
//! The method is Viola–Jones with multi-block LBP features, as OpenCV trains it: positives are
//! the label's boxes resampled to the window (and mirrored); each stage is boosted with Gentle
//! AdaBoost over categorical stumps ([`boost`]) until it keeps `min_hit_rate` of the positives
//! that reach it and passes at most `max_false_alarm` of its negatives; the negatives of each
//! stage are windows of the frames' pyramid, away from the label's boxes, that every earlier
//! stage still accepts (mined afresh per stage, so later stages learn the hard cases).
//!
//! Modules: [`lbp`] (features, integral, codes), [`samples`] (gray frames, positive crops,
//! negative windows), [`boost`] (stumps, stages, thresholds), `xml` (the writer).

pub mod boost;
pub mod lbp;
pub mod samples;
mod xml;

use std::time::{Duration, Instant};

use atelier_haar::Size;
use rayon::prelude::*;

use crate::Progress;
use crate::geometry::BBox;
use crate::synth::Rng;
use boost::{CodeTable, Control, Stage, StageGoals, train_stage};
use lbp::Integral;
pub use samples::{GrayFrame, TrainingFrame};

/// Fewest positives a stage trains on.
pub const MIN_POSITIVES: usize = 10;

/// Parameters of [`train`], with `opencv_traincascade`'s meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeParams {
    /// The detection window (the smallest object found); each side 6–64 pixels.
    pub window: Size,
    /// Most stages.
    pub stages: usize,
    /// Share of the positives reaching a stage that it must keep, in (0, 1].
    pub min_hit_rate: f64,
    /// Largest share of its negatives a stage may pass, in (0, 1).
    pub max_false_alarm: f64,
    /// Most stumps per stage.
    pub max_weak_count: usize,
    /// Negative windows per stage.
    pub negatives: usize,
    /// Add each positive mirrored left to right.
    pub mirror: bool,
    /// Extra copies of each positive, each shifted by up to 6 % of the box and scaled by up to
    /// 8 %, so the cascade also accepts the near-miss windows that detection groups.
    pub jitter: usize,
    /// Most background windows looked at to find one stage's negatives; when the cascade passes
    /// so few that they do not fill a stage, training stops (its false-alarm rate is then below
    /// about `negatives / max_mining_windows`).
    pub max_mining_windows: usize,
    /// Wall-clock budget: checked between stumps; when spent, the stage in training is closed as
    /// it stands (its threshold already keeps the hit rate) and training stops.
    pub time_budget: Duration,
    /// Seed of the negative windows' draw (training is deterministic in it).
    pub seed: u64,
}

impl Default for CascadeParams {
    fn default() -> Self {
        Self {
            window: Size::new(24, 24),
            stages: 12,
            min_hit_rate: 0.995,
            max_false_alarm: 0.5,
            max_weak_count: 100,
            negatives: 1000,
            mirror: true,
            jitter: 2,
            max_mining_windows: 20_000_000,
            time_budget: Duration::from_secs(300),
            seed: 1,
        }
    }
}

/// Why training refused or stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CascadeTrainError {
    /// Fewer usable positive windows than [`MIN_POSITIVES`] (copies counted).
    #[error("{found} positive windows, at least {needed} are needed")]
    TooFewPositives {
        /// Positive windows found.
        found: usize,
        /// The minimum.
        needed: usize,
    },
    /// No negative window could be drawn: every frame is smaller than the window or covered by
    /// the object.
    #[error("no negative windows: every frame is smaller than the window or covered by the object")]
    NoNegatives,
    /// A parameter out of range.
    #[error("invalid cascade parameter: {0}")]
    BadParams(String),
    /// An image could not be converted.
    #[error("bad image: {0}")]
    BadImage(String),
    /// No feature separates positives from negatives at all.
    #[error("no LBP feature separates the positives from the negatives")]
    NothingLearned,
    /// The progress callback asked to stop.
    #[error("canceled")]
    Canceled,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// All requested stages were trained.
    StagesDone,
    /// The time budget ran out.
    TimeBudget,
    /// The cascade passes too few windows to fill another stage with negatives.
    NegativesExhausted,
    /// Fewer than [`MIN_POSITIVES`] positives still pass the cascade.
    PositivesExhausted,
}

/// One stage's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    /// Stumps in the stage.
    pub weak_count: usize,
    /// Positives it was trained on (those the earlier stages keep).
    pub positives: usize,
    /// Negatives it was trained on.
    pub negatives: usize,
    /// Share of its positives it keeps.
    pub hit_rate: f64,
    /// Share of its negatives it passes.
    pub false_alarm: f64,
    /// Share of the background windows looked at that the earlier stages passed (the cascade's
    /// false-alarm rate on background before this stage).
    pub acceptance: f64,
    /// Seconds spent on the stage (mining included).
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Positive windows (mirrored and jittered copies counted).
    pub positives: usize,
    /// Per stage.
    pub stages: Vec<StageReport>,
    /// Why it ended.
    pub stop: StopReason,
    /// Total seconds.
    pub seconds: f64,
}

/// A trained LBP cascade.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedCascade {
    /// The detection window.
    pub window: Size,
    /// The stages.
    pub stages: Vec<Stage>,
    /// The parameters it was trained with (written to the XML's `stageParams`).
    pub params: CascadeParams,
    /// The run's figures.
    pub report: TrainReport,
}

impl TrainedCascade {
    /// The cascade in `opencv_traincascade`'s XML format.
    pub fn to_xml(&self) -> String {
        xml::write(self)
    }

    /// Whether a window-sized gray patch (row-major) passes every stage, as detection decides.
    pub fn accepts(&self, patch: &[u8]) -> bool {
        let ii = Integral::new(
            patch,
            self.window.width as usize,
            self.window.height as usize,
        );
        passes_all(&self.stages, &ii)
    }
}

fn passes_all(stages: &[Stage], ii: &Integral) -> bool {
    stages.iter().all(|s| s.passes(ii))
}

fn check(p: &CascadeParams) -> Result<(), CascadeTrainError> {
    let bad = |what: String| Err(CascadeTrainError::BadParams(what));
    let (w, h) = (p.window.width, p.window.height);
    if !(6..=64).contains(&w) || !(6..=64).contains(&h) {
        return bad(format!("window {w}x{h}: each side must be 6–64"));
    }
    if p.stages == 0 || p.max_weak_count == 0 || p.negatives == 0 {
        return bad("stages, max weak count and negatives must be at least 1".into());
    }
    if !(p.min_hit_rate > 0.0 && p.min_hit_rate <= 1.0) {
        return bad(format!("min hit rate {} is not in (0, 1]", p.min_hit_rate));
    }
    if !(p.max_false_alarm > 0.0 && p.max_false_alarm < 1.0) {
        return bad(format!(
            "max false alarm {} is not in (0, 1)",
            p.max_false_alarm
        ));
    }
    if p.max_mining_windows < p.negatives {
        return bad("max mining windows must be at least the negatives per stage".into());
    }
    Ok(())
}

/// Mines up to `params.negatives` negatives that pass `stages`; returns them and how many
/// windows were looked at. Like OpenCV's trainer it scans whole pyramid levels (every position),
/// here of a random frame at a random scale per visit, and keeps at most a twentieth of a
/// stage's negatives from one visit (drawn at random among the level's passing windows), so
/// they come from many frames and scales. Also returns the windows looked at and how many of
/// them passed. Deterministic in `rng`.
fn mine(
    frames: &[TrainingFrame],
    stages: &[Stage],
    p: &CascadeParams,
    rng: &mut Rng,
    deadline: Option<Instant>,
) -> Result<(Vec<Integral>, usize, usize), CascadeTrainError> {
    let w = p.window;
    let (ww, wh) = (w.width as usize, w.height as usize);
    let per_visit = (p.negatives / 20).max(1);
    let mut found = Vec::new();
    let (mut looked, mut passed) = (0usize, 0usize);
    while found.len() < p.negatives && looked < p.max_mining_windows {
        if deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        let (fi, level) =
            samples::draw_level(frames, w, rng).ok_or(CascadeTrainError::NoNegatives)?;
        let (cols, rows) = level.positions(w);
        let frame = &frames[fi];
        let mut passing: Vec<(usize, usize)> = (0..rows)
            .into_par_iter()
            .flat_map_iter(|y| {
                let level = &level;
                (0..cols).filter_map(move |x| {
                    (stages.iter().all(|s| s.passes_at(&level.integral, x, y))
                        && samples::away_from_object(frame, &level.frame_box(x, y, w)))
                    .then_some((x, y))
                })
            })
            .collect();
        looked += cols * rows;
        passed += passing.len();
        // A partial Fisher–Yates shuffle picks this visit's share.
        let take = per_visit.min(passing.len()).min(p.negatives - found.len());
        for k in 0..take {
            let j = k + rng.below(passing.len() - k);
            passing.swap(k, j);
            let (x, y) = passing[k];
            found.push(Integral::new(&level.patch(x, y, w), ww, wh));
        }
    }
    Ok((found, looked, passed))
}

/// Trains a cascade for the object whose boxes the frames' `positives` hold; frames without
/// boxes give negatives only. `progress` hears `("cascade", fraction)` between stumps and
/// cancels with `false`.
pub fn train(
    frames: &[TrainingFrame],
    params: &CascadeParams,
    progress: &mut dyn Progress,
) -> Result<TrainedCascade, CascadeTrainError> {
    check(params)?;
    let started = Instant::now();
    let deadline = started + params.time_budget;
    let (ww, wh) = (params.window.width as usize, params.window.height as usize);
    let features = lbp::enumerate(params.window);
    let mut rng = Rng::new(params.seed);
    let positives: Vec<Integral> = samples::positives(frames, params, &mut rng)
        .iter()
        .map(|patch| Integral::new(patch, ww, wh))
        .collect();
    if positives.len() < MIN_POSITIVES {
        return Err(CascadeTrainError::TooFewPositives {
            found: positives.len(),
            needed: MIN_POSITIVES,
        });
    }
    let mut stages: Vec<Stage> = Vec::new();
    let mut reports = Vec::new();
    let goals = StageGoals {
        min_hit_rate: params.min_hit_rate,
        max_false_alarm: params.max_false_alarm,
        max_weak_count: params.max_weak_count,
    };
    let mut stop = StopReason::StagesDone;
    for si in 0..params.stages {
        let stage_started = Instant::now();
        if !progress.report("cascade", si as f64 / params.stages as f64) {
            return Err(CascadeTrainError::Canceled);
        }
        if si > 0 && Instant::now() > deadline {
            stop = StopReason::TimeBudget;
            break;
        }
        let live: Vec<&Integral> = positives
            .iter()
            .filter(|ii| passes_all(&stages, ii))
            .collect();
        if live.len() < MIN_POSITIVES {
            stop = StopReason::PositivesExhausted;
            break;
        }
        let (negatives, looked, passed) = mine(
            frames,
            &stages,
            params,
            &mut rng,
            (si > 0).then_some(deadline),
        )?;
        if si == 0 && negatives.len() < MIN_POSITIVES {
            return Err(CascadeTrainError::NoNegatives);
        }
        if negatives.len() < params.negatives {
            stop = if Instant::now() > deadline {
                StopReason::TimeBudget
            } else {
                StopReason::NegativesExhausted
            };
            if si > 0 {
                break;
            }
        }
        let acceptance = passed as f64 / looked.max(1) as f64;
        let samples: Vec<Integral> = live
            .iter()
            .map(|ii| (*ii).clone())
            .chain(negatives)
            .collect();
        let positive: Vec<bool> = (0..samples.len()).map(|i| i < live.len()).collect();
        let table = CodeTable::new(&features, &samples);
        let mut canceled = false;
        let mut control = |weak: usize| {
            let done =
                (si as f64 + weak as f64 / params.max_weak_count as f64) / params.stages as f64;
            if !progress.report("cascade", done.min(1.0)) {
                Control::Cancel
            } else if Instant::now() > deadline {
                Control::Close
            } else {
                Control::Continue
            }
        };
        let outcome = train_stage(
            &table,
            &features,
            &positive,
            goals,
            &mut control,
            &mut canceled,
        );
        if canceled {
            return Err(CascadeTrainError::Canceled);
        }
        let Some(outcome) = outcome else {
            if stages.is_empty() {
                return Err(CascadeTrainError::NothingLearned);
            }
            break;
        };
        reports.push(StageReport {
            weak_count: outcome.stage.stumps.len(),
            positives: live.len(),
            negatives: samples.len() - live.len(),
            hit_rate: outcome.hit_rate,
            false_alarm: outcome.false_alarm,
            acceptance,
            seconds: stage_started.elapsed().as_secs_f64(),
        });
        stages.push(outcome.stage);
        if outcome.closed {
            stop = StopReason::TimeBudget;
            break;
        }
        if stop != StopReason::StagesDone {
            break;
        }
    }
    progress.report("cascade", 1.0);
    Ok(TrainedCascade {
        window: params.window,
        stages,
        params: params.clone(),
        report: TrainReport {
            positives: positives.len(),
            stages: reports,
            stop,
            seconds: started.elapsed().as_secs_f64(),
        },
    })
}

/// How detections compare with the truth on one image: each truth box is matched greedily (in
/// order) to the unmatched detection of highest IoU, if that is at least 0.5; detections that
/// match nothing and overlap no `ignore` box by 0.5 are false positives. Returns
/// `(matched truth boxes, false positives)`.
pub fn match_detections(truth: &[BBox], ignore: &[BBox], found: &[BBox]) -> (usize, usize) {
    let mut used = vec![false; found.len()];
    let mut matched = 0;
    for t in truth {
        let best = found
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, f)| (i, t.iou(f)))
            .filter(|(_, iou)| *iou >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            used[i] = true;
            matched += 1;
        }
    }
    let false_positives = found
        .iter()
        .zip(&used)
        .filter(|(f, u)| !**u && ignore.iter().all(|g| g.iou(f) < 0.5))
        .count();
    (matched, false_positives)
}

#[cfg(test)]
mod tests;
