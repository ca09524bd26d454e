//! Decoding through an `ffmpeg` child process, for what the in-process decoder does not read:
//! other containers (WebM, Matroska, MOV, AVI…), other codecs (VP8/9, AV1, MJPEG…) and the H.264
//! profiles OpenH264 refuses (Main, High).
//!
//! ffmpeg writes every decoded picture as a binary PPM (`P6`, RGB) to a pipe, so each frame
//! carries its own size and no probe is needed first; `-vsync passthrough` (a spelling ffmpeg 4
//! to 7 all accept) keeps one output picture per decoded frame (no duplicates, no drops), and
//! the `showinfo` filter logs each frame's presentation time to stderr before the frame reaches
//! the pipe, so frame numbers and timestamps are kept. The limits hold whatever the file claims:
//! ffmpeg's own decoder is told the pixel limit, each frame's header is checked before its pixels
//! are read, the frame count is capped, and a watchdog kills the process at the time limit. Cancelling (the progress callback
//! answering `false`) and any error also kill it, so no ffmpeg outlives its decode.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use image::RgbImage;

use super::{VideoError, VideoFrame};
use crate::Progress;

/// How an ffmpeg decode is run and bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct FfmpegDecoder {
    /// The `ffmpeg` executable.
    pub binary: PathBuf,
    /// Longest the whole decode may take; ffmpeg is killed past it.
    pub timeout: Duration,
    /// Most pixels in one frame.
    pub max_pixels: u64,
    /// Longest frame side.
    pub max_side: u32,
    /// Most frames.
    pub max_frames: usize,
}

/// What a decode found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FfmpegSummary {
    /// Frames decoded.
    pub frames: usize,
    /// Duration in seconds: the container's when ffmpeg reports it, else the last timestamp.
    pub duration: f64,
}

/// Lines of ffmpeg's log kept for an error message.
const LOG_TAIL: usize = 12;

/// What the stderr reader passes to the frame reader.
enum Note {
    /// The input's duration (seconds), from `Duration: HH:MM:SS.cc`.
    Duration(f64),
    /// A frame's presentation time (seconds) from `showinfo`, if it had one.
    Pts(Option<f64>),
}

impl FfmpegDecoder {
    /// Decodes the first video stream of the file at `input`, handing each frame to `sink` in
    /// presentation order, numbered from 0, timestamps from the first frame's. Reports progress
    /// as stage "decode" (by time, when the duration is known).
    pub fn for_each_frame(
        &self,
        input: &Path,
        progress: &mut dyn Progress,
        mut sink: impl FnMut(VideoFrame) -> Result<(), VideoError>,
    ) -> Result<FfmpegSummary, VideoError> {
        let mut child = self.command(input).spawn().map_err(|err| {
            VideoError::External(format!("cannot run {}: {err}", self.binary.display()))
        })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(VideoError::External("ffmpeg's pipes are missing".into()));
        };
        let child = Arc::new(Mutex::new(child));
        let timed_out = Arc::new(AtomicBool::new(false));
        let (done, watchdog) = watchdog(Arc::clone(&child), self.timeout, Arc::clone(&timed_out));
        let (notes_tx, notes) = mpsc::channel();
        let log = std::thread::spawn(move || read_log(stderr, &notes_tx));

