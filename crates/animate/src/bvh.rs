//! A small BVH (Biovision hierarchy) reader and writer: HIERARCHY with ROOT/JOINT/End Site,
//! OFFSET and CHANNELS; MOTION with Frames, Frame Time and the channel values; forward
//! kinematics to world joint positions.

use crate::AnimateError;

/// One animated channel of a joint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Translation along x.
    Xposition,
    /// Translation along y.
    Yposition,
    /// Translation along z.
    Zposition,
    /// Rotation about x (degrees).
    Xrotation,
    /// Rotation about y (degrees).
    Yrotation,
    /// Rotation about z (degrees).
    Zrotation,
}

impl Channel {
    fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "Xposition" => Channel::Xposition,
            "Yposition" => Channel::Yposition,
            "Zposition" => Channel::Zposition,
            "Xrotation" => Channel::Xrotation,
            "Yrotation" => Channel::Yrotation,
            "Zrotation" => Channel::Zrotation,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Channel::Xposition => "Xposition",
            Channel::Yposition => "Yposition",
            Channel::Zposition => "Zposition",
            Channel::Xrotation => "Xrotation",
            Channel::Yrotation => "Yrotation",
            Channel::Zrotation => "Zrotation",
        }
    }
}

/// A joint of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct BvhJoint {
    /// Joint name.
    pub name: String,
    /// Parent index (joints are stored parents first).
    pub parent: Option<usize>,
    /// Rest offset from the parent.
    pub offset: [f64; 3],
    /// Channels in file order.
    pub channels: Vec<Channel>,
    /// Offset of the `End Site`, if the joint has one.
    pub end_site: Option<[f64; 3]>,
}

/// A parsed BVH clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Bvh {
    /// Joints, parents before children.
    pub joints: Vec<BvhJoint>,
    /// Seconds per frame.
    pub frame_time: f64,
    /// One row of channel values per frame, in joint then channel order.
    pub frames: Vec<Vec<f64>>,
}

/// Largest number of frames or joints accepted (limits work on hostile input).
const MAX_FRAMES: usize = 100_000;
const MAX_JOINTS: usize = 512;

struct Tokens<'a> {
    items: Vec<(usize, &'a str)>,
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        let items = text
            .lines()
            .enumerate()
            .flat_map(|(i, l)| l.split_whitespace().map(move |t| (i + 1, t)))
            .collect();
        Tokens { items, pos: 0 }
    }
    fn line(&self) -> usize {
        self.items
            .get(
                self.pos
                    .saturating_sub(1)
                    .min(self.items.len().saturating_sub(1)),
            )
            .map_or(0, |t| t.0)
    }
    fn err(&self, message: impl Into<String>) -> AnimateError {
        AnimateError::Bvh {
            line: self.line(),
            message: message.into(),
        }
    }
    fn next(&mut self) -> Result<&'a str, AnimateError> {
        let t = self
            .items
            .get(self.pos)
            .map(|t| t.1)
            .ok_or_else(|| self.err("unexpected end of file"))?;
        self.pos += 1;
        Ok(t)
    }
    fn expect(&mut self, word: &str) -> Result<(), AnimateError> {
        let t = self.next()?;
        if t == word {
            Ok(())
        } else {
            Err(self.err(format!("expected {word:?}, found {t:?}")))
        }
    }
    fn number(&mut self) -> Result<f64, AnimateError> {
        let t = self.next()?;
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.err(format!("expected a number, found {t:?}")))
    }
    fn vec3(&mut self) -> Result<[f64; 3], AnimateError> {
        Ok([self.number()?, self.number()?, self.number()?])
    }
}

