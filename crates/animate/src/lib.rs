#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bvh;
mod error;
pub mod geom;
pub mod mesh;
pub mod motion;
pub mod parts;
pub mod produce;
pub mod render;
pub mod rig;
pub mod segment;
pub mod shape;
pub mod skeleton;
mod sparse;

#[cfg(test)]
mod author;

use image::RgbaImage;
use serde::{Deserialize, Serialize};

pub use error::AnimateError;
pub use geom::Point;
pub use mesh::Mesh;
pub use motion::Motion;
pub use parts::{DrawOrder, Part};
pub use produce::{FileFormat, ProduceError, ProduceRequest, Produced, ProducedFile, produce};
pub use render::Background;
pub use segment::{BBox, Mask, SegmentParams};
pub use skeleton::{JOINT_NAMES, Joint, Joints, SkeletonSource};

/// A pipeline stage, as reported to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Finding the figure and its mask.
    Segment,
    /// Estimating (or validating) the joints.
    Skeleton,
    /// Meshing and binding the mesh to the skeleton.
    Rig,
    /// Posing the skeleton from the motion and deforming the mesh.
    Retarget,
    /// Rasterising frames.
    Render,
    /// Encoding frames (done by the caller; named here so all stages share one vocabulary).
    Encode,
}

impl Stage {
    /// The stage's name: `segment`, `skeleton`, `rig`, `retarget`, `render`, `encode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Segment => "segment",
            Stage::Skeleton => "skeleton",
            Stage::Rig => "rig",
            Stage::Retarget => "retarget",
            Stage::Render => "render",
            Stage::Encode => "encode",
        }
    }
}

/// Progress callback: a stage and the fraction of that stage done (0–1). It answers whether
/// to go on: `false` stops the pipeline at its next check (between stages and between chunks of
/// frames) with [`AnimateError::Canceled`].
pub type Progress<'a> = &'a mut dyn FnMut(Stage, f32) -> bool;

/// A progress callback that ignores progress and never stops the pipeline.
pub fn no_progress(_: Stage, _: f32) -> bool {
    true
}

/// Reports progress and turns a request to stop into [`AnimateError::Canceled`].
fn report(progress: Progress<'_>, stage: Stage, done: f32) -> Result<(), AnimateError> {
    if progress(stage, done) {
        Ok(())
    } else {
        Err(AnimateError::Canceled)
    }
}

/// Frames posed or drawn between two progress reports (and cancellation checks): enough to
/// keep every core busy.
fn frames_per_chunk() -> usize {
    (rayon::current_num_threads() * 2).max(8)
}

/// Limits and settings of [`analyze`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeParams {
    /// Largest accepted image, in pixels.
    pub max_pixels: u64,
    /// The drawing is analysed and textured at most this many pixels on its longer side.
    pub work_size: u32,
    /// Figure-finding thresholds.
    pub segment: SegmentParams,
    /// User-edited joints (image pixels) to use instead of the estimate.
    pub joints: Option<Vec<Joint>>,
}

impl Default for AnalyzeParams {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            work_size: 512,
            segment: SegmentParams::default(),
            joints: None,
        }
    }
}

/// A drawing turned into a rigged character, ready to animate.
#[derive(Debug, Clone)]
pub struct Character {
    /// Source image width.
    pub image_width: u32,
    /// Source image height.
    pub image_height: u32,
    /// Work coordinates = source coordinates × `scale`.
    pub scale: f32,
    /// The figure's mask in work coordinates.
    pub mask: Mask,
    /// Where the joints came from.
    pub skeleton_source: SkeletonSource,
    /// The rig (mesh + rest joints, work coordinates).
    pub rig: rig::Rig,
    texture: render::Texture,
}

/// A JSON-friendly description of a character, in source image pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharacterInfo {
    /// Source image width.
    pub width: u32,
    /// Source image height.
    pub height: u32,
    /// The figure's bounding box.
    pub bbox: BBox,
    /// Where the joints came from (`geometric`, `template` or `user`).
    pub skeleton_source: SkeletonSource,
    /// The 16 joints (AnimatedDrawings layout).
    pub joints: Vec<Joint>,
    /// The rest mesh.
    pub mesh: Mesh,
}

