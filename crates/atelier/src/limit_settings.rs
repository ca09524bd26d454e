//! The request and detection limits of `atelier serve`: body sizes, requests at once, the
//! request timeout (`[server]`), and what one detection may cost (`[detect]`). Flags and
//! `ATELIER_*` variables first, then the settings file, then the defaults of `atelier_server`.

use std::time::Duration;

use atelier_server::config::{DetectLimits, RequestLimits};
use clap::Args;

use crate::file_settings::{FileDetect, FileServer};

/// Flags of the request and detection limits (`atelier serve`).
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Largest body of a route that takes no file (JSON, forms) [default: 65536].
    #[arg(long, env = "ATELIER_MAX_JSON_BYTES", value_name = "BYTES")]
    pub max_json_bytes: Option<usize>,

    /// Largest body of one stroke [default: 262144].
    #[arg(long, env = "ATELIER_MAX_STROKE_BYTES", value_name = "BYTES")]
    pub max_stroke_bytes: Option<usize>,

    /// Requests served at once; past it 503 `overloaded` with `Retry-After` [default: 512].
    #[arg(long, env = "ATELIER_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub max_concurrent_requests: Option<usize>,

    /// Seconds a request may take before it is answered 503 `timeout`; 0 turns it off
    /// [default: 120].
    #[arg(long, env = "ATELIER_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,

    /// Largest cascade XML a signed-in user may post to detect [default: 4194304].
    #[arg(long, env = "ATELIER_MAX_CASCADE_BYTES", value_name = "BYTES")]
    pub max_cascade_bytes: Option<usize>,

    /// Most stages of a posted cascade [default: 64].
    #[arg(long, env = "ATELIER_MAX_CASCADE_STAGES", value_name = "N")]
    pub max_cascade_stages: Option<usize>,

    /// Most weak trees of a posted cascade [default: 10000].
    #[arg(long, env = "ATELIER_MAX_CASCADE_TREES", value_name = "N")]
    pub max_cascade_trees: Option<usize>,

    /// Most features of a posted cascade [default: 10000].
    #[arg(long, env = "ATELIER_MAX_CASCADE_FEATURES", value_name = "N")]
    pub max_cascade_features: Option<usize>,

    /// Longest image side detection accepts [default: 4096].
    #[arg(long, env = "ATELIER_MAX_DETECT_SIDE", value_name = "PIXELS")]
    pub max_detect_side: Option<u32>,

    /// Most raw candidate windows of one detection before grouping [default: 10000].
    #[arg(long, env = "ATELIER_MAX_DETECT_CANDIDATES", value_name = "N")]
    pub max_detect_candidates: Option<usize>,

    /// Longest one detection may run, in milliseconds [default: 10000].
    #[arg(long, env = "ATELIER_DETECT_DEADLINE_MS", value_name = "MS")]
    pub detect_deadline_ms: Option<u64>,
}

/// Resolves the request limits: `args`, then `file`, then the defaults.
pub fn requests(args: &LimitArgs, file: &FileServer) -> anyhow::Result<RequestLimits> {
    let mut limits = RequestLimits::default();
    if let Some(bytes) = args.max_json_bytes.or(file.max_json_bytes) {
        anyhow::ensure!(
            bytes >= 1024,
            "the JSON body limit must be at least 1024 bytes"
        );
        limits.max_json_bytes = bytes;
    }
    if let Some(bytes) = args.max_stroke_bytes.or(file.max_stroke_bytes) {
        anyhow::ensure!(
            bytes >= 1024,
            "the stroke body limit must be at least 1024 bytes"
        );
        limits.max_stroke_bytes = bytes;
    }
    if let Some(n) = args
        .max_concurrent_requests
        .or(file.max_concurrent_requests)
    {
        anyhow::ensure!(n >= 1, "at least one request must be allowed at a time");
        limits.max_concurrent_requests = n;
    }
    if let Some(secs) = args.request_timeout_secs.or(file.request_timeout_secs) {
        limits.request_timeout = Duration::from_secs(secs);
    }
    Ok(limits)
}

/// Resolves the detection limits: `args`, then `file`, then the defaults.
pub fn detect(args: &LimitArgs, file: &FileDetect) -> anyhow::Result<DetectLimits> {
    let mut limits = DetectLimits::default();
    if let Some(bytes) = args.max_cascade_bytes.or(file.max_cascade_bytes) {
        limits.max_cascade_bytes = bytes;
    }
    let cascade = &mut limits.cascade;
    for (value, slot) in [
        (
            args.max_cascade_stages.or(file.max_cascade_stages),
            &mut cascade.max_stages,
        ),
        (
            args.max_cascade_trees.or(file.max_cascade_trees),
            &mut cascade.max_trees,
        ),
        (
            args.max_cascade_features.or(file.max_cascade_features),
            &mut cascade.max_features,
        ),
    ] {
        if let Some(value) = value {
            *slot = value;
        }
    }
    if let Some(side) = args.max_detect_side.or(file.max_image_side) {
        anyhow::ensure!(side >= 1, "the detection image side must be at least 1");
        limits.max_image_side = side;
    }
    if let Some(n) = args.max_detect_candidates.or(file.max_candidates) {
        limits.max_candidates = n;
    }
    if let Some(ms) = args.detect_deadline_ms.or(file.deadline_ms) {
        anyhow::ensure!(ms >= 1, "the detection deadline must be at least 1 ms");
        limits.deadline = Duration::from_millis(ms);
    }
    Ok(limits)
}
