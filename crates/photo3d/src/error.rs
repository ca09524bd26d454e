//! The crate's one error type.

/// Why a 3D photo could not be made. Every variant is a bad input or a bad parameter;
/// nothing here is a bug (those would be panics, and there are none on input).
#[derive(Debug, thiserror::Error)]
pub enum Photo3dError {
    /// The photo has no pixels.
    #[error("the image is empty ({width}x{height})")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The photo is larger than the configured limits.
    #[error(
        "the image is {width}x{height}; the limit is {max_side} px per side and {max_pixels} pixels"
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Longest side allowed.
        max_side: u32,
        /// Pixel count allowed.
        max_pixels: u64,
    },
    /// A supplied depth map does not have the photo's size.
    #[error("the depth map is {got_width}x{got_height} but the photo is {width}x{height}")]
    DepthSizeMismatch {
        /// The photo's width.
        width: u32,
        /// The photo's height.
        height: u32,
        /// The depth map's width.
        got_width: u32,
        /// The depth map's height.
        got_height: u32,
    },
    /// A supplied depth map could not be read.
    #[error("the depth map cannot be read: {0}")]
    DepthDecode(String),
    /// The depth model failed or answered with an unexpected shape.
    #[error("the depth model failed: {0}")]
    Model(String),
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// Encoding an output (PNG texture, GLB) failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// The progress callback asked the pipeline to stop (the job was canceled).
    #[error("canceled")]
    Canceled,
}
