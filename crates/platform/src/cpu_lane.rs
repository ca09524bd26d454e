//! Fair admission for the CPU-heavy work that requests do inline (Haar detection, classify's
//! pre-processing): a FIFO queue in front of a fixed number of CPU slots, and a parallelism
//! budget per admitted request.
//!
//! Without it, concurrent requests all spread their work over the one shared `rayon` pool,
//! which has no admission order: under load some requests starve while others finish (on 2
//! cores, 16 clients of `POST /detect` saw p50 289 ms but p99 10.5 s). Here a request waits its
//! turn in arrival order (tokio's semaphore is fair), at most [`CpuLimits::max_queued`] wait
//! (the next is answered 503 + `Retry-After` at once) and none waits longer than
//! [`CpuLimits::wait`]. An admitted request that finds the lane otherwise idle runs on every
//! core; one admitted while others run or wait gets one core, so a busy lane runs one request
//! per slot instead of every request on every core.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{PlatformError, PlatformResult};

/// The lane's limits (`[limits] cpu_slots`, `cpu_queue`, `cpu_wait_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuLimits {
    /// Requests whose CPU work runs at once. Default: the machine's cores.
    pub slots: usize,
    /// Requests that may wait for a slot; one more is answered 503 at once. Default 64.
    pub max_queued: usize,
    /// Longest wait for a slot before 503 + `Retry-After`. Default 10 s.
    pub wait: Duration,
}

impl Default for CpuLimits {
    fn default() -> Self {
        Self {
            slots: std::thread::available_parallelism().map_or(2, usize::from),
            max_queued: 64,
            wait: Duration::from_secs(10),
        }
    }
}

/// How many cores an admitted request's work may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallelism {
    /// The lane was idle: the shared pool, every core.
    AllCores,
    /// Others run or wait: one core, so each slot serves one request.
    OneCore,
}

/// The FIFO queue and its slots; one per process.
#[derive(Debug)]
pub struct CpuLane {
    limits: CpuLimits,
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
}

/// An admitted request's slot: hold it (move it into the blocking task) until the work ends,
/// and run the work through [`CpuTicket::run`].
#[derive(Debug)]
pub struct CpuTicket {
    _slot: OwnedSemaphorePermit,
    /// The parallelism granted at admission.
    pub parallelism: Parallelism,
}

/// Counts a waiter for as long as it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CpuLane {
    /// A lane with `limits` (at least one slot).
    pub fn new(limits: CpuLimits) -> Self {
        let limits = CpuLimits {
            slots: limits.slots.max(1),
            ..limits
        };
        Self {
            slots: Arc::new(Semaphore::new(limits.slots)),
            queued: AtomicUsize::new(0),
            limits,
        }
    }

    /// Waits in arrival order for a slot. `Busy` (503 + `Retry-After`) when
    /// [`CpuLimits::max_queued`] requests already wait or none frees up within
    /// [`CpuLimits::wait`].
    pub async fn admit(&self) -> PlatformResult<CpuTicket> {
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.queued);
        if self.slots.available_permits() == 0 && ahead >= self.limits.max_queued {
            metrics::counter!("atelier_cpu_refused_total").increment(1);
            return Err(self.busy("the CPU queue is full"));
        }
        let slot = tokio::time::timeout(self.limits.wait, self.slots.clone().acquire_owned()).await;
        let parallelism = if self.alone_after_admission() {
            Parallelism::AllCores
        } else {
            Parallelism::OneCore
        };
        drop(waiting);
        match slot {
            Ok(Ok(slot)) => Ok(CpuTicket {
                _slot: slot,
                parallelism,
            }),
            _ => {
                metrics::counter!("atelier_cpu_refused_total").increment(1);
                Err(self.busy("no CPU slot freed up in time"))
            }
        }
    }

    /// Whether the request just admitted is the only one holding or waiting for a slot.
    fn alone_after_admission(&self) -> bool {
        let held = self.limits.slots - self.slots.available_permits();
        held <= 1 && self.queued.load(Ordering::Acquire) <= 1
    }

    fn busy(&self, why: &str) -> PlatformError {
        PlatformError::Busy {
            message: format!("{why}; try again shortly"),
            retry_after_secs: self.limits.wait.as_secs().clamp(1, 60),
        }
    }
}

impl CpuTicket {
    /// Runs `work` (which may use `rayon`) with this ticket's parallelism: on the shared pool,
    /// or on a one-thread pool of the calling thread (made once per blocking thread).
    pub fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match self.parallelism {
            Parallelism::AllCores => work(),
            Parallelism::OneCore => SOLO_POOL.with(|pool| match pool {
                Some(pool) => pool.install(work),
                None => work(),
            }),
        }
    }
}

thread_local! {
    /// A one-thread `rayon` pool per blocking thread, for [`Parallelism::OneCore`] work (`None`
    /// if the thread could not be made: the work then runs on the shared pool).
    static SOLO_POOL: Option<rayon::ThreadPool> =
        rayon::ThreadPoolBuilder::new().num_threads(1).build().ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(slots: usize, max_queued: usize, wait_ms: u64) -> Arc<CpuLane> {
        Arc::new(CpuLane::new(CpuLimits {
            slots,
            max_queued,
            wait: Duration::from_millis(wait_ms),
        }))
    }

    #[tokio::test]
    async fn a_request_alone_gets_every_core_and_a_crowded_one_gets_one() {
        let lane = lane(2, 8, 1000);
        let first = lane.admit().await.expect("admitted");
        assert_eq!(first.parallelism, Parallelism::AllCores);
        let second = lane.admit().await.expect("admitted");
        assert_eq!(second.parallelism, Parallelism::OneCore);
        drop((first, second));
        let again = lane.admit().await.expect("admitted");
        assert_eq!(again.parallelism, Parallelism::AllCores);
    }

    #[tokio::test]
    async fn waiters_are_admitted_in_arrival_order() {
        let lane = lane(1, 16, 5000);
        let held = lane.admit().await.expect("admitted");
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (waiter, order) = (lane.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let ticket = waiter.admit().await.expect("admitted");
                order.lock().expect("lock").push(i);
                tokio::time::sleep(Duration::from_millis(2)).await;
                drop(ticket);
            }));
            // Each waiter is queued before the next one starts.
            while lane.queued.load(Ordering::Acquire) < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().expect("lock"), vec![0, 1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_a_long_wait_times_out() {
        let lane = lane(1, 1, 150);
        let held = lane.admit().await.expect("admitted");
        let waiter = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.admit().await.map(|_| ()) })
        };
        while lane.queued.load(Ordering::Acquire) < 1 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        let refused = lane.admit().await.expect_err("the queue is full");
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "refused at once"
        );
        assert!(matches!(refused, PlatformError::Busy { .. }));
        let timed_out = waiter.await.expect("task").expect_err("no slot in 150 ms");
        assert!(matches!(timed_out, PlatformError::Busy { .. }));
        drop(held);
        assert_eq!(
            lane.queued.load(Ordering::Acquire),
            0,
            "waiters are uncounted"
        );
        lane.admit().await.expect("free again");
    }

    #[test]
    fn one_core_work_runs_on_a_single_thread() {
        let lane = CpuLane::new(CpuLimits {
            slots: 2,
            max_queued: 4,
            wait: Duration::from_secs(1),
        });
        let ticket = CpuTicket {
            _slot: lane.slots.clone().try_acquire_owned().expect("slot"),
            parallelism: Parallelism::OneCore,
        };
        let threads = ticket.run(rayon::current_num_threads);
        assert_eq!(threads, 1);
    }
}
