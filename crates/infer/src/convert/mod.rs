//! Turning a PyTorch checkpoint into an ONNX model without PyTorch.
//!
//! [`torch`] reads `.pth` files (with the small [`pickle`] subset they need),
//! [`efficientnet_lite`] lays out the network, and [`onnx`] writes the protobuf.

pub mod efficientnet_lite;
pub mod onnx;
pub mod pickle;
pub mod torch;

/// Why a checkpoint could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The pickle stream is malformed or uses an unsupported opcode.
    #[error("pickle: {0}")]
    Pickle(String),
    /// The file is not a PyTorch checkpoint this reader understands.
    #[error("PyTorch checkpoint: {0}")]
    Torch(String),
    /// A parameter the architecture needs is missing.
    #[error("the checkpoint has no tensor {0}")]
    MissingTensor(String),
    /// A parameter has the wrong shape.
    #[error("shape: {0}")]
    Shape(String),
    /// No converter for this architecture.
    #[error("unknown architecture {0}")]
    UnknownArchitecture(String),
}

/// Converts the bytes of a PyTorch `state_dict` file of architecture `architecture`
/// (e.g. `efficientnet-lite0`) into ONNX model bytes.
pub fn checkpoint_to_onnx(bytes: &[u8], architecture: &str) -> Result<Vec<u8>, ConvertError> {
    let dict = torch::read_state_dict(bytes)?;
    let graph = if architecture.starts_with("efficientnet-lite") {
        efficientnet_lite::build(&dict, architecture)?
    } else {
        return Err(ConvertError::UnknownArchitecture(architecture.to_string()));
    };
    Ok(graph.encode("atelier-infer"))
}

/// Converts an EfficientNet-Lite checkpoint into its stride-8/16 feature trunk
/// ([`efficientnet_lite::build_backbone`]) as ONNX model bytes.
pub fn checkpoint_to_backbone_onnx(
    bytes: &[u8],
    architecture: &str,
) -> Result<Vec<u8>, ConvertError> {
    let dict = torch::read_state_dict(bytes)?;
    if !architecture.starts_with("efficientnet-lite") {
        return Err(ConvertError::UnknownArchitecture(architecture.to_string()));
    }
    Ok(efficientnet_lite::build_backbone(&dict, architecture)?.encode("atelier-infer"))
}
