//! Pushes job progress to the job owner's `private-user-{id}` channel as `job-progress` events
//! (`{job_id, kind, status, progress, stage}`), through the platform's job observer hook.

use std::sync::Arc;

use atelier_platform::jobs::{Job, JobObserver, JobStatus};

use super::{Event, Realtime, auth::user_channel};

/// The event name of job progress.
pub const JOB_PROGRESS_EVENT: &str = "job-progress";

/// The observer the server installs on its platform.
#[derive(Debug)]
pub struct JobEvents {
    realtime: Arc<Realtime>,
}

impl JobEvents {
    /// Publishes through `realtime`.
    pub fn new(realtime: Arc<Realtime>) -> Self {
        Self { realtime }
    }
}

impl JobObserver for JobEvents {
    fn changed(&self, job: &Job, status: JobStatus, percent: u8, stage: Option<&str>) {
        let data = serde_json::json!({
            "job_id": job.id,
            "kind": job.kind,
            "status": status,
            "progress": percent,
            "stage": stage,
        });
        let event = Event {
            channels: vec![user_channel(job.owner_id)],
            name: JOB_PROGRESS_EVENT.into(),
            data: data.to_string(),
            except: None,
            user_id: None,
        };
        // Local delivery now, in call order; the other nodes hear it shortly after.
        self.realtime.deliver_local(&event);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let realtime = Arc::clone(&self.realtime);
        runtime.spawn(async move {
            if let Err(err) = realtime.publish_remote(event).await {
                tracing::warn!(error = %err, "job progress event not broadcast");
            }
        });
    }
}
