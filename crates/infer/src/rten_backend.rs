//! rten, the pure-Rust fallback backend.

use std::path::Path;
use std::sync::Arc;

use rten::{NodeId, RunOptions, ThreadPool};
use rten_tensor::TensorView;
use rten_tensor::prelude::*;

use crate::backend::check_input;
use crate::{BackendKind, InferError, Model, Outputs, Tensor};

/// A model loaded in rten, with its own thread pool.
pub(crate) struct RtenModel {
    model: rten::Model,
    input_id: NodeId,
    input_name: String,
    output_ids: Vec<NodeId>,
    output_names: Vec<String>,
    pool: Arc<ThreadPool>,
}

impl RtenModel {
    pub(crate) fn load(path: &Path, threads: usize) -> Result<Self, InferError> {
        let load_err = |message: String| InferError::Load {
            path: path.display().to_string(),
            backend: BackendKind::Rten,
            message,
        };
        let model = rten::Model::load_file(path).map_err(|e| load_err(e.to_string()))?;
        let input_id = match model.input_ids() {
            [only] => *only,
            other => {
                return Err(load_err(format!(
                    "expected exactly one input, the model has {}",
                    other.len()
                )));
            }
        };
        let name_of = |id: NodeId| {
            model
                .node_info(id)
                .and_then(|info| info.name().map(str::to_string))
                .unwrap_or_default()
        };
        let input_name = name_of(input_id);
        let output_ids = model.output_ids().to_vec();
        let output_names = output_ids.iter().map(|&id| name_of(id)).collect();
        Ok(Self {
            model,
            input_id,
            input_name,
            output_ids,
            output_names,
            pool: Arc::new(ThreadPool::with_num_threads(threads.max(1))),
        })
    }
}

impl Model for RtenModel {
    fn run(&mut self, input: &Tensor) -> Result<Outputs, InferError> {
        check_input(input)?;
        let view = TensorView::from_data(input.shape(), input.data());
        let opts = RunOptions::default().with_thread_pool(Some(self.pool.clone()));
        let values = self
            .model
            .run(
                vec![(self.input_id, view.into())],
                &self.output_ids,
                Some(opts),
            )
            .map_err(|e| InferError::Run {
                backend: BackendKind::Rten,
                message: e.to_string(),
            })?;
        let mut named = Vec::with_capacity(values.len());
        for (name, value) in self.output_names.iter().zip(values) {
            let tensor = value.into_tensor::<f32>().ok_or_else(|| {
                InferError::BadOutput(format!("output {name} is not an f32 tensor"))
            })?;
            named.push((
                name.clone(),
                Tensor::new(tensor.shape().to_vec(), tensor.to_vec())?,
            ));
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
        BackendKind::Rten
    }
}
