//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong when loading a cascade or running a detection.
///
/// Every failure is reported through this type: the crate never panics on input it is given
/// (an XML string, an image buffer, parameters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HaarError {
    /// The text is not well-formed XML.
    #[error("cascade XML is not well-formed: {0}")]
    Xml(String),

    /// A required element is missing from the cascade.
    #[error("cascade is missing the element <{element}> (in {context})")]
    MissingElement {
        /// The element that was looked for.
        element: &'static str,
        /// Where it was looked for.
        context: String,
    },

    /// A number in the cascade could not be parsed or is out of range.
    #[error("cascade has an invalid number in <{element}>: {text:?}")]
    InvalidNumber {
        /// The element holding the number.
        element: &'static str,
        /// The offending text (shortened).
        text: String,
    },

    /// The cascade is structurally inconsistent (dangling indices, wrong counts, features outside
    /// the detection window, cycles in a tree…).
    #[error("cascade is malformed: {0}")]
    MalformedCascade(String),

    /// The cascade is valid OpenCV XML but uses something this engine does not run
    /// (e.g. HOG features, a stage type other than BOOST).
    #[error("unsupported cascade: {0}")]
    Unsupported(String),

    /// The image has a zero width or height.
    #[error("image is empty ({width}x{height})")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },

    /// The image is larger than [`crate::MAX_IMAGE_DIMENSION`] on a side.
    #[error("image is too large ({width}x{height}); each side must be at most {max}")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The largest accepted side.
        max: u32,
    },

    /// The row stride is smaller than the row length.
    #[error("row stride {stride} is smaller than the row length {row_len}")]
    StrideTooSmall {
        /// The given stride in bytes.
        stride: usize,
        /// The bytes one row needs.
        row_len: usize,
    },

    /// The pixel buffer is shorter than width, height and stride require.
    #[error("pixel buffer holds {actual} bytes but {needed} are needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },

    /// A detection parameter is out of its valid range.
    #[error("invalid detection parameter `{name}`: {reason}")]
    InvalidParam {
        /// The parameter's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// The scale pyramid of this image would exceed [`crate::MAX_PYRAMID_CELLS`] integral cells.
    #[error(
        "the scale pyramid of a {width}x{height} image exceeds {max_cells} integral cells; \
         downscale the image or raise min_size"
    )]
    PyramidTooLarge {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// The limit.
        max_cells: usize,
    },

    /// The cascade is larger than the [`crate::CascadeLimits`] allow.
    #[error("the cascade has {count} {what}; at most {max} are allowed")]
    CascadeTooLarge {
        /// `stages`, `trees` or `features`.
        what: &'static str,
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// More windows passed every stage than the [`crate::Budget`] allows (grouping them would
    /// cost the square of their number): the cascade accepts too much of this image.
    #[error(
        "more than {max} candidate windows passed the cascade; use a stricter cascade, a larger \
         min_size or a smaller image"
    )]
    TooManyCandidates {
        /// The limit.
        max: usize,
    },

    /// The detection ran past its [`crate::Budget`]'s deadline.
    #[error("the detection took longer than it is allowed to")]
    DeadlineExceeded,

    /// The detection was canceled through its [`crate::Budget`]'s flag.
    #[error("the detection was canceled")]
    Canceled,

    /// A file or directory could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
}

impl HaarError {
    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Self::MalformedCascade(msg.into())
    }

    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParam {
            name,
            reason: reason.into(),
        }
    }
}
