//! Structured logs with `tracing`: human text or JSON lines.

use tracing_subscriber::{EnvFilter, fmt};

use crate::{cli::LogFormat, settings::LogSettings};

/// Installs the global subscriber.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(err) = result {
        eprintln!("atelier: logging not initialised: {err}");
    }
}
