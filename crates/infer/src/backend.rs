//! The one trait every neural-network runtime implements.

use std::fmt;

use crate::{InferError, Outputs, Tensor};

/// Which runtime executes a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// ONNX Runtime (the PyPI wheel's shared library, loaded at run time through `ort`).
    OnnxRuntime,
    /// rten, a pure-Rust ONNX runtime: slower, but needs no native library.
    Rten,
}

impl BackendKind {
    /// A stable lower-case name (`onnxruntime`, `rten`) for logs, metrics and `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::OnnxRuntime => "onnxruntime",
            BackendKind::Rten => "rten",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loaded ONNX model with one `f32` input (an NCHW batch) and named `f32` outputs.
///
/// Implementations are `Send` so that a model can be moved onto a dedicated inference
/// thread; `run` takes `&mut self` because some runtimes (ONNX Runtime through `ort`)
/// need exclusive access per run.
pub trait Model: Send {
    /// Runs the model on one batch. The first axis of `input` is the batch.
    fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError>;

    /// The name of the model's input.
    fn input_name(&self) -> &str;

    /// The names of the model's outputs, in order.
    fn output_names(&self) -> &[String];

    /// The runtime executing this model.
    fn backend(&self) -> BackendKind;
}

impl Model for Box<dyn Model> {
    fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
        (**self).run(input)
    }
    fn input_name(&self) -> &str {
        (**self).input_name()
    }
    fn output_names(&self) -> &[String] {
        (**self).output_names()
    }
    fn backend(&self) -> BackendKind {
        (**self).backend()
    }
}

pub(crate) fn check_input(input: &Tensor) -> Result<(), InferError> {
    if input.shape().first().copied().unwrap_or(0) == 0 {
        return Err(InferError::BadInput(format!(
            "input needs a non-empty batch axis, got shape {:?}",
            input.shape()
        )));
    }
    Ok(())
}
