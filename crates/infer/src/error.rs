//! The error type of running models.

use crate::BackendKind;

/// Why loading or running a model failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The input tensor is malformed (wrong element count, empty batch, ...).
    #[error("bad input: {0}")]
    BadInput(String),
    /// The input's shape does not match what the model or the batch expects.
    #[error("shape mismatch: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The shape that was expected.
        expected: Vec<usize>,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// The model produced something other than what the caller needs.
    #[error("unexpected model output: {0}")]
    BadOutput(String),
    /// The model file could not be read or is not a model this backend can run.
    #[error("cannot load model {path} with {backend}: {message}")]
    Load {
        /// The model file.
        path: String,
        /// The backend that tried.
        backend: BackendKind,
        /// The backend's own message.
        message: String,
    },
    /// The backend failed while running the model.
    #[error("{backend} failed to run the model: {message}")]
    Run {
        /// The backend that failed.
        backend: BackendKind,
        /// The backend's own message.
        message: String,
    },
    /// ONNX Runtime was asked for explicitly but cannot be used.
    #[error("ONNX Runtime is unavailable: {0}")]
    OrtUnavailable(String),
    /// The batching queue is full; callers should retry later (HTTP 503 + Retry-After).
    #[error("the inference queue is full ({capacity} requests waiting)")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// An inference thread could not be started.
    #[error("cannot start an inference thread: {0}")]
    Thread(String),
    /// The executor's inference threads have stopped.
    #[error("the inference executor has stopped")]
    ExecutorStopped,
}