/// Parse BVH text.
pub fn parse(text: &str) -> Result<Bvh, AnimateError> {
    let mut t = Tokens::new(text);
    t.expect("HIERARCHY")?;
    t.expect("ROOT")?;
    let mut joints = Vec::new();
    parse_joint(&mut t, None, &mut joints)?;
    t.expect("MOTION")?;
    t.expect("Frames:")?;
    let n = t.number()?;
    if n < 1.0 || n > MAX_FRAMES as f64 || n.fract() != 0.0 {
        return Err(t.err(format!("bad frame count {n}")));
    }
    t.expect("Frame")?;
    t.expect("Time:")?;
    let frame_time = t.number()?;
    if frame_time <= 0.0 {
        return Err(t.err("frame time must be positive"));
    }
    let width: usize = joints.iter().map(|j: &BvhJoint| j.channels.len()).sum();
    let mut frames = Vec::with_capacity(n as usize);
    for _ in 0..n as usize {
        let row = (0..width)
            .map(|_| t.number())
            .collect::<Result<Vec<_>, _>>()?;
        frames.push(row);
    }
    if t.pos != t.items.len() {
        return Err(t.err("trailing data after the last frame"));
    }
    Ok(Bvh {
        joints,
        frame_time,
        frames,
    })
}

fn parse_joint(
    t: &mut Tokens<'_>,
    parent: Option<usize>,
    out: &mut Vec<BvhJoint>,
) -> Result<(), AnimateError> {
    if out.len() >= MAX_JOINTS {
        return Err(t.err("too many joints"));
    }
    let name = t.next()?.to_owned();
    t.expect("{")?;
    t.expect("OFFSET")?;
    let offset = t.vec3()?;
    t.expect("CHANNELS")?;
    let nc = t.number()?;
    if !(0.0..=6.0).contains(&nc) || nc.fract() != 0.0 {
        return Err(t.err(format!("bad channel count {nc}")));
    }
    let mut channels = Vec::new();
    for _ in 0..nc as usize {
        let c = t.next()?;
        channels.push(Channel::parse(c).ok_or_else(|| t.err(format!("unknown channel {c:?}")))?);
    }
    let me = out.len();
    out.push(BvhJoint {
        name,
        parent,
        offset,
        channels,
        end_site: None,
    });
    loop {
        match t.next()? {
            "JOINT" => parse_joint(t, Some(me), out)?,
            "End" => {
                t.expect("Site")?;
                t.expect("{")?;
                t.expect("OFFSET")?;
                out[me].end_site = Some(t.vec3()?);
                t.expect("}")?;
            }
            "}" => return Ok(()),
            other => return Err(t.err(format!("unexpected {other:?} in joint"))),
        }
    }
}

/// Write a clip as BVH text (the inverse of [`parse`]).
pub fn write(b: &Bvh) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("HIERARCHY\n");
    fn joint(b: &Bvh, i: usize, depth: usize, s: &mut String) {
        let pad = "  ".repeat(depth);
        let j = &b.joints[i];
        let kind = if j.parent.is_none() { "ROOT" } else { "JOINT" };
        let _ = writeln!(s, "{pad}{kind} {}\n{pad}{{", j.name);
        let _ = writeln!(
            s,
            "{pad}  OFFSET {} {} {}",
            j.offset[0], j.offset[1], j.offset[2]
        );
        let ch: Vec<&str> = j.channels.iter().map(|c| c.name()).collect();
        let _ = writeln!(s, "{pad}  CHANNELS {} {}", ch.len(), ch.join(" "));
        for (k, c) in b.joints.iter().enumerate() {
            if c.parent == Some(i) {
                joint(b, k, depth + 1, s);
            }
        }
        if let Some(e) = j.end_site {
            let _ = writeln!(
                s,
                "{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {} {} {}\n{pad}  }}",
                e[0], e[1], e[2]
            );
        }
        let _ = writeln!(s, "{pad}}}");
    }
    joint(b, 0, 0, &mut s);
    let _ = writeln!(
        s,
        "MOTION\nFrames: {}\nFrame Time: {}",
        b.frames.len(),
        b.frame_time
    );
    for row in &b.frames {
        let v: Vec<String> = row.iter().map(|x| format!("{x:.3}")).collect();
        let _ = writeln!(s, "{}", v.join(" "));
    }
    s
}

