//! Batch edits with an operation log: each applied batch is one version, recorded with its
//! inverse, so undo and redo cost as much as the batch itself (never a copy of the document), and
//! a client that knows version `v` catches up with [`Journal::since`].
//!
//! A batch is all or nothing: every operation is checked before it is applied, and when one
//! fails the ones already applied are reverted from their inverses.

use serde::{Deserialize, Serialize};

use super::{AnnotationError, Annotations, KeyFrame, Shape, Track};
use crate::geometry::BBox;

/// One edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create a shape, or replace the shape with its id.
    PutShape(Shape),
    /// Delete a shape.
    DeleteShape {
        /// Its id.
        id: u64,
    },
    /// Create a track, or replace the track with its id.
    PutTrack(Track),
    /// Delete a track.
    DeleteTrack {
        /// Its id.
        id: u64,
    },
    /// Set (create or replace) a key frame of a track.
    PutKeyFrame {
        /// The track.
        track: u64,
        /// The frame.
        frame: u32,
        /// The key frame.
        keyframe: KeyFrame,
    },
    /// Remove a key frame (the track's last one cannot be removed: delete the track).
    DeleteKeyFrame {
        /// The track.
        track: u64,
        /// The frame.
        frame: u32,
    },
    /// Move a track's box on a frame; an interpolated frame becomes a key frame.
    SetBox {
        /// The track.
        track: u64,
        /// The frame.
        frame: u32,
        /// The box.
        bbox: BBox,
    },
}

/// Why a log entry exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A batch sent by a client.
    Edit,
    /// The undo of the entry with this version.
    Undo(u64),
    /// The redo of the entry with this version (itself an undo).
    Redo(u64),
}

/// One applied batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The version the document reached with this batch.
    pub version: u64,
    /// Why.
    pub kind: EntryKind,
    /// The operations, as applied.
    pub ops: Vec<Op>,
    /// The operations that revert them, in the order to apply.
    pub inverse: Vec<Op>,
}

/// A document with its version and operation log. It serialises whole (document, log, undo and
/// redo stacks), so a server can store it and undo, redo and version checks survive a restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Journal {
    doc: Annotations,
    log: Vec<Entry>,
    undo: Vec<u64>,
    redo: Vec<u64>,
}

impl Journal {
    /// Starts a log at version 0 over a valid document.
    pub fn new(doc: Annotations) -> Result<Self, AnnotationError> {
        doc.validate()?;
        Ok(Self {
            doc,
            ..Self::default()
        })
    }

    /// The document as of the latest version.
    pub fn doc(&self) -> &Annotations {
        &self.doc
    }

    /// Replaces the document's labels (a project's labels live outside the journal): later
    /// batches are checked against these. Not an edit: the version does not change.
    pub fn set_labels(&mut self, labels: Vec<super::Label>) {
        self.doc.labels = labels;
    }

    /// The latest version (0 before any batch).
    pub fn version(&self) -> u64 {
        self.log.last().map_or(0, |e| e.version)
    }

    /// Entries after `version`, oldest first: what a client at `version` must apply.
    pub fn since(&self, version: u64) -> &[Entry] {
        let start = self.log.partition_point(|e| e.version <= version);
        &self.log[start..]
    }

    /// Applies a batch atomically and returns the new version.
    pub fn apply(&mut self, ops: Vec<Op>) -> Result<u64, AnnotationError> {
        let inverse = apply_all(&mut self.doc, &ops)?;
        self.redo.clear();
        let version = self.push(EntryKind::Edit, ops, inverse);
        self.undo.push(version);
        Ok(version)
    }

    /// Reverts the latest edit not yet undone; returns the new version.
    pub fn undo(&mut self) -> Result<u64, AnnotationError> {
        let target = *self.undo.last().ok_or(AnnotationError::NothingTo("undo"))?;
        let ops = self.entry(target).inverse.clone();
        let inverse = apply_all(&mut self.doc, &ops)?;
        self.undo.pop();
        let version = self.push(EntryKind::Undo(target), ops, inverse);
        self.redo.push(version);
        Ok(version)
    }

    /// Re-applies the latest undone edit; returns the new version.
    pub fn redo(&mut self) -> Result<u64, AnnotationError> {
        let target = *self.redo.last().ok_or(AnnotationError::NothingTo("redo"))?;
        let ops = self.entry(target).inverse.clone();
        let inverse = apply_all(&mut self.doc, &ops)?;
        self.redo.pop();
        let version = self.push(EntryKind::Redo(target), ops, inverse);
        self.undo.push(version);
        Ok(version)
    }

    fn entry(&self, version: u64) -> &Entry {
        // Versions are 1-based positions in the log, which is append-only.
        &self.log[version as usize - 1]
    }

