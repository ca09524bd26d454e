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
use crate::synth::Rng;
use boost::{CodeTable, Control, Stage, StageGoals, train_stage};
use lbp::Integral;
pub use samples::{GrayFrame, TrainingFrame};

/// Fewest positives a stage trains on.
pub const MIN_POSITIVES: usize = 10;

/// Candidate windows drawn per parallel batch while mining negatives.
const MINING_BATCH: usize = 4096;

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
    /// Most candidate windows drawn to find one stage's negatives; when the cascade passes so
    /// few that they do not fill a stage, training stops (its false-alarm rate is below
    /// `negatives / max_mining_windows`).
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
            max_mining_windows: 4_000_000,
            time_budget: Duration::from_secs(300),
            seed: 1,
        }
    }
}

/// Why training refused or stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CascadeTrainError {
    /// Fewer usable positive boxes than [`MIN_POSITIVES`] (mirrored copies counted).
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
    /// Share of the drawn candidate windows the earlier stages passed (the cascade's false-alarm
    /// rate on background before this stage).
    pub acceptance: f64,
    /// Seconds spent on the stage (mining included).
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Positive windows (mirrored copies counted).
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

/// Mines up to `count` negatives that pass `stages`; returns them and how many windows were
/// drawn. Candidates are drawn in order from `rng` and judged in parallel batches, so the result
/// depends on the seed only.
fn mine(
    frames: &[TrainingFrame],
    stages: &[Stage],
    p: &CascadeParams,
    rng: &mut Rng,
    deadline: Option<Instant>,
) -> Result<(Vec<Integral>, usize), CascadeTrainError> {
    let (ww, wh) = (p.window.width as usize, p.window.height as usize);
    let mut found = Vec::new();
    let mut drawn = 0usize;
    while found.len() < p.negatives && drawn < p.max_mining_windows {
        if deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        let batch = MINING_BATCH.min(p.max_mining_windows - drawn);
        let mut candidates = Vec::with_capacity(batch);
        for _ in 0..batch {
            candidates.push(
                samples::draw_candidate(frames, p.window, rng)
                    .ok_or(CascadeTrainError::NoNegatives)?,
            );
        }
        let passed: Vec<Option<Integral>> = candidates
            .par_iter()
            .map(|c| {
                let ii = Integral::new(&c.patch(frames, p.window), ww, wh);
                passes_all(stages, &ii).then_some(ii)
            })
            .collect();
        for (k, ii) in passed.into_iter().enumerate() {
            if let Some(ii) = ii {
                found.push(ii);
                if found.len() == p.negatives {
                    drawn += k + 1;
                    return Ok((found, drawn));
                }
            }
        }
        drawn += batch;
    }
    Ok((found, drawn))
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
    let positives: Vec<Integral> = samples::positives(frames, params.window, params.mirror)
        .iter()
        .map(|patch| Integral::new(patch, ww, wh))
        .collect();
    if positives.len() < MIN_POSITIVES {
        return Err(CascadeTrainError::TooFewPositives {
            found: positives.len(),
            needed: MIN_POSITIVES,
        });
    }
    let mut rng = Rng::new(params.seed);
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
        let (negatives, drawn) = mine(
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
        let acceptance = negatives.len() as f64 / drawn.max(1) as f64;
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

#[cfg(test)]
mod tests;