        let deadline = Instant::now() + self.timeout;
        let mut reader = Frames {
            pipe: BufReader::with_capacity(1 << 20, stdout),
            notes,
            duration: None,
        };
        let result = self.read_all(&mut reader, deadline, progress, &mut sink);
        drop(done);
        let _ = watchdog.join();
        if result.is_err() {
            kill(&child);
        }
        // The pipe closes before the wait, so an ffmpeg still writing gets EPIPE and stops.
        let duration = reader.duration;
        drop(reader);
        let status = child
            .lock()
            .map_err(|_| VideoError::External("ffmpeg's handle was poisoned".into()))?
            .wait();
        let tail = log.join().unwrap_or_default();
        if timed_out.load(Ordering::SeqCst) {
            return Err(VideoError::TimedOut(self.timeout));
        }
        let frames = result?;
        let status = status.map_err(|err| VideoError::External(err.to_string()))?;
        if !status.success() {
            return Err(VideoError::External(format!(
                "ffmpeg exited with {status}: {}",
                tail.join(" | ")
            )));
        }
        if frames.count == 0 {
            return Err(VideoError::External(format!(
                "no video frames: {}",
                tail.join(" | ")
            )));
        }
        Ok(FfmpegSummary {
            frames: frames.count,
            duration: duration.unwrap_or(frames.last_timestamp),
        })
    }

    fn command(&self, input: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["-nostdin", "-hide_banner", "-loglevel", "info"])
            // The decoder itself refuses pictures past the pixel limit (an input option).
            .args(["-max_pixels", &self.max_pixels.to_string()])
            .arg("-i")
            .arg(input)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn"])
            .args(["-vf", "showinfo", "-vsync", "passthrough"])
            .args([
                "-pix_fmt",
                "rgb24",
                "-c:v",
                "ppm",
                "-f",
                "image2pipe",
                "pipe:1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn read_all(
        &self,
        reader: &mut Frames,
        deadline: Instant,
        progress: &mut dyn Progress,
        sink: &mut dyn FnMut(VideoFrame) -> Result<(), VideoError>,
    ) -> Result<Counted, VideoError> {
        let mut counted = Counted::default();
        let mut first_pts = None;
        while let Some((width, height)) = reader.header()? {
            let pixels = u64::from(width) * u64::from(height);
            if pixels > self.max_pixels || width.max(height) > self.max_side {
                return Err(VideoError::TooLarge(format!(
                    "{width}x{height} frames exceed the limits ({} pixels, {} per side)",
                    self.max_pixels, self.max_side
                )));
            }
            if counted.count >= self.max_frames {
                return Err(VideoError::TooLarge(format!(
                    "more than {} frames",
                    self.max_frames
                )));
            }
            let mut rgb = vec![0u8; pixels as usize * 3];
            reader
                .pipe
                .read_exact(&mut rgb)
                .map_err(|err| VideoError::External(format!("frame cut short: {err}")))?;
            let image = RgbImage::from_raw(width, height, rgb)
                .ok_or_else(|| VideoError::External("bad picture size".into()))?;
            let pts = reader.pts(deadline)?;
            let start = *first_pts.get_or_insert(pts.unwrap_or(0.0));
            // A frame without a time of its own follows the one before it.
            let timestamp = pts.map_or(counted.last_timestamp, |t| (t - start).max(0.0));
            let number = counted.count;
            counted.count += 1;
            counted.last_timestamp = timestamp;
            sink(VideoFrame {
                number,
                timestamp,
                image,
            })?;
            let fraction = match reader.duration {
                Some(d) if d > 0.0 => (timestamp / d).clamp(0.0, 1.0),
                _ => 0.0,
            };
            if !progress.report("decode", fraction) {
                return Err(VideoError::Canceled);
            }
        }
        Ok(counted)
    }
}

/// Frames read so far.
#[derive(Debug, Default)]
struct Counted {
    count: usize,
    last_timestamp: f64,
}

/// The picture pipe and the notes from the log.
struct Frames {
    pipe: BufReader<std::process::ChildStdout>,
    notes: mpsc::Receiver<Note>,
    duration: Option<f64>,
}

