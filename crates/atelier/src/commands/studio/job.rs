//! Following a job to its end: the job record (`GET /api/v1/jobs/{id}`: status, percent, stage)
//! polled, and the live events of the realtime channel between polls.

use std::time::Duration;

use serde_json::Value;

use super::{client::Api, progress::Progress, realtime};

/// How often the job record is read.
const POLL: Duration = Duration::from_millis(500);

/// A job that ended without success.
#[derive(Debug, thiserror::Error)]
#[error("job {job_id} {status}: {message} ({code})")]
pub struct JobFailed {
    /// The job.
    pub job_id: String,
    /// `failed` or `canceled`.
    pub status: String,
    /// The job's error code.
    pub code: String,
    /// The job's error message.
    pub message: String,
}

/// Shows `job_id`'s progress on `progress` until it ends; `on_event` gets each live event
/// (`job-progress` data) as it comes. Returns the finished job record, or [`JobFailed`].
pub async fn follow(
    api: &Api,
    job_id: &str,
    progress: &Progress,
    mut on_event: impl FnMut(&Value),
) -> anyhow::Result<Value> {
    let mut events = realtime::job_events(api, job_id);
    let mut listening = true;
    let mut shown = Shown::default();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv(), if listening => match event {
                Some(event) => {
                    shown.show(progress, &event);
                    on_event(&event);
                }
                None => listening = false,
            },
            _ = poll.tick() => {
                let job = api.get(&format!("/api/v1/jobs/{job_id}")).await?;
                shown.show(progress, &job);
                match job["status"].as_str() {
                    Some("succeeded") => return Ok(job),
                    Some(status @ ("failed" | "canceled")) => {
                        let text = |key: &str| {
                            job["error"][key].as_str().unwrap_or(status).to_owned()
                        };
                        return Err(JobFailed {
                            job_id: job_id.to_owned(),
                            status: status.to_owned(),
                            code: text("code"),
                            message: text("message"),
                        }
                        .into());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// What the bar shows. The job record lags the live events (a worker writes it with its
/// heartbeat), so the bar only moves forward: an older figure is not shown.
#[derive(Debug, Default)]
struct Shown {
    percent: u64,
}

impl Shown {
    /// Puts a job record's or event's percent and stage on the bar, unless it is behind.
    fn show(&mut self, progress: &Progress, job: &Value) {
        let percent = job["progress"].as_u64().unwrap_or(0);
        let status = job["status"].as_str();
        if percent < self.percent && !matches!(status, Some("succeeded" | "failed" | "canceled")) {
            return;
        }
        self.percent = percent;
        let stage = match (status, job["stage"].as_str()) {
            (Some("queued"), _) => "queued",
            (_, Some(stage)) => stage,
            (Some(status), None) => status,
            (None, None) => "",
        };
        progress.set(percent, stage);
    }
}
