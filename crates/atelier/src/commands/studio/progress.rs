//! Progress on standard error: a bar when it is a terminal, otherwise plain lines (one per
//! stage, and one every tenth of the way), so logs of scripted runs stay readable.

use std::{
    io::IsTerminal,
    sync::{Arc, Mutex},
};

use indicatif::{ProgressBar, ProgressStyle};

/// What a plain-lines reporter last printed: (stage, tenth of the way).
type Printed = Option<(String, u64)>;

/// One task's progress (an upload in bytes, a job in percent). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Progress(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    what: String,
    /// Plain lines are printed only for a whole of at least this much (a small file's
    /// transfer is over before anyone reads them).
    plain_from: u64,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

#[derive(Debug, Default)]
struct Plain {
    length: u64,
    position: u64,
    stage: String,
    printed: Printed,
}

impl Progress {
    /// A job's progress in percent, named `what` (e.g. `import clip.mp4`).
    pub fn percent(what: &str) -> Self {
        let progress = Self::new(what, "{prefix} [{bar:30}] {pos:>3}% {msg} ({elapsed})", 0);
        progress.set_length(100);
        progress
    }

    /// A transfer's progress in bytes, named `what` (as plain lines only from 1 MiB).
    pub fn bytes(what: &str) -> Self {
        Self::new(
            what,
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
            1 << 20,
        )
    }

    fn new(what: &str, template: &str, plain_from: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(what.to_owned());
            bar
        });
        Self(Arc::new(Inner {
            what: what.to_owned(),
            plain_from,
            bar,
            plain: Mutex::new(Plain::default()),
        }))
    }

    /// Sets the whole (bytes or 100).
    pub fn set_length(&self, length: u64) {
        if let Some(bar) = &self.0.bar {
            bar.set_length(length);
        }
        if let Ok(mut plain) = self.0.plain.lock() {
            plain.length = length;
        }
    }

    /// Adds `n` to the position.
    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.0.bar {
            bar.inc(n);
            return;
        }
        let update = self.0.plain.lock().ok().map(|mut plain| {
            plain.position += n;
            (plain.position, plain.stage.clone())
        });
        if let Some((position, stage)) = update {
            self.plain_line(position, &stage);
        }
    }

    /// Sets the position and the stage shown beside it.
    pub fn set(&self, position: u64, stage: &str) {
        if let Some(bar) = &self.0.bar {
            bar.set_position(position);
            bar.set_message(stage.to_owned());
            return;
        }
        if let Ok(mut plain) = self.0.plain.lock() {
            plain.position = position;
            plain.stage = stage.to_owned();
        }
        self.plain_line(position, stage);
    }

    /// Prints a line above the bar (or as a plain line).
    pub fn line(&self, text: &str) {
        match &self.0.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Ends the bar with `message` left on screen (or printed as a plain line).
    pub fn finish(&self, message: &str) {
        match &self.0.bar {
            Some(bar) => bar.finish_with_message(message.to_owned()),
            None => eprintln!("{}: {message}", self.0.what),
        }
    }

    /// Removes the bar without a trace (plain lines: nothing).
    pub fn clear(&self) {
        if let Some(bar) = &self.0.bar {
            bar.finish_and_clear();
        }
    }

    /// Prints a plain line when the stage changed or another tenth of the way is done.
    fn plain_line(&self, position: u64, stage: &str) {
        let Ok(mut plain) = self.0.plain.lock() else {
            return;
        };
        if plain.length < self.0.plain_from {
            return;
        }
        let tenth = (position * 10).checked_div(plain.length).unwrap_or(0);
        let now = (stage.to_owned(), tenth);
        if plain.printed.as_ref() == Some(&now) {
            return;
        }
        let percent = (position * 100).checked_div(plain.length).unwrap_or(0);
        let stage_part = if stage.is_empty() {
            String::new()
        } else {
            format!(" {stage}")
        };
        eprintln!("{}: {percent}%{stage_part}", self.0.what);
        plain.printed = Some(now);
    }
}
