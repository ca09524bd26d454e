#![doc = include_str!("../README.md")]

mod cascade;
mod catalogue;
mod detect;
mod error;
mod eval;
mod exact;
mod group;
mod image;
mod lanes;
mod limits;
mod program;
mod pyramid;
mod xml;

pub use cascade::{Cascade, FeatureType, Rect, Size};
pub use catalogue::{CascadeEntry, catalogue, default_cascade_dirs};
pub use detect::{DetectParams, GROUP_EPS, MAX_LEVELS, MAX_PYRAMID_CELLS};
pub use error::HaarError;
pub use group::group_rectangles;
pub use image::{GrayImage, MAX_IMAGE_DIMENSION, rgb_to_gray};
pub use limits::{Budget, CascadeLimits};
pub use pyramid::scratch::release as release_scratch;