    fn push(&mut self, kind: EntryKind, ops: Vec<Op>, inverse: Vec<Op>) -> u64 {
        let version = self.version() + 1;
        self.log.push(Entry {
            version,
            kind,
            ops,
            inverse,
        });
        version
    }
}

/// Applies `ops` in order, all or nothing; returns the inverse batch.
fn apply_all(doc: &mut Annotations, ops: &[Op]) -> Result<Vec<Op>, AnnotationError> {
    let mut inverse = Vec::with_capacity(ops.len());
    for op in ops {
        match apply_one(doc, op) {
            Ok(inv) => inverse.push(inv),
            Err(e) => {
                for inv in inverse.iter().rev() {
                    // Inverses of operations just applied always apply.
                    let _ = apply_one(doc, inv);
                }
                return Err(e);
            }
        }
    }
    inverse.reverse();
    Ok(inverse)
}

/// Applies one operation after checking it; returns its inverse.
fn apply_one(doc: &mut Annotations, op: &Op) -> Result<Op, AnnotationError> {
    Ok(match op {
        Op::PutShape(shape) => {
            if doc.tracks.contains_key(&shape.id) {
                return Err(AnnotationError::IdInUse(shape.id));
            }
            doc.check_shape(shape)?;
            match doc.shapes.insert(shape.id, shape.clone()) {
                Some(old) => Op::PutShape(old),
                None => Op::DeleteShape { id: shape.id },
            }
        }
        Op::DeleteShape { id } => {
            let old = doc
                .shapes
                .remove(id)
                .ok_or(AnnotationError::UnknownShape(*id))?;
            Op::PutShape(old)
        }
        Op::PutTrack(track) => {
            if doc.shapes.contains_key(&track.id) {
                return Err(AnnotationError::IdInUse(track.id));
            }
            doc.check_track(track)?;
            match doc.tracks.insert(track.id, track.clone()) {
                Some(old) => Op::PutTrack(old),
                None => Op::DeleteTrack { id: track.id },
            }
        }
        Op::DeleteTrack { id } => {
            let old = doc
                .tracks
                .remove(id)
                .ok_or(AnnotationError::UnknownTrack(*id))?;
            Op::PutTrack(old)
        }
        Op::PutKeyFrame {
            track,
            frame,
            keyframe,
        } => {
            let mut edited = doc
                .tracks
                .get(track)
                .ok_or(AnnotationError::UnknownTrack(*track))?
                .clone();
            let old = edited.keyframes.insert(*frame, keyframe.clone());
            doc.check_track(&edited)?;
            doc.tracks.insert(*track, edited);
            restore_keyframe(*track, *frame, old)
        }
        Op::DeleteKeyFrame { track, frame } => {
            let t = doc
                .tracks
                .get_mut(track)
                .ok_or(AnnotationError::UnknownTrack(*track))?;
            if t.keyframes.len() == 1 && t.keyframes.contains_key(frame) {
                return Err(AnnotationError::EmptyTrack(*track));
            }
            let old = t
                .keyframes
                .remove(frame)
                .ok_or(AnnotationError::NoKeyFrame {
                    track: *track,
                    frame: *frame,
                })?;
            Op::PutKeyFrame {
                track: *track,
                frame: *frame,
                keyframe: old,
            }
        }
        Op::SetBox { track, frame, bbox } => {
            doc.check_box(*frame, bbox)?;
            let t = doc
                .tracks
                .get_mut(track)
                .ok_or(AnnotationError::UnknownTrack(*track))?;
            let old = t.set_box(*frame, *bbox);
            restore_keyframe(*track, *frame, old)
        }
    })
}

