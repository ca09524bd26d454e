//! A hook for whoever wants to hear about job progress as it happens. Every platform installs
//! [`crate::events::JobEvents`], which publishes it on the owner's `private-user-{id}` channel.

use std::sync::Arc;

use super::{Job, JobStatus};

/// Told about running jobs. Calls come from worker tasks and must return quickly.
pub trait JobObserver: Send + Sync + std::fmt::Debug + 'static {
    /// A job's status, progress or stage changed (`job` is the claimed row; the arguments are
    /// the new values).
    fn changed(&self, job: &Job, status: JobStatus, percent: u8, stage: Option<&str>);
}

/// The observer slot of a platform (filled by `Platform::open`).
#[derive(Debug, Default)]
pub struct ObserverSlot(std::sync::OnceLock<Arc<dyn JobObserver>>);

impl ObserverSlot {
    /// Installs `observer` (only the first call wins; later ones are ignored and return false).
    pub fn install(&self, observer: Arc<dyn JobObserver>) -> bool {
        self.0.set(observer).is_ok()
    }

    /// Forwards a change to the observer, if any.
    pub fn changed(&self, job: &Job, status: JobStatus, percent: u8, stage: Option<&str>) {
        if let Some(observer) = self.0.get() {
            observer.changed(job, status, percent, stage);
        }
    }
}
