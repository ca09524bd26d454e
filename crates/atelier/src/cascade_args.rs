//! The flags of LBP cascade training, shared by `atelier train-cascade` (files here, in
//! `cli.rs`) and `atelier studio train-cascade` (a project on a server, in `studio_args.rs`);
//! a module of their own so that neither flag module imports the other.

use std::path::PathBuf;

use clap::Args;

/// The cascade training flags shared by `atelier train-cascade` (files here) and `atelier studio
/// train-cascade` (a project on a server): the label, the output and how to train.
#[derive(Debug, Args, Clone)]
pub struct CascadeTrainingArgs {
    /// The label to detect; its boxes are the positives, the rest of every image the negatives.
    #[arg(long, value_name = "NAME")]
    pub label: String,

    /// The cascade XML to write (loads in `cv2.CascadeClassifier` and `atelier detect --cascade`).
    #[arg(short, long, value_name = "OUT.xml")]
    pub output: PathBuf,

    /// The detection window, the smallest object found (WIDTHxHEIGHT, 6–64 a side).
    #[arg(long, default_value = "24x24", value_name = "WxH")]
    pub window: String,

    /// Most stages.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub stages: usize,

    /// Share of the positives each stage keeps.
    #[arg(long, default_value_t = 0.995, value_name = "RATE")]
    pub min_hit_rate: f64,

    /// Largest share of its negatives a stage passes.
    #[arg(long, default_value_t = 0.5, value_name = "RATE")]
    pub max_false_alarm: f64,

    /// Most weak classifiers (stumps) per stage.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_weak_count: usize,

    /// Negative windows per stage.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub negatives: usize,

    /// Do not add mirrored copies of the positives (for objects that are not left–right
    /// symmetric in meaning, such as text).
    #[arg(long)]
    pub no_mirror: bool,

    /// Use occluded boxes as positives too (by default they are only kept out of the negatives).
    #[arg(long)]
    pub occluded: bool,

    /// Wall-clock budget in seconds; training stops with the stages done by then.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub budget: u64,

    /// Seed of the negative windows' draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
