#![doc = include_str!("../README.md")]

pub mod animation;
pub mod decode;
pub mod draw;
pub mod encode;
pub mod resize;
pub mod rounding;
pub mod sniff;
pub mod strokes;

pub use animation::{
    AnimationError, AnimationLimits, GifInfo, GifOptions, Mp4Info, Mp4Options, encode_gif,
    encode_mp4, inspect_gif, inspect_mp4, sprite_sheet,
};
pub use decode::{DecodeError, DecodeLimits, decode_image, read_dimensions};
pub use draw::{BoxOutline, draw_boxes};
pub use encode::{EncodeError, OutputFormat, encode, encode_jpeg};
pub use image::{DynamicImage, RgbImage, RgbaImage};
pub use resize::fit_within;
pub use sniff::{MediaKind, sniff, sniff_generated};
pub use strokes::{StrokePath, StrokeRenderError, render_strokes};