impl Character {
    /// Joints in source image pixels.
    pub fn joints(&self) -> Joints {
        self.rig.rest_joints.map(|p| p * (1.0 / self.scale))
    }

    /// The mask's bounding box in source pixels.
    pub fn bbox(&self) -> BBox {
        let b = self.mask.bbox().unwrap_or(BBox {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        });
        let k = 1.0 / self.scale;
        let x = (b.x as f32 * k).floor() as u32;
        let y = (b.y as f32 * k).floor() as u32;
        BBox {
            x,
            y,
            width: (((b.x + b.width) as f32 * k).ceil() as u32).min(self.image_width) - x,
            height: (((b.y + b.height) as f32 * k).ceil() as u32).min(self.image_height) - y,
        }
    }

    /// The mask at source resolution (255 = figure).
    pub fn mask_image(&self) -> image::GrayImage {
        let m = self.mask.to_gray();
        if m.width() == self.image_width && m.height() == self.image_height {
            m
        } else {
            image::imageops::resize(
                &m,
                self.image_width,
                self.image_height,
                image::imageops::FilterType::Nearest,
            )
        }
    }

    /// Description for APIs and files (source pixels).
    pub fn info(&self) -> CharacterInfo {
        let k = 1.0 / self.scale;
        CharacterInfo {
            width: self.image_width,
            height: self.image_height,
            bbox: self.bbox(),
            skeleton_source: self.skeleton_source,
            joints: skeleton::to_joint_list(&self.joints()),
            mesh: Mesh {
                vertices: self.rig.mesh.vertices.iter().map(|p| *p * k).collect(),
                triangles: self.rig.mesh.triangles.clone(),
            },
        }
    }

    /// The character's rest mesh bound in one piece, without cutting it into body parts (the
    /// earlier rig), with the same triangles in the same order as [`Character::rig`]: for
    /// comparing the two deformations (`examples/shape_report.rs`).
    pub fn rig_in_one_piece(&self) -> Result<rig::Rig, AnimateError> {
        let (mesh, edge) = rest_mesh(&self.mask, &self.rig.rest_joints)?;
        rig::Rig::new(mesh, self.rig.rest_joints, edge)
    }

    /// The same character re-rigged on edited joints (source pixels, validated).
    pub fn with_joints(&self, joints: &[Joint]) -> Result<Character, AnimateError> {
        let j = skeleton::from_joint_list(joints, self.image_width, self.image_height)?;
        let work = j.map(|p| p * self.scale);
        let rig = build_rig(&self.mask, work)?;
        Ok(Character {
            rig,
            skeleton_source: SkeletonSource::User,
            ..self.clone()
        })
    }
}

/// The figure's rest mesh, holding the rig's anchor points, and its edge length.
fn rest_mesh(mask: &Mask, joints: &Joints) -> Result<(Mesh, f32), AnimateError> {
    let b = mask.bbox().ok_or(AnimateError::NoFigure)?;
    let edge = (b.width.max(b.height) as f32 / 26.0).max(3.0);
    let points: Vec<Point> = rig::anchors().iter().map(|a| a.at(joints)).collect();
    Ok((mesh::triangulate(mask, &points, edge)?, edge))
}

fn build_rig(mask: &Mask, joints: Joints) -> Result<rig::Rig, AnimateError> {
    let (m, edge) = rest_mesh(mask, &joints)?;
    let mut parts = parts::assign(&m, mask, &joints);
    // A limb the rig cannot hold by at least two of its joints or bones goes back into the
    // body; a cut that leaves a piece without any handle falls back to the uncut mesh.
    for _ in 0..Part::ALL.len() {
        let Ok(rig) = rig::Rig::with_parts(m.clone(), &parts, joints, edge) else {
            break;
        };
        let loose: Vec<Part> = Part::ALL[1..]
            .iter()
            .copied()
            .filter(|&limb| rig.parts.contains(&limb) && rig.handles_in(limb) < 2)
            .collect();
        if loose.is_empty() {
            return Ok(rig);
        }
        for p in &mut parts {
            if loose.contains(p) {
                *p = Part::Torso;
            }
        }
    }
    rig::Rig::new(m, joints, edge)
}

