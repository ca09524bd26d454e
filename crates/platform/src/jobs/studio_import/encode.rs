//! The encoding stage of a `studio_import`, between the decoding half and the storing half: it
//! takes decoded pictures as they come, encodes each as the stored JPEG, and passes them on in
//! frame order. Whatever has queued up while a batch was encoding is encoded next, in parallel
//! on the shared thread pool (the order kept), so decoding, encoding and storing overlap and an
//! import uses every core the pool has: on 2 cores a 720p frame costs ~3.5 ms to decode and
//! ~10 ms to encode, so encoding one frame at a time behind the decoder would leave a core idle.

use std::sync::mpsc::Receiver;

use atelier_imaging::encode_jpeg;
use rayon::prelude::*;
use tokio::sync::mpsc::Sender;

use super::decode::{Decoded, Message};
use crate::jobs::JobFailure;

/// JPEG quality of stored frames.
const FRAME_QUALITY: u8 = 90;
/// Most bytes of decoded pictures one batch may hold.
const BATCH_BYTES: usize = 256 << 20;

/// How many decoded pictures may wait between the decoder and the encoder, for frames of at
/// most `max_pixels`: enough to fill a batch on every pool thread (at most 8), few enough that
/// waiting pictures stay under [`BATCH_BYTES`].
pub(super) fn queue_depth(max_pixels: u64) -> usize {
    let frame_bytes = usize::try_from(max_pixels.saturating_mul(3)).unwrap_or(usize::MAX);
    (BATCH_BYTES / frame_bytes.max(1)).clamp(1, rayon::current_num_threads().clamp(1, 8))
}

/// Encodes every frame `decoded` yields and sends it on to `stored`, in order; returns when the
/// decoder is done (its sender dropped). A closed `stored` (the storing half stopped) is a
/// cancel.
pub(super) fn run(decoded: Receiver<Message>, stored: &Sender<Message>) -> Result<(), JobFailure> {
    while let Ok(first) = decoded.recv() {
        let mut batch = vec![first];
        let mut bytes = picture_bytes(&batch[0]);
        while bytes < BATCH_BYTES
            && let Ok(next) = decoded.try_recv()
        {
            bytes += picture_bytes(&next);
            batch.push(next);
        }
        let encoded: Vec<Result<Message, JobFailure>> = if batch.len() == 1 {
            batch.into_iter().map(encode).collect()
        } else {
            batch.into_par_iter().map(encode).collect()
        };
        for message in encoded {
            stored
                .blocking_send(message?)
                .map_err(|_| super::decode::closed())?;
        }
    }
    Ok(())
}

fn picture_bytes(message: &Message) -> usize {
    match message {
        Message::Frame(Decoded {
            image: Some(image), ..
        }) => image.as_raw().len(),
        _ => 0,
    }
}

/// A frame with its JPEG made (the picture kept for frame 0 alone: the thumbnail); other
/// messages pass through.
fn encode(message: Message) -> Result<Message, JobFailure> {
    let Message::Frame(mut frame) = message else {
        return Ok(message);
    };
    let image = frame
        .image
        .take()
        .ok_or_else(|| JobFailure::abort("encode", "a frame came without its picture"))?;
    frame.jpeg = encode_jpeg(&image, FRAME_QUALITY)
        .map_err(|err| JobFailure::abort("encode", err.to_string()))?;
    frame.image = (frame.number == 0).then_some(image);
    Ok(Message::Frame(frame))
}

#[cfg(test)]
mod tests {
    use image::RgbImage;

    use super::*;

    fn frame(number: i64) -> Message {
        let shade = (number * 40) as u8;
        Message::Frame(Decoded {
            number,
            timestamp_ms: number * 40,
            name: None,
            width: 16,
            height: 8,
            jpeg: Vec::new(),
            image: Some(RgbImage::from_pixel(
                16,
                8,
                image::Rgb([shade, shade, shade]),
            )),
        })
    }

    #[test]
    fn frames_come_out_encoded_in_their_order_with_restarts_in_place() {
        let (raw, decoded) = std::sync::mpsc::sync_channel(2);
        let (stored, mut out) = tokio::sync::mpsc::channel(64);
        let producer = std::thread::spawn(move || {
            for number in 0..5 {
                raw.send(frame(number)).expect("send");
            }
            raw.send(Message::Restart).expect("send");
            for number in 0..3 {
                raw.send(frame(number)).expect("send");
            }
        });
        run(decoded, &stored).expect("encodes");
        producer.join().expect("producer");
        drop(stored);
        let mut seen = Vec::new();
        while let Ok(message) = out.try_recv() {
            match message {
                Message::Frame(f) => {
                    let picture = image::load_from_memory(&f.jpeg).expect("a JPEG").to_rgb8();
                    assert_eq!(picture.dimensions(), (16, 8));
                    let expected = (f.number * 40) as i16;
                    assert!((i16::from(picture.get_pixel(3, 3)[0]) - expected).abs() <= 2);
                    assert_eq!(f.image.is_some(), f.number == 0, "picture kept for frame 0");
                    seen.push(f.number);
                }
                Message::Restart => seen.push(-1),
            }
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4, -1, 0, 1, 2]);
    }

    #[test]
    fn a_closed_store_is_a_cancel() {
        let (raw, decoded) = std::sync::mpsc::sync_channel(2);
        let (stored, out) = tokio::sync::mpsc::channel(1);
        drop(out);
        raw.send(frame(0)).expect("send");
        drop(raw);
        let failure = run(decoded, &stored).expect_err("canceled");
        assert_eq!(failure.code, "canceled");
    }

    #[test]
    fn the_queue_holds_fewer_pictures_when_they_are_huge() {
        assert!(queue_depth(1_000_000) >= 1);
        assert_eq!(queue_depth(200_000_000), 1);
    }
}