impl Frames {
    /// The next PPM header's size, or `None` at the end of the stream.
    fn header(&mut self) -> Result<Option<(u32, u32)>, VideoError> {
        let bad = |what: &str| VideoError::External(format!("bad picture header: {what}"));
        if self
            .pipe
            .fill_buf()
            .map_err(|e| bad(&e.to_string()))?
            .is_empty()
        {
            return Ok(None);
        }
        let mut fields = [0u32; 3];
        let mut magic = [0u8; 2];
        self.pipe
            .read_exact(&mut magic)
            .map_err(|e| bad(&e.to_string()))?;
        if &magic != b"P6" {
            return Err(bad("not P6"));
        }
        for field in &mut fields {
            *field = self.number().ok_or_else(|| bad("no number"))?;
        }
        let [width, height, maxval] = fields;
        if maxval != 255 || width == 0 || height == 0 {
            return Err(bad(&format!("{width}x{height}, maxval {maxval}")));
        }
        Ok(Some((width, height)))
    }

    /// A decimal number after whitespace, and the one whitespace byte that ends it.
    fn number(&mut self) -> Option<u32> {
        let mut byte = [0u8; 1];
        let mut value: Option<u32> = None;
        loop {
            self.pipe.read_exact(&mut byte).ok()?;
            match byte[0] {
                b'0'..=b'9' => {
                    let digit = u32::from(byte[0] - b'0');
                    value = Some(value.unwrap_or(0).checked_mul(10)?.checked_add(digit)?);
                }
                b' ' | b'\n' | b'\r' | b'\t' if value.is_none() => {}
                b' ' | b'\n' | b'\r' | b'\t' => return value,
                _ => return None,
            }
        }
    }

    /// The next frame's presentation time: `showinfo` logs it before the frame is written, so
    /// it is there (or on its way) once the frame has been read.
    fn pts(&mut self, deadline: Instant) -> Result<Option<f64>, VideoError> {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(wait.min(Duration::from_secs(10))) {
                Ok(Note::Duration(d)) => self.duration = Some(d),
                Ok(Note::Pts(pts)) => return Ok(pts),
                // The log ended (or stalled) without this frame's line: its time is unknown.
                Err(_) => return Ok(None),
            }
        }
    }
}

/// Reads ffmpeg's log: durations and frame times become notes, the other lines' last few are
/// kept for an error message.
fn read_log(stderr: std::process::ChildStderr, notes: &mpsc::Sender<Note>) -> Vec<String> {
    let mut tail = std::collections::VecDeque::with_capacity(LOG_TAIL);
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains("Parsed_showinfo") {
            if let Some(pts) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("pts_time:"))
            {
                let _ = notes.send(Note::Pts(pts.parse().ok()));
            }
            continue;
        }
        if let Some(duration) = parse_duration(&line) {
            let _ = notes.send(Note::Duration(duration));
        }
        if tail.len() == LOG_TAIL {
            tail.pop_front();
        }
        tail.push_back(line.trim().to_owned());
    }
    tail.into_iter().collect()
}

/// The seconds of a `  Duration: 00:01:02.50, start: …` line.
fn parse_duration(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix("Duration: ")?;
    let stamp = rest.split(',').next()?;
    let mut seconds = 0.0;
    for part in stamp.split(':') {
        seconds = seconds * 60.0 + part.trim().parse::<f64>().ok()?;
    }
    Some(seconds)
}

/// Starts a thread that kills the child when `timeout` passes before the returned sender is
/// dropped.
fn watchdog(
    child: Arc<Mutex<Child>>,
    timeout: Duration,
    timed_out: Arc<AtomicBool>,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (done, finished) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(timeout) {
            timed_out.store(true, Ordering::SeqCst);
            kill(&child);
        }
    });
    (done, handle)
}