/// Find the figure, estimate (or take) its joints, and rig it.
pub fn analyze(
    image: &RgbaImage,
    params: &AnalyzeParams,
    progress: Progress<'_>,
) -> Result<Character, AnimateError> {
    let (w, h) = image.dimensions();
    if u64::from(w) * u64::from(h) > params.max_pixels {
        return Err(AnimateError::ImageTooLarge {
            width: w,
            height: h,
            max_pixels: params.max_pixels,
        });
    }
    if w == 0 || h == 0 {
        return Err(AnimateError::NoFigure);
    }
    let edited = params
        .joints
        .as_ref()
        .map(|j| skeleton::from_joint_list(j, w, h))
        .transpose()?;
    report(progress, Stage::Segment, 0.0)?;
    let scale = (params.work_size.max(16) as f32 / w.max(h) as f32).min(1.0);
    let work = if scale < 1.0 {
        let (ww, wh) = (
            ((w as f32 * scale).round() as u32).max(1),
            ((h as f32 * scale).round() as u32).max(1),
        );
        image::imageops::resize(image, ww, wh, image::imageops::FilterType::Triangle)
    } else {
        image.clone()
    };
    let scale = work.width() as f32 / w as f32;
    let mask = segment::segment(&work, &params.segment)?;
    report(progress, Stage::Segment, 1.0)?;
    report(progress, Stage::Skeleton, 0.0)?;
    let (joints, source) = match edited {
        Some(j) => (j.map(|p| p * scale), SkeletonSource::User),
        None => {
            let (mut joints, source) = skeleton::estimate(&mask);
            parts::roots_on_outline(&mask, &mut joints);
            (joints, source)
        }
    };
    report(progress, Stage::Skeleton, 1.0)?;
    report(progress, Stage::Rig, 0.0)?;
    let rig = build_rig(&mask, joints)?;
    let alpha: Vec<f32> = {
        let m: Vec<f32> = mask.data.iter().map(|&v| f32::from(v)).collect();
        segment::box_blur(&m, mask.width as usize, mask.height as usize, 1)
    };
    let texture = render::Texture::new(&work, &alpha);
    report(progress, Stage::Rig, 1.0)?;
    Ok(Character {
        image_width: w,
        image_height: h,
        scale,
        mask,
        skeleton_source: source,
        rig,
        texture,
    })
}

/// Output settings of [`render`].
#[derive(Debug, Clone, PartialEq)]
pub struct RenderParams {
    /// Frames per second (1–60).
    pub fps: u32,
    /// Length in seconds.
    pub duration_s: f32,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Background.
    pub background: Background,
    /// Largest number of frames allowed.
    pub max_frames: u32,
    /// Largest frame side allowed.
    pub max_side: u32,
    /// ARAP iterations per frame.
    pub arap_iterations: usize,
}

impl Default for RenderParams {
    fn default() -> Self {
        Self {
            fps: 30,
            duration_s: 5.0,
            width: 512,
            height: 512,
            background: Background::Transparent,
            max_frames: 1800,
            max_side: 2048,
            arap_iterations: 6,
        }
    }
}

impl RenderParams {
    /// Number of frames: `round(fps × duration)`, checked against the limits.
    pub fn frame_count(&self) -> Result<usize, AnimateError> {
        if !(1..=60).contains(&self.fps) {
            return Err(AnimateError::InvalidParams(format!(
                "fps {} not in 1..=60",
                self.fps
            )));
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return Err(AnimateError::InvalidParams(
                "duration must be positive".into(),
            ));
        }
        let n = (self.fps as f32 * self.duration_s).round();
        if n < 1.0 || n > self.max_frames as f32 {
            return Err(AnimateError::InvalidParams(format!(
                "{n} frames, limit {}",
                self.max_frames
            )));
        }
        if self.width < 8
            || self.height < 8
            || self.width > self.max_side
            || self.height > self.max_side
        {
            return Err(AnimateError::InvalidParams(format!(
                "frame size {}x{} not within 8..={}",
                self.width, self.height, self.max_side
            )));
        }
        Ok(n as usize)
    }
}

