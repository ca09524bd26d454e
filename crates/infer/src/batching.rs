//! Dynamic batching on dedicated inference threads.
//!
//! Callers hand a preprocessed tensor (`[1, C, H, W]` or `[C, H, W]`) to
//! [`BatchingExecutor::submit`], which puts it on a bounded queue and returns a
//! [`Pending`] reply (a future; `.wait()` blocks instead). An inference thread takes the
//! first waiting request, then gathers more until it has `max_batch` of them or
//! `max_delay` has passed since the first, stacks them into one batch, runs the model
//! once and sends each caller its own slice of the outputs — as Triton's and
//! text-embeddings-inference's dynamic batchers do. A full queue is answered at once
//! with [`InferError::QueueFull`] (the HTTP layer maps it to 503 + `Retry-After`).
//!
//! No async runtime is needed: the queue is a `std` channel and replies travel on
//! `tokio::sync::oneshot` (tokio's `sync` feature only), which both async and blocking
//! callers can wait on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::{InferError, Model, Outputs, Tensor};

/// Settings of a [`BatchingExecutor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchingConfig {
    /// Most requests run as one batch (default 8).
    pub max_batch: usize,
    /// Longest a request waits for others to join its batch (default 5 ms).
    pub max_delay: Duration,
    /// Requests that may wait in the queue before [`InferError::QueueFull`] (default 64).
    pub queue_capacity: usize,
    /// Inference threads, each with its own model instance (default 1).
    pub threads: usize,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            max_batch: 8,
            max_delay: Duration::from_millis(5),
            queue_capacity: 64,
            threads: 1,
        }
    }
}

/// What one batch did, handed to the observer after every run.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    /// The executor's name (the model's name).
    pub name: Arc<str>,
    /// Requests in the batch.
    pub batch_size: usize,
    /// Longest time a request of this batch waited in the queue.
    pub max_queue_time: Duration,
    /// Mean time the requests of this batch waited in the queue.
    pub mean_queue_time: Duration,
    /// Time spent in the model.
    pub inference_time: Duration,
    /// Whether the run succeeded.
    pub ok: bool,
}

/// Called after every batch, on the inference thread: keep it cheap (e.g. record
/// `metrics` histograms).
pub type BatchObserver = Arc<dyn Fn(&BatchStats) + Send + Sync>;

/// Running totals of an executor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecutorCounters {
    /// Batches run.
    pub batches: u64,
    /// Requests answered (successfully or not).
    pub requests: u64,
    /// Requests refused because the queue was full.
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    requests: AtomicU64,
    rejected: AtomicU64,
}

struct Request {
    input: Tensor,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Outputs, InferError>>,
}

/// Owns the inference threads and the queue in front of them. Dropping it lets the
/// threads finish the requests already queued, then joins them.
pub struct BatchingExecutor {
    name: Arc<str>,
    sender: Option<SyncSender<Request>>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    capacity: usize,
}

impl std::fmt::Debug for BatchingExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingExecutor")
            .field("name", &self.name)
            .field("threads", &self.threads.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl BatchingExecutor {
    /// Starts `config.threads` inference threads, each running a model made by `factory`
    /// (called here, so that a model that cannot load is an error now, not later).
    pub fn spawn<F>(
        name: &str,
        config: &BatchingConfig,
        factory: F,
        observer: Option<BatchObserver>,
    ) -> Result<Self, InferError>
    where
        F: Fn() -> Result<Box<dyn Model>, InferError>,
    {
        let max_batch = config.max_batch.max(1);
        let capacity = config.queue_capacity.max(1);
        let (sender, receiver) = mpsc::sync_channel::<Request>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let counters = Arc::new(Counters::default());
        let name: Arc<str> = Arc::from(name);
        let mut threads = Vec::new();
        for index in 0..config.threads.max(1) {
            let model = factory()?;
            let worker = Worker {
                name: name.clone(),
                model,
                receiver: receiver.clone(),
                max_batch,
                max_delay: config.max_delay,
                counters: counters.clone(),
                observer: observer.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("infer-{name}-{index}"))
                .spawn(move || worker.run())
                .map_err(|e| InferError::Thread(e.to_string()))?;
            threads.push(handle);
        }
        Ok(Self {
            name,
            sender: Some(sender),
            threads,
            counters,
            capacity,
        })
    }

    /// The executor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues one input; fails at once with [`InferError::QueueFull`] if the queue is full.
    /// `input` is one item: `[1, C, H, W]` or `[C, H, W]`.
    pub fn submit(&self, input: Tensor) -> Result<Pending, InferError> {
        let sender = self.sender.as_ref().ok_or(InferError::ExecutorStopped)?;
        if input.shape().len() == 4 && input.shape()[0] != 1 {
            return Err(InferError::BadInput(format!(
                "submit one item at a time, got a batch of shape {:?}",
                input.shape()
            )));
        }
        let (reply, receiver) = oneshot::channel();
        let request = Request {
            input,
            enqueued: Instant::now(),
            reply,
        };
        match sender.try_send(request) {
            Ok(()) => Ok(Pending(receiver)),
            Err(TrySendError::Full(_)) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(InferError::QueueFull {
                    capacity: self.capacity,
                })
            }
            Err(TrySendError::Disconnected(_)) => Err(InferError::ExecutorStopped),
        }
    }

    /// Queues one input and waits for its outputs (async).
    pub async fn infer(&self, input: Tensor) -> Result<Outputs, InferError> {
        self.submit(input)?.await
    }

    /// Queues one input and blocks the calling thread until its outputs are ready.
    /// Not for use on an async runtime's threads.
    pub fn infer_blocking(&self, input: Tensor) -> Result<Outputs, InferError> {
        self.submit(input)?.wait()
    }

    /// Running totals.
    pub fn counters(&self) -> ExecutorCounters {
        ExecutorCounters {
            batches: self.counters.batches.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
        }
    }
}

