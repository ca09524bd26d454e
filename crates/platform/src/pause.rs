//! Pause points: named places in the platform's code where a test can stop one request and
//! run others before letting it go on, so a race that needs a precise interleaving is
//! reproduced every time instead of one run in thirty. Nothing is armed in production, where
//! passing a point costs one atomic load.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::oneshot;

/// A place in the code a test can pause at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// An upload's blob is in the store (stored now or found there) and its row is not yet
    /// inserted: the window in which another account's delete of the same bytes used to remove
    /// the blob the new row was about to point to.
    BlobStoredBeforeRow,
    /// A submit has its final image and has not yet recorded the drawing as submitted: where
    /// two concurrent submits of one drawing used to both queue an animate job.
    SubmitBeforeRecord,
    /// A running job is about to store an output: where a cancel or delete used to be missed
    /// and the output stored anyway.
    JobBeforeStore,
    /// A `train` job passed its "no training running in the project" check and is not yet
    /// inserted: where two concurrent trainings of one project used to both be queued.
    TrainCheckedBeforeInsert,
}

/// The pause points of one platform. The first request to pass an armed point stops there.
#[derive(Debug, Default)]
pub struct PausePoints {
    any_armed: AtomicBool,
    armed: Mutex<Vec<(PausePoint, Armed)>>,
}

#[derive(Debug)]
struct Armed {
    reached: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

/// The test's side of an armed point.
#[derive(Debug)]
pub struct Paused {
    reached: oneshot::Receiver<()>,
    resume: oneshot::Sender<()>,
}

impl Paused {
    /// Waits until a request stops at the point.
    pub async fn reached(&mut self) {
        let _ = (&mut self.reached).await;
    }

    /// Lets the stopped request go on.
    pub fn resume(self) {
        let _ = self.resume.send(());
    }
}

impl PausePoints {
    /// Arms `point`: the next request to pass it stops until the returned handle resumes it
    /// (or is dropped).
    pub fn arm(&self, point: PausePoint) -> Paused {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.push((
            point,
            Armed {
                reached: reached_tx,
                resume: resume_rx,
            },
        ));
        self.any_armed.store(true, Ordering::Release);
        Paused {
            reached: reached_rx,
            resume: resume_tx,
        }
    }

    /// Passes `point`, stopping there when a test armed it.
    pub async fn pass(&self, point: PausePoint) {
        if !self.any_armed.load(Ordering::Acquire) {
            return;
        }
        let taken = {
            let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
            let found = armed.iter().position(|(p, _)| *p == point);
            let taken = found.map(|i| armed.swap_remove(i).1);
            if armed.is_empty() {
                self.any_armed.store(false, Ordering::Release);
            }
            taken
        };
        if let Some(armed) = taken {
            let _ = armed.reached.send(());
            let _ = armed.resume.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_point_stops_the_first_passer_only() {
        let points = std::sync::Arc::new(PausePoints::default());
        let mut paused = points.arm(PausePoint::BlobStoredBeforeRow);
        let first = tokio::spawn({
            let points = points.clone();
            async move { points.pass(PausePoint::BlobStoredBeforeRow).await }
        });
        paused.reached().await;
        // A second passer is not stopped.
        points.pass(PausePoint::BlobStoredBeforeRow).await;
        assert!(!first.is_finished());
        paused.resume();
        first.await.expect("first passer finishes");
    }
}