/// Rendered animation frames.
#[derive(Debug, Clone)]
pub struct Frames {
    /// The frames, straight (not premultiplied) alpha.
    pub frames: Vec<RgbaImage>,
    /// Frames per second.
    pub fps: u32,
}

/// Joint positions, the deformed mesh and the order the parts are drawn in, per frame (work
/// coordinates).
#[derive(Debug, Clone)]
pub struct Animation {
    /// Posed joints per frame.
    pub poses: Vec<Joints>,
    /// Mesh vertex positions per frame.
    pub vertices: Vec<Vec<Point>>,
    /// The order the body parts are drawn in per frame (limbs behind or in front of the
    /// torso, from the clip's depth); a frame without one is drawn in the default order.
    pub orders: Vec<DrawOrder>,
}

impl Animation {
    /// One frame: the character as drawn, in the default order.
    pub fn at_rest(character: &Character) -> Animation {
        Animation {
            poses: vec![character.rig.rest_joints],
            vertices: vec![character.rig.mesh.vertices.clone()],
            orders: vec![DrawOrder::default()],
        }
    }
}

/// Pose a character through a motion: retarget the clip and deform the mesh for every frame.
pub fn pose(
    character: &Character,
    motion: Motion,
    params: &RenderParams,
    progress: Progress<'_>,
) -> Result<Animation, AnimateError> {
    use rayon::prelude::*;
    let n = params.frame_count()?;
    report(progress, Stage::Retarget, 0.0)?;
    let clip = motion.clip()?;
    let poses = motion::retarget(&character.rig.rest_joints, clip, f64::from(params.fps), n)?;
    let orders = motion::draw_orders(clip, f64::from(params.fps), n)?;
    let it = params.arap_iterations;
    let mut vertices = Vec::with_capacity(poses.len());
    for chunk in poses.chunks(frames_per_chunk()) {
        vertices.par_extend(chunk.par_iter().map(|p| character.rig.deform(p, it)));
        report(
            progress,
            Stage::Retarget,
            vertices.len() as f32 / poses.len().max(1) as f32,
        )?;
    }
    Ok(Animation {
        poses,
        vertices,
        orders,
    })
}

/// Rasterise an animation's posed meshes into frames, each drawing the parts in its frame's
/// order.
pub fn draw(character: &Character, animation: &Animation, params: &RenderParams) -> Vec<RgbaImage> {
    // Without a callback that stops, drawing cannot fail.
    draw_reporting(character, animation, params, &mut no_progress).unwrap_or_default()
}

/// Rasterise an animation a chunk of frames at a time (one framing for all of them),
/// reporting [`Stage::Render`] progress between chunks and stopping when asked.
fn draw_reporting(
    character: &Character,
    animation: &Animation,
    params: &RenderParams,
    progress: Progress<'_>,
) -> Result<Vec<RgbaImage>, AnimateError> {
    let vertices = &animation.vertices;
    let fit = render::fit(vertices, params.width, params.height, 0.04);
    let layers = render::Layers::new(&character.rig.parts, character.rig.fills_from);
    let orders: Vec<DrawOrder> = (0..vertices.len())
        .map(|f| animation.orders.get(f).copied().unwrap_or_default())
        .collect();
    let scene = render::Scene {
        tex: &character.texture,
        mesh: &character.rig.mesh,
        layers: &layers,
        fit,
        width: params.width,
        height: params.height,
        background: params.background,
    };
    let mut frames = Vec::with_capacity(vertices.len());
    let chunk = frames_per_chunk();
    for (poses, orders) in vertices.chunks(chunk).zip(orders.chunks(chunk)) {
        frames.extend(scene.draw_all(poses, orders));
        report(
            progress,
            Stage::Render,
            frames.len() as f32 / vertices.len().max(1) as f32,
        )?;
    }
    Ok(frames)
}

/// Animate a character with a built-in motion.
pub fn render(
    character: &Character,
    motion: Motion,
    params: &RenderParams,
    progress: Progress<'_>,
) -> Result<Frames, AnimateError> {
    let anim = pose(character, motion, params, progress)?;
    report(progress, Stage::Render, 0.0)?;
    let frames = draw_reporting(character, &anim, params, progress)?;
    Ok(Frames {
        frames,
        fps: params.fps,
    })
}