impl Drop for BatchingExecutor {
    fn drop(&mut self) {
        self.sender = None;
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

/// The reply to a submitted request: `.await` it, or `.wait()` from a plain thread.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Result<Outputs, InferError>>);

impl Pending {
    /// Blocks until the reply arrives. Not for use on an async runtime's threads.
    pub fn wait(self) -> Result<Outputs, InferError> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(InferError::ExecutorStopped))
    }
}

impl Future for Pending {
    type Output = Result<Outputs, InferError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(InferError::ExecutorStopped)))
    }
}

struct Worker {
    name: Arc<str>,
    model: Box<dyn Model>,
    receiver: Arc<Mutex<mpsc::Receiver<Request>>>,
    max_batch: usize,
    max_delay: Duration,
    counters: Arc<Counters>,
    observer: Option<BatchObserver>,
}

impl Worker {
    fn run(mut self) {
        while let Some(batch) = self.gather() {
            self.execute(batch);
        }
    }

    /// Waits for a first request, then collects more until the batch is full or the
    /// first request has waited `max_delay`. `None` once the executor is gone.
    fn gather(&self) -> Option<Vec<Request>> {
        let receiver = self.receiver.lock().ok()?;
        let first = receiver.recv().ok()?;
        let deadline = first.enqueued + self.max_delay;
        let mut batch = vec![first];
        while batch.len() < self.max_batch {
            let now = Instant::now();
            let next = if now >= deadline {
                receiver.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            } else {
                receiver.recv_timeout(deadline - now)
            };
            match next {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    fn execute(&mut self, mut batch: Vec<Request>) {
        // Requests of different shapes cannot share a batch: run each shape on its own.
        while !batch.is_empty() {
            let shape = batch[0].input.shape().to_vec();
            let (same, rest): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|r| r.input.shape() == shape.as_slice());
            self.execute_uniform(same);
            batch = rest;
        }
    }

    fn execute_uniform(&mut self, batch: Vec<Request>) {
        let started = Instant::now();
        let n = batch.len();
        let waits: Vec<Duration> = batch
            .iter()
            .map(|r| started.saturating_duration_since(r.enqueued))
            .collect();
        let inputs: Vec<&Tensor> = batch.iter().map(|r| &r.input).collect();
        let result = Tensor::stack(&inputs)
            .and_then(|stacked| self.model.run(&stacked))
            .and_then(|outputs| outputs.split_batch(n));
        let inference_time = started.elapsed();
        let ok = result.is_ok();
        match result {
            Ok(parts) => {
                for (request, part) in batch.into_iter().zip(parts) {
                    let _ = request.reply.send(Ok(part));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for request in batch {
                    let _ = request.reply.send(Err(InferError::Run {
                        backend: self.model.backend(),
                        message: message.clone(),
                    }));
                }
            }
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .requests
            .fetch_add(n as u64, Ordering::Relaxed);
        if let Some(observer) = &self.observer {
            let total: Duration = waits.iter().sum();
            observer(&BatchStats {
                name: self.name.clone(),
                batch_size: n,
                max_queue_time: waits.iter().max().copied().unwrap_or_default(),
                mean_queue_time: total / n.max(1) as u32,
                inference_time,
                ok,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackendKind;
    use std::sync::mpsc::channel;

    /// Doubles its input and records the batch sizes it saw; sleeps to simulate work.
    struct Doubler {
        delay: Duration,
        names: Vec<String>,
    }

    impl Model for Doubler {
        fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
            std::thread::sleep(self.delay);
            let data = input.data().iter().map(|v| v * 2.0).collect();
            Ok(Outputs::new(vec![(
                "y".into(),
                Tensor::new(input.shape().to_vec(), data)?,
            )]))
        }
        fn input_name(&self) -> &str {
            "x"
        }
        fn output_names(&self) -> &[String] {
            &self.names
        }
        fn backend(&self) -> BackendKind {
            BackendKind::Rten
        }
    }

    fn doubler(delay_ms: u64) -> Result<Box<dyn Model>, InferError> {
        Ok(Box::new(Doubler {
            delay: Duration::from_millis(delay_ms),
            names: vec!["y".into()],
        }))
    }

    fn item(v: f32) -> Tensor {
        Tensor::new(vec![1, 1, 1, 2], vec![v, -v]).expect("valid")
    }

    #[test]
    fn concurrent_requests_are_run_as_one_batch_and_each_gets_its_own_answer() {
        let (tx, rx) = channel();
        let observer: BatchObserver = Arc::new(move |s: &BatchStats| {
            let _ = tx.send(s.batch_size);
        });
        let config = BatchingConfig {
            max_delay: Duration::from_millis(200),
            ..BatchingConfig::default()
        };
        let exec = BatchingExecutor::spawn("doubler", &config, || doubler(0), Some(observer))
            .expect("spawn");
        let pending: Vec<Pending> = (0..8)
            .map(|i| exec.submit(item(i as f32)).expect("queued"))
            .collect();
        for (i, p) in pending.into_iter().enumerate() {
            let out = p.wait().expect("answer");
            let y = out.get("y").expect("output y");
            assert_eq!(y.shape(), &[1, 1, 1, 2]);
            assert_eq!(y.data(), &[2.0 * i as f32, -2.0 * i as f32]);
        }
        assert_eq!(rx.recv().expect("one batch"), 8);
        assert_eq!(exec.counters().batches, 1);
    }

    #[test]
    fn a_lone_request_runs_after_max_delay_without_waiting_for_a_full_batch() {
        let config = BatchingConfig {
            max_delay: Duration::from_millis(5),
            ..BatchingConfig::default()
        };
        let exec = BatchingExecutor::spawn("doubler", &config, || doubler(0), None).expect("spawn");
        let started = Instant::now();
        exec.infer_blocking(item(1.0)).expect("answer");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_full_queue_is_refused_with_queue_full() {
        let config = BatchingConfig {
            max_batch: 1,
            max_delay: Duration::ZERO,
            queue_capacity: 2,
            threads: 1,
        };
        let exec = BatchingExecutor::spawn("slow", &config, || doubler(300), None).expect("spawn");
        let mut results = Vec::new();
        for i in 0..6 {
            results.push(exec.submit(item(i as f32)));
        }
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(InferError::QueueFull { capacity: 2 })))
        );
        assert!(exec.counters().rejected >= 1);
    }

    #[test]
    fn requests_of_different_shapes_are_answered_separately() {
        let exec =
            BatchingExecutor::spawn("doubler", &BatchingConfig::default(), || doubler(0), None)
                .expect("spawn");
        let a = exec.submit(item(1.0)).expect("queued");
        let b = exec
            .submit(Tensor::new(vec![1, 1, 1, 3], vec![1.0, 2.0, 3.0]).expect("valid"))
            .expect("queued");
        assert_eq!(
            a.wait().expect("a").first().expect("y").data(),
            &[2.0, -2.0]
        );
        assert_eq!(
            b.wait().expect("b").first().expect("y").data(),
            &[2.0, 4.0, 6.0]
        );
    }

    /// A minimal executor for one future: enough to drive [`Pending`] without tokio's runtime.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn awaiting_a_request_yields_its_outputs() {
        let exec =
            BatchingExecutor::spawn("doubler", &BatchingConfig::default(), || doubler(1), None)
                .expect("spawn");
        let out = block_on(exec.infer(item(3.0))).expect("answer");
        assert_eq!(out.first().expect("y").data(), &[6.0, -6.0]);
    }

    #[test]
    fn submitting_a_whole_batch_is_refused() {
        let exec =
            BatchingExecutor::spawn("doubler", &BatchingConfig::default(), || doubler(0), None)
                .expect("spawn");
        let batch = Tensor::new(vec![2, 1, 1, 2], vec![0.0; 4]).expect("valid");
        assert!(matches!(exec.submit(batch), Err(InferError::BadInput(_))));
    }

    #[test]
    fn a_model_that_cannot_be_built_fails_spawn() {
        let err = BatchingExecutor::spawn(
            "broken",
            &BatchingConfig::default(),
            || Err(InferError::BadInput("no model".into())),
            None,
        );
        assert!(err.is_err());
    }
}