type M3 = [[f64; 3]; 3];

fn mul(a: &M3, b: &M3) -> M3 {
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

fn apply(a: &M3, v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

fn rot(axis: usize, deg: f64) -> M3 {
    let (s, c) = deg.to_radians().sin_cos();
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
        1 => [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        _ => [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

impl Bvh {
    /// Channel values at time `t` seconds, looping, linearly interpolated between frames.
    pub fn sample(&self, t: f64) -> Vec<f64> {
        let n = self.frames.len();
        let f = (t / self.frame_time).rem_euclid(n as f64);
        let i = (f.floor() as usize).min(n - 1);
        let j = (i + 1) % n;
        let a = f - i as f64;
        self.frames[i]
            .iter()
            .zip(&self.frames[j])
            .map(|(x, y)| x + (y - x) * a)
            .collect()
    }

    /// Length of the clip in seconds.
    pub fn duration(&self) -> f64 {
        self.frames.len() as f64 * self.frame_time
    }

    /// World positions of every joint for one row of channel values.
    pub fn world_positions(&self, values: &[f64]) -> Vec<[f64; 3]> {
        let mut rots: Vec<M3> = Vec::with_capacity(self.joints.len());
        let mut pos: Vec<[f64; 3]> = Vec::with_capacity(self.joints.len());
        let mut k = 0;
        for j in &self.joints {
            let mut trans = j.offset;
            let mut r: M3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
            for c in &j.channels {
                let v = values.get(k).copied().unwrap_or(0.0);
                k += 1;
                match c {
                    Channel::Xposition => trans[0] += v,
                    Channel::Yposition => trans[1] += v,
                    Channel::Zposition => trans[2] += v,
                    Channel::Xrotation => r = mul(&r, &rot(0, v)),
                    Channel::Yrotation => r = mul(&r, &rot(1, v)),
                    Channel::Zrotation => r = mul(&r, &rot(2, v)),
                }
            }
            let (wr, wp) = match j.parent {
                None => (r, trans),
                Some(p) => {
                    let o = apply(&rots[p], trans);
                    (
                        mul(&rots[p], &r),
                        [pos[p][0] + o[0], pos[p][1] + o[1], pos[p][2] + o[2]],
                    )
                }
            };
            rots.push(wr);
            pos.push(wp);
        }
        pos
    }

    /// Index of the joint called `name`.
    pub fn joint(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zrotation\n JOINT b\n {\n  OFFSET 1 0 0\n  CHANNELS 1 Zrotation\n  End Site\n  {\n   OFFSET 1 0 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.5\n0 0 0 0\n2 3 90 0\n";

    #[test]
    fn a_two_joint_chain_parses_and_rotates_its_child() {
        let b = parse(TWO).unwrap();
        assert_eq!(b.joints.len(), 2);
        assert_eq!(b.joints[1].parent, Some(0));
        assert_eq!(b.joints[1].end_site, Some([1.0, 0.0, 0.0]));
        let p = b.world_positions(&b.frames[1]);
        assert!(
            (p[1][0] - 2.0).abs() < 1e-9 && (p[1][1] - 4.0).abs() < 1e-9,
            "{p:?}"
        );
        // Halfway between the frames.
        let mid = b.sample(0.25);
        assert!((mid[2] - 45.0).abs() < 1e-9);
    }

    #[test]
    fn written_text_parses_back_to_the_same_clip() {
        let b = parse(TWO).unwrap();
        assert_eq!(parse(&write(&b)).unwrap(), b);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let bad = TWO.replace("CHANNELS 1 Zrotation", "CHANNELS 1 Wrotation");
        assert!(matches!(
            parse(&bad),
            Err(AnimateError::Bvh { line: 9, .. })
        ));
        let short = TWO.replace("2 3 90 0\n", "2 3 90\n");
        assert!(matches!(parse(&short), Err(AnimateError::Bvh { .. })));
        assert!(matches!(parse("HIERARCHY"), Err(AnimateError::Bvh { .. })));
    }
}
