#![doc = include_str!("../README.md")]

pub mod decode;
pub mod draw;
pub mod encode;
pub mod resize;
pub mod sniff;
pub mod strokes;

pub use decode::{DecodeError, DecodeLimits, decode_image, read_dimensions};
pub use draw::{BoxOutline, draw_boxes};
pub use encode::{EncodeError, OutputFormat, encode};
pub use image::{DynamicImage, RgbImage, RgbaImage};
pub use resize::fit_within;
pub use sniff::{MediaKind, sniff};
pub use strokes::{StrokePath, StrokeRenderError, render_strokes};
