//! ONNX Runtime through the `ort` crate (`load-dynamic`): the primary backend.
//!
//! Everything `ort`-specific stays in this file: its API changes between release
//! candidates, and the rest of atelier only sees [`Model`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use crate::backend::check_input;
use crate::{BackendKind, InferError, Model, Outputs, Tensor};

/// An initialised ONNX Runtime environment (the shared library is loaded).
pub(crate) struct OrtEnvironment {
    env: ort::environment::Environment,
    version: String,
}

impl OrtEnvironment {
    /// The process's environment, created on first use: ONNX Runtime allows one
    /// environment per process, and the library can be loaded only once. Later calls
    /// return the first environment whatever `dylib` they name.
    pub(crate) fn shared(dylib: &Path) -> Result<Arc<Self>, InferError> {
        static SHARED: Mutex<Option<Arc<OrtEnvironment>>> = Mutex::new(None);
        let mut guard = SHARED
            .lock()
            .map_err(|_| InferError::OrtUnavailable("environment lock poisoned".into()))?;
        if let Some(env) = guard.as_ref() {
            return Ok(env.clone());
        }
        let env = Arc::new(Self::init(dylib)?);
        *guard = Some(env.clone());
        Ok(env)
    }

    /// Loads the ONNX Runtime shared library at `dylib` and creates an environment.
    fn init(dylib: &Path) -> Result<Self, InferError> {
        let builder =
            ort::init_from(dylib).map_err(|e| InferError::OrtUnavailable(e.to_string()))?;
        let env = builder
            .with_name("atelier")
            .build()
            .map_err(|e| InferError::OrtUnavailable(e.to_string()))?;
        Ok(Self {
            env,
            version: library_version(dylib),
        })
    }

    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    pub(crate) fn load(
        &self,
        path: &Path,
        intra_threads: usize,
        spinning: bool,
    ) -> Result<OrtModel, InferError> {
        let load_err = |message: String| InferError::Load {
            path: path.display().to_string(),
            backend: BackendKind::OnnxRuntime,
            message,
        };
        let session = Session::builder(&self.env)
            .map_err(|e| load_err(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_threads(intra_threads.max(1))
            .map_err(|e| load_err(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_op_spinning(spinning)
            .map_err(|e| load_err(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| load_err(e.to_string()))?;
        let input_name = match session.inputs() {
            [only] => only.name().to_string(),
            other => {
                return Err(load_err(format!(
                    "expected exactly one input, the model has {}",
                    other.len()
                )));
            }
        };
        let output_names = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        Ok(OrtModel {
            session,
            input_name,
            output_names,
            path: path.to_path_buf(),
        })
    }
}

/// The library's version, from its file name (`libonnxruntime.so.1.31.1`); `ort` does
/// not expose the loaded library's version string.
fn library_version(dylib: &Path) -> String {
    let name = dylib
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split_once(".so.") {
        Some((_, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
            version.to_string()
        }
        _ => "(version unknown)".to_string(),
    }
}

/// A model session on ONNX Runtime.
pub(crate) struct OrtModel {
    session: Session,
    input_name: String,
    output_names: Vec<String>,
    path: PathBuf,
}

impl Model for OrtModel {
    fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
        check_input(input)?;
        let run_err = |e: ort::Error| InferError::Run {
            backend: BackendKind::OnnxRuntime,
            message: format!("{} ({})", e, self.path.display()),
        };
        let shape: Vec<i64> = input.shape().iter().map(|&d| d as i64).collect();
        let value = TensorRef::from_array_view((shape, input.data())).map_err(run_err)?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => value])
            .map_err(|e| InferError::Run {
                backend: BackendKind::OnnxRuntime,
                message: e.to_string(),
            })?;
        let mut named = Vec::with_capacity(self.output_names.len());
        for name in &self.output_names {
            let value = outputs.get(name).ok_or_else(|| {
                InferError::BadOutput(format!("ONNX Runtime returned no output {name}"))
            })?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| InferError::BadOutput(format!("output {name}: {e}")))?;
            let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
            named.push((name.clone(), Tensor::new(shape, data.to_vec())?));
        }
        Ok(Outputs::new(named))
    }

    fn input_name(&self) -> &str {
        &self.input_name
    }

    fn output_names(&self) -> &[String] {
        &self.output_names
    }

    fn backend(&self) -> BackendKind {
        BackendKind::OnnxRuntime
    }
}