fn restore_keyframe(track: u64, frame: u32, old: Option<KeyFrame>) -> Op {
    match old {
        Some(keyframe) => Op::PutKeyFrame {
            track,
            frame,
            keyframe,
        },
        None => Op::DeleteKeyFrame { track, frame },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::{Attributes, Frame, Label};

    fn doc() -> Annotations {
        let frames = (0..20)
            .map(|n| Frame {
                name: crate::annotation::video_frame_name(n),
                width: 100,
                height: 80,
            })
            .collect();
        Annotations::new("t", vec![Label::new("car", "#ff0000")], frames).expect("doc")
    }

    fn shape(id: u64, frame: u32, bbox: BBox) -> Shape {
        Shape {
            id,
            label: "car".into(),
            frame,
            bbox,
            occluded: false,
            z_order: 0,
            source: "manual".into(),
            attributes: Attributes::new(),
        }
    }

    fn track(id: u64) -> Track {
        Track {
            id,
            label: "car".into(),
            source: "manual".into(),
            attributes: Attributes::new(),
            keyframes: [
                (0, KeyFrame::visible(BBox::new(0.0, 0.0, 10.0, 10.0))),
                (10, KeyFrame::visible(BBox::new(20.0, 0.0, 30.0, 10.0))),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn undo_and_redo_walk_the_versions_back_and_forth() {
        let mut j = Journal::new(doc()).expect("journal");
        let empty = j.doc().clone();
        let v1 = j
            .apply(vec![
                Op::PutShape(shape(1, 0, BBox::new(1.0, 1.0, 5.0, 5.0))),
                Op::PutTrack(track(2)),
            ])
            .expect("apply");
        assert_eq!(v1, 1);
        let after_v1 = j.doc().clone();
        j.apply(vec![Op::SetBox {
            track: 2,
            frame: 5,
            bbox: BBox::new(50.0, 50.0, 60.0, 60.0),
        }])
        .expect("edit");
        assert!(j.doc().tracks[&2].keyframes.contains_key(&5));
        assert_eq!(j.undo().expect("undo"), 3);
        assert_eq!(j.doc(), &after_v1);
        assert_eq!(j.undo().expect("undo"), 4);
        assert_eq!(j.doc(), &empty);
        assert_eq!(j.undo(), Err(AnnotationError::NothingTo("undo")));
        j.redo().expect("redo");
        assert_eq!(j.doc(), &after_v1);
        assert_eq!(j.since(4).len(), 1);
        assert_eq!(j.since(0).len(), 5);
    }

    #[test]
    fn a_failing_batch_changes_nothing() {
        let mut j = Journal::new(doc()).expect("journal");
        j.apply(vec![Op::PutShape(shape(
            1,
            0,
            BBox::new(1.0, 1.0, 5.0, 5.0),
        ))])
        .expect("apply");
        let before = j.doc().clone();
        let err = j
            .apply(vec![
                Op::DeleteShape { id: 1 },
                Op::PutTrack(track(2)),
                Op::PutShape(shape(3, 0, BBox::new(90.0, 1.0, 105.0, 5.0))),
            ])
            .expect_err("box outside");
        assert!(
            matches!(err, AnnotationError::BoxOutsideFrame { width: 100, .. }),
            "{err}"
        );
        assert_eq!(j.doc(), &before);
        assert_eq!(j.version(), 1);
    }

    #[test]
    fn unknown_labels_and_frames_are_typed_errors() {
        let mut j = Journal::new(doc()).expect("journal");
        let mut s = shape(1, 0, BBox::new(1.0, 1.0, 5.0, 5.0));
        s.label = "truck".into();
        assert_eq!(
            j.apply(vec![Op::PutShape(s)]),
            Err(AnnotationError::UnknownLabel("truck".into()))
        );
        let s = shape(1, 20, BBox::new(1.0, 1.0, 5.0, 5.0));
        assert_eq!(
            j.apply(vec![Op::PutShape(s)]),
            Err(AnnotationError::FrameOutOfRange {
                frame: 20,
                count: 20
            })
        );
        let mut s = shape(1, 0, BBox::new(1.0, 1.0, 5.0, 5.0));
        s.attributes.insert("speed".into(), "1".into());
        assert!(matches!(
            j.apply(vec![Op::PutShape(s)]),
            Err(AnnotationError::UnknownAttribute { .. })
        ));
        assert_eq!(
            j.apply(vec![Op::DeleteKeyFrame { track: 9, frame: 0 }]),
            Err(AnnotationError::UnknownTrack(9))
        );
    }

    /// A journal holding track 1 whose key frame 10 was deleted in a second batch.
    fn journal_with_track_1_less_its_frame_10() -> Journal {
        let mut j = Journal::new(doc()).expect("journal");
        j.apply(vec![Op::PutTrack(track(1))]).expect("apply");
        j.apply(vec![Op::DeleteKeyFrame {
            track: 1,
            frame: 10,
        }])
        .expect("delete one");
        j
    }

    #[test]
    fn the_last_key_frame_cannot_be_deleted() {
        let mut j = journal_with_track_1_less_its_frame_10();
        assert_eq!(
            j.apply(vec![Op::DeleteKeyFrame { track: 1, frame: 0 }]),
            Err(AnnotationError::EmptyTrack(1))
        );
    }

    #[test]
    fn a_journal_survives_json_with_its_undo_and_redo() {
        let mut j = journal_with_track_1_less_its_frame_10();
        j.undo().expect("undo");
        let text = serde_json::to_string(&j).expect("json");
        let mut back: Journal = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, j);
        assert_eq!(back.redo(), j.redo());
        assert_eq!(back, j);
    }
}
