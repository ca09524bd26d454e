#![doc = include_str!("../README.md")]

pub mod backend;
pub mod batching;
pub mod cascade_pack;
pub mod convert;
pub mod download;
mod error;
pub mod lanes;
pub mod manifest;
mod ort_backend;
pub mod ort_dylib;
pub mod registry;
pub mod registry_error;
mod rten_backend;
pub mod runtime;
pub mod tensor;

pub use backend::{BackendKind, Model};
pub use batching::{
    BatchObserver, BatchStats, BatchingConfig, BatchingExecutor, ExecutorCounters, Pending,
};
pub use error::InferError;
pub use lanes::LanedModel;
pub use manifest::{InputSpec, Manifest, ModelEntry};
pub use ort_dylib::{OrtLibraryConfig, default_cache_dir};
pub use registry::{Registry, RegistryError, ResolvedModel};
pub use runtime::{Runtime, RuntimeConfig, RuntimeInfo, RuntimePreference};
pub use tensor::{Outputs, Tensor};

#[cfg(test)]
mod tests {
    fn shareable<T: Send + Sync>() {}

    #[test]
    fn the_handles_a_server_keeps_in_its_state_are_send_and_sync() {
        shareable::<crate::Runtime>();
        shareable::<crate::BatchingExecutor>();
        shareable::<crate::Registry>();
    }
}