fn kill(child: &Mutex<Child>) {
    if let Ok(mut child) = child.lock() {
        let _ = child.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_line_is_read_in_seconds() {
        assert_eq!(
            parse_duration("  Duration: 00:01:02.50, start: 0.000000, bitrate: 5 kb/s"),
            Some(62.5)
        );
        assert_eq!(parse_duration("  Duration: N/A, bitrate: N/A"), None);
        assert_eq!(parse_duration("Stream #0:0: Video: h264"), None);
    }

    /// A stand-in for ffmpeg: a shell script with `body`, in a folder kept alive by the caller.
    #[cfg(unix)]
    fn fake_ffmpeg(body: &str) -> (tempfile::TempDir, FfmpegDecoder) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let binary = dir.path().join("ffmpeg");
        std::fs::write(&binary, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let decoder = FfmpegDecoder {
            binary,
            timeout: Duration::from_secs(20),
            max_pixels: 1 << 20,
            max_side: 4096,
            max_frames: 1000,
        };
        (dir, decoder)
    }

    /// Endless 2×1 frames, each logged by "showinfo" with its time (n seconds).
    #[cfg(unix)]
    const ENDLESS: &str = "n=0\nwhile true; do\n  \
        echo \"[Parsed_showinfo_0 @ 0x1] n: $n pts: $n pts_time:$n\" >&2\n  \
        printf 'P6\\n2 1\\n255\\n\\001\\002\\003\\004\\005\\006'\n  \
        n=$((n+1))\ndone";

    #[cfg(unix)]
    #[test]
    fn a_cancel_stops_the_decode_and_the_process_with_frames_and_times_kept() {
        let (_dir, decoder) = fake_ffmpeg(ENDLESS);
        let started = Instant::now();
        let mut frames = Vec::new();
        let mut calls = 0;
        let mut cancel_at_three = |_: &str, _: f64| {
            calls += 1;
            calls < 3
        };
        let err = decoder
            .for_each_frame(Path::new("in.webm"), &mut cancel_at_three, |f| {
                frames.push((f.number, f.timestamp, f.image.into_raw()));
                Ok(())
            })
            .expect_err("canceled");
        assert!(matches!(err, VideoError::Canceled), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "killed at once"
        );
        assert_eq!(frames.len(), 3);
        assert_eq!(
            (frames[2].0, frames[2].1),
            (2, 2.0),
            "numbers and times kept"
        );
        assert_eq!(frames[0].2, [1, 2, 3, 4, 5, 6]);
    }

    #[cfg(unix)]
    #[test]
    fn the_time_limit_kills_a_stalled_decoder_and_the_frame_cap_an_endless_one() {
        let (_dir, mut decoder) = fake_ffmpeg("exec sleep 30");
        decoder.timeout = Duration::from_millis(500);
        let started = Instant::now();
        let err = decoder
            .for_each_frame(Path::new("in.mkv"), &mut crate::no_progress(), |_| Ok(()))
            .expect_err("timed out");
        assert!(matches!(err, VideoError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));

        let (_dir, mut decoder) = fake_ffmpeg(ENDLESS);
        decoder.max_frames = 5;
        let err = decoder
            .for_each_frame(Path::new("in.mkv"), &mut crate::no_progress(), |_| Ok(()))
            .expect_err("too many");
        assert!(
            matches!(&err, VideoError::TooLarge(m) if m.contains("5 frames")),
            "{err}"
        );

        let (_dir, decoder) = fake_ffmpeg("printf 'P6\\n5000 5000\\n255\\n'; exec sleep 30");
        let err = decoder
            .for_each_frame(Path::new("in.mkv"), &mut crate::no_progress(), |_| Ok(()))
            .expect_err("too large");
        assert!(
            matches!(&err, VideoError::TooLarge(m) if m.contains("5000x5000")),
            "{err}"
        );
    }

    #[test]
    fn a_missing_binary_is_an_external_error_naming_it() {
        let decoder = FfmpegDecoder {
            binary: PathBuf::from("/nonexistent/ffmpeg"),
            timeout: Duration::from_secs(5),
            max_pixels: 1 << 20,
            max_side: 4096,
            max_frames: 10,
        };
        let err = decoder
            .for_each_frame(
                Path::new("/dev/null"),
                &mut crate::no_progress(),
                |_| Ok(()),
            )
            .expect_err("no ffmpeg");
        assert!(
            matches!(&err, VideoError::External(m) if m.contains("/nonexistent/ffmpeg")),
            "{err}"
        );
    }
}
