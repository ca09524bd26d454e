//! The crate's error type: every way a drawing, a set of joints or the parameters can be refused.

/// Why a drawing could not be analysed, rigged or animated.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AnimateError {
    /// The image has more pixels than [`crate::AnalyzeParams::max_pixels`] allows.
    #[error("image is {width}x{height}, more than the limit of {max_pixels} pixels")]
    ImageTooLarge {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// The configured pixel limit.
        max_pixels: u64,
    },
    /// The page is blank or nothing on it is large enough to be a figure.
    #[error("no figure found on the page")]
    NoFigure,
    /// Several separate drawings of similar size: the character to animate is ambiguous.
    #[error("found {count} separate figures of similar size; draw one character per page")]
    MultipleFigures {
        /// How many figures of similar size were found.
        count: usize,
    },
    /// A joint named in an edited skeleton is missing or unknown.
    #[error("invalid joints: {0}")]
    InvalidJoints(String),
    /// An edited joint lies outside the image.
    #[error("joint {name} at ({x}, {y}) is outside the {width}x{height} image")]
    JointOutsideImage {
        /// Joint name (AnimatedDrawings layout).
        name: String,
        /// Joint x in image pixels.
        x: f32,
        /// Joint y in image pixels.
        y: f32,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// A motion name that is not in the built-in library.
    #[error("unknown motion {0:?} (known: walk, wave, jump, dance, run)")]
    UnknownMotion(String),
    /// A BVH text could not be parsed.
    #[error("bad BVH at line {line}: {message}")]
    Bvh {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// Parameters out of range (fps, duration, output size, frame count).
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The figure's outline could not be meshed.
    #[error("could not mesh the figure: {0}")]
    Mesh(String),
    /// The progress callback asked the pipeline to stop (the job was canceled).
    #[error("canceled")]
    Canceled,
}
