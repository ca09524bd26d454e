//! Settings, resolved once at start-up in layers: flags, then `ATELIER_*` environment variables
//! (clap reads both, flags first), then the optional TOML file, then defaults.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use atelier_infer::RuntimePreference;
use atelier_platform::models::ModelsConfig;
use atelier_platform::{PlatformConfig, storage::StorageLocation};
use atelier_server::{ServerConfig, realtime::RealtimeConfig};

use crate::cli::{Cli, Command, ModelArgs, RealtimeArgs, StoreArgs};
use crate::file_settings::{FileModels, FileRealtime, FileSettings};
use crate::logging::{LogFormat, LogSettings};

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Logging.
    pub log: LogSettings,
    /// The platform.
    pub platform: PlatformConfig,
    /// The HTTP server (for `serve`; `workers` also sizes `atelier worker`).
    pub server: ServerConfig,
}

impl Settings {
    /// Resolves the settings for `cli`'s command.
    pub fn load(cli: &Cli) -> anyhow::Result<Self> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the settings file {}", path.display()))?;
                toml::from_str::<FileSettings>(&text)
                    .with_context(|| format!("bad settings file {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let log = LogSettings {
            format: cli
                .log_format
                .or(file.log.format)
                .unwrap_or(LogFormat::Text),
            filter: cli
                .log
                .clone()
                .or(file.log.filter.clone())
                .unwrap_or_else(|| "info,sqlx=warn,tower_http=info".to_owned()),
        };
        let no_store = StoreArgs::default();
        let no_models = ModelArgs::default();
        let (store, workers, bind, secure, model_args) = match &cli.command {
            Command::Serve(args) => (
                &args.store,
                args.workers,
                args.bind,
                args.secure_cookies,
                &args.models,
            ),
            Command::Worker(args) => (&args.store, args.workers, None, None, &args.models),
            Command::Migrate(args) => (args.as_ref(), None, None, None, &no_models),
            Command::Backup(args) => (&args.store, None, None, None, &no_models),
            Command::Restore(args) => (&args.store, None, None, None, &no_models),
            Command::Classify(args) => (&no_store, None, None, None, &args.models),
            Command::Models(args) => (&no_store, None, None, None, &args.models),
            Command::Detect(args) => (&no_store, None, None, None, &args.models),
            Command::Animate(_) => (&no_store, None, None, None, &no_models),
            Command::TrainCascade(_) => (&no_store, None, None, None, &no_models),
            Command::Photo3d(args) => (&no_store, None, None, None, &args.models),
            Command::Studio(_) => (&no_store, None, None, None, &no_models),
        };
        let mut platform = platform_config(store, &file)?;
        platform.oidc = crate::oidc_settings::resolve(&file.oidc, |name| std::env::var(name).ok())?;
        match &cli.command {
            Command::Classify(args) if args.data_dir.is_some() => {
                platform.data_dir = args.data_dir.clone().unwrap_or_default();
            }
            Command::Models(args) if args.data_dir.is_some() => {
                platform.data_dir = args.data_dir.clone().unwrap_or_default();
            }
            _ => {}
        }
        platform.models = models_config(model_args, &file.models, &platform.data_dir)?;
        let no_limits = crate::limit_settings::LimitArgs::default();
        let limit_args = match &cli.command {
            Command::Serve(args) => &args.limits,
            _ => &no_limits,
        };
        let defaults = ServerConfig::default();
        let server = ServerConfig {
            bind: bind.or(file.server.bind).unwrap_or(defaults.bind),
            workers: workers.or(file.server.workers).unwrap_or(defaults.workers),
            secure_cookies: secure
                .or(file.server.secure_cookies)
                .unwrap_or(defaults.secure_cookies),
            trust_forwarded_for: match &cli.command {
                Command::Serve(args) => args.trust_forwarded_for,
                _ => None,
            }
            .or(file.server.trust_forwarded_for)
            .unwrap_or(defaults.trust_forwarded_for),
            shutdown_grace: match &cli.command {
                Command::Serve(args) => args.shutdown_grace_secs,
                Command::Worker(args) => args.shutdown_grace_secs,
                _ => None,
            }
            .or(file.server.shutdown_grace_secs)
            .map_or(defaults.shutdown_grace, Duration::from_secs),
            realtime: match &cli.command {
                Command::Serve(args) => realtime_config(&args.realtime, &file.realtime)?,
                _ => realtime_config(&RealtimeArgs::default(), &file.realtime)?,
            },
            requests: crate::limit_settings::requests(limit_args, &file.server)?,
            detect: crate::limit_settings::detect(limit_args, &file.detect)?,
        };
        Ok(Settings {
            log,
            platform,
            server,
        })
    }
}

fn realtime_config(args: &RealtimeArgs, file: &FileRealtime) -> anyhow::Result<RealtimeConfig> {
    let mut config = RealtimeConfig::default();
    if let Some(id) = args.pusher_app_id.clone().or(file.app_id.clone()) {
        config.app_id = id;
    }
    if let Some(key) = args.pusher_key.clone().or(file.key.clone()) {
        anyhow::ensure!(!key.is_empty(), "the Pusher key must not be empty");
        config.key = key;
    }
    if let Some(secret) = args.pusher_secret.clone().or(file.secret.clone()) {
        anyhow::ensure!(
            secret.len() >= 8,
            "the Pusher secret must be at least 8 characters"
        );
        config.secret = Some(secret);
    }
    if let Some(rate) = args
        .pusher_client_events_per_sec
        .or(file.client_events_per_sec)
    {
        config.client_events_per_sec = rate;
    }
    if let Some(secs) = file.activity_timeout_secs {
        anyhow::ensure!(secs >= 1, "the activity timeout must be at least 1 s");
        config.activity_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = args
        .presence_node_timeout_secs
        .or(file.presence_node_timeout_secs)
    {
        anyhow::ensure!(secs >= 1, "the presence node timeout must be at least 1 s");
        config.presence_node_timeout = Duration::from_secs(secs);
    }
    if let Some(ms) = args
        .channel_counts_interval_ms
        .or(file.channel_counts_interval_ms)
    {
        anyhow::ensure!(
            (10..=60_000).contains(&ms),
            "the channel counts interval must be 10 to 60000 ms"
        );
        config.channel_counts_interval = Duration::from_millis(ms);
    }
    if let Some(bytes) = file.max_message_bytes {
        anyhow::ensure!(
            bytes >= 1024,
            "the message limit must be at least 1024 bytes"
        );
        config.max_message_bytes = bytes;
    }
    Ok(config)
}

fn models_config(
    args: &ModelArgs,
    file: &FileModels,
    data_dir: &std::path::Path,
) -> anyhow::Result<ModelsConfig> {
    let mut config = ModelsConfig::under(data_dir);
    if let Some(dir) = args.models_dir.clone().or(file.dir.clone()) {
        config.cache_dir = dir;
    }
    if let Some(runtime) = args.runtime.clone().or(file.runtime.clone()) {
        config.runtime = match runtime.as_str() {
            "auto" => RuntimePreference::Auto,
            "onnx-runtime" | "onnxruntime" | "ort" => RuntimePreference::OnnxRuntime,
            "rten" => RuntimePreference::Rten,
            other => anyhow::bail!("unknown runtime {other:?}: use auto, onnx-runtime or rten"),
        };
    }
    if let Some(threads) = args.infer_threads.or(file.threads) {
        config.intra_threads = threads.max(1);
    }
    if let Some(lanes) = args.infer_lanes.or(file.lanes) {
        anyhow::ensure!((1..=64).contains(&lanes), "infer lanes must be 1–64");
        config.lanes = lanes;
    }
    if let Some(batch) = args.max_batch.or(file.max_batch) {
        anyhow::ensure!((1..=256).contains(&batch), "max batch must be 1–256");
        config.batching.max_batch = batch;
    }
    if let Some(ms) = args.max_batch_delay_ms.or(file.max_batch_delay_ms) {
        config.batching.max_delay = Duration::from_millis(ms);
    }
    if let Some(queue) = args.infer_queue.or(file.queue) {
        config.batching.queue_capacity = queue.max(1);
    }
    if let Some(name) = args
        .default_classifier
        .clone()
        .or(file.default_classifier.clone())
    {
        config.default_classifier = name;
    }
    if let Some(offline) = args.offline.or(file.offline) {
        config.allow_download = !offline;
    }
    config.cascades_dir = args.cascades_dir.clone().or(file.cascades_dir.clone());
    config.package_mirror = args
        .package_mirror
        .clone()
        .or(file.package_mirror.clone())
        .filter(|mirror| !mirror.is_empty());
    Ok(config)
}

fn platform_config(args: &StoreArgs, file: &FileSettings) -> anyhow::Result<PlatformConfig> {
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./data"));
    let mut config = PlatformConfig::embedded(&data_dir);
    if let Some(url) = args.database_url.clone().or(file.database_url.clone()) {
        config.database_url = url;
    }
    if let Some(ms) = args.db_acquire_timeout_ms.or(file.db_acquire_timeout_ms) {
        anyhow::ensure!(
            ms >= 100,
            "the database acquire timeout must be at least 100 ms"
        );
        config.db_acquire_timeout = Duration::from_millis(ms);
    }
    if let Some(spec) = args.storage.clone().or(file.storage.clone()) {
        config.storage = StorageLocation::parse(&spec)?;
    }
    let limits = &file.limits;
    if let Some(bytes) = args.max_upload_bytes.or(limits.max_upload_bytes) {
        config.uploads.max_bytes = bytes;
    }
    if let Some(pixels) = args.max_image_pixels.or(limits.max_image_pixels) {
        config.uploads.decode.max_pixels = pixels;
    }
    if let Some(side) = args.max_image_side.or(limits.max_image_side) {
        config.uploads.decode.max_side = side;
    }
    if let Some(n) = args
        .max_concurrent_decodes
        .or(limits.max_concurrent_decodes)
    {
        anyhow::ensure!(
            n >= 1,
            "at least one image decode must be allowed at a time"
        );
        config.uploads.max_concurrent_decodes = n;
    }
    if let Some(ms) = args.decode_wait_ms.or(limits.decode_wait_ms) {
        config.uploads.decode_wait = Duration::from_millis(ms);
    }
    if let Some(n) = args.cpu_slots.or(limits.cpu_slots) {
        anyhow::ensure!(n >= 1, "at least one CPU slot must be allowed");
        config.cpu.slots = n;
    }
    if let Some(n) = args.cpu_queue.or(limits.cpu_queue) {
        config.cpu.max_queued = n;
    }
    if let Some(ms) = args.cpu_wait_ms.or(limits.cpu_wait_ms) {
        config.cpu.wait = Duration::from_millis(ms);
    }
    let auth = &file.auth;
    if let Some(secs) = args.session_ttl_secs.or(auth.session_ttl_secs) {
        config.session_ttl = Duration::from_secs(secs);
    }
    if let Some(secs) = args.link_ttl_secs.or(auth.link_ttl_secs) {
        config.link_ttl = Duration::from_secs(secs);
    }
    if let Some(presign) = args.presign_s3.or(auth.presign_s3) {
        config.presign_s3_downloads = presign;
    }
    let jobs = &file.jobs;
    if let Some(n) = args.max_active_jobs.or(jobs.max_active_per_account) {
        config.jobs.max_active_per_account = n;
    }
    if let Some(n) = args.job_max_attempts.or(jobs.max_attempts) {
        anyhow::ensure!(n >= 1, "job max attempts must be at least 1");
        config.jobs.max_attempts = n;
    }
    if let Some(ms) = args.job_lease_ms.or(jobs.lease_ms) {
        anyhow::ensure!(ms >= 100, "the job lease must be at least 100 ms");
        config.jobs.lease = Duration::from_millis(ms);
    }
    if let Some(ms) = args.job_backoff_ms.or(jobs.backoff_ms) {
        config.jobs.backoff_base = Duration::from_millis(ms);
    }
    if let Some(ms) = args.job_poll_ms.or(jobs.poll_ms) {
        config.jobs.poll_interval = Duration::from_millis(ms.max(10));
    }
    if let Some(n) = args
        .max_active_photo3d
        .or(file.photo3d.max_active_per_account)
    {
        anyhow::ensure!(n >= 1, "the photo3d job cap must be at least 1");
        config.photo3d.max_active_per_account = n;
    }
    if let Some(ffmpeg) = args.ffmpeg.clone().or(file.studio.ffmpeg.clone()) {
        config.studio.ffmpeg = ffmpeg;
    }
    if let Some(secs) = args.ffmpeg_timeout_secs.or(file.studio.ffmpeg_timeout_secs) {
        anyhow::ensure!(secs >= 1, "the ffmpeg timeout must be at least 1 s");
        config.studio.ffmpeg_timeout = Duration::from_secs(secs);
    }
    if let Some(n) = args.max_video_frames.or(file.studio.max_video_frames) {
        anyhow::ensure!(n >= 1, "a studio video must be allowed at least one frame");
        config.studio.max_video_frames = n;
    }
    if let Some(ms) = args.job_stall_ms {
        config.jobs.stall_after_claim = Duration::from_millis(ms);
    }
    crate::guard_settings::apply(&args.guard, file, &mut config)?;
    Ok(config)
}

/// Settings loaded for a test from a settings file holding `toml` and the arguments `args`
/// after `atelier --config FILE`.
#[cfg(test)]
pub(crate) fn load_for_test(toml: &str, args: &[&str]) -> Settings {
    use clap::Parser;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("atelier.toml");
    std::fs::write(&path, toml).expect("write");
    let mut argv = vec!["atelier", "--config", path.to_str().expect("utf8")];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("parse");
    Settings::load(&cli).expect("load")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let settings = load_for_test(
            "data_dir = \"/srv/atelier\"\n[server]\nworkers = 5\nbind = \"0.0.0.0:9000\"\n[jobs]\nmax_active_per_account = 7\n[photo3d]\nmax_active_per_account = 1\n",
            &["serve", "--workers", "1"],
        );
        assert_eq!(settings.server.workers, 1, "flag wins");
        assert_eq!(
            settings.server.bind,
            "0.0.0.0:9000".parse().expect("addr"),
            "file beats default"
        );
        assert_eq!(settings.platform.jobs.max_active_per_account, 7);
        assert_eq!(settings.platform.photo3d.max_active_per_account, 1);
        assert_eq!(
            settings.platform.database_url,
            "sqlite:///srv/atelier/atelier.db"
        );
        assert_eq!(settings.platform.jobs.max_attempts, 3, "default");
    }

    #[test]
    fn the_channel_counts_interval_comes_from_the_flag_then_the_file_and_is_bounded() {
        let file = "[realtime]\nchannel_counts_interval_ms = 250\n";
        let interval = |args: &[&str]| {
            load_for_test(file, args)
                .server
                .realtime
                .channel_counts_interval
        };
        assert_eq!(interval(&["serve"]), Duration::from_millis(250), "file");
        assert_eq!(
            interval(&["serve", "--channel-counts-interval-ms", "40"]),
            Duration::from_millis(40),
            "flag wins"
        );
        let defaults = load_for_test("", &["serve"]);
        assert_eq!(
            defaults.server.realtime.channel_counts_interval,
            Duration::from_secs(1)
        );
        let cli = Cli::try_parse_from(["atelier", "serve", "--channel-counts-interval-ms", "5"])
            .expect("parse");
        assert!(Settings::load(&cli).is_err(), "below 10 ms is refused");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("atelier.toml");
        std::fs::write(&path, "[server]\nworkerz = 5\n").expect("write");
        let cli = Cli::try_parse_from([
            "atelier",
            "--config",
            path.to_str().expect("utf8"),
            "migrate",
        ])
        .expect("parse");
        assert!(Settings::load(&cli).is_err());
    }

    #[test]
    fn limits_come_from_flags_then_the_file_then_defaults() {
        let settings = load_for_test(
            "[server]\nmax_json_bytes = 2048\nrequest_timeout_secs = 30\n\
             [detect]\nmax_candidates = 500\nmax_cascade_stages = 10\n\
             [limits]\nmax_concurrent_decodes = 3\n",
            &["serve", "--max-detect-candidates", "700"],
        );
        let (requests, detect) = (settings.server.requests, settings.server.detect);
        assert_eq!(requests.max_json_bytes, 2048);
        assert_eq!(requests.request_timeout.as_secs(), 30);
        assert_eq!(requests.max_concurrent_requests, 512, "default");
        assert_eq!(detect.max_candidates, 700, "flag wins");
        assert_eq!(detect.cascade.max_stages, 10);
        assert_eq!(detect.cascade.max_trees, 10_000, "default");
        assert_eq!(settings.platform.uploads.max_concurrent_decodes, 3);
    }

    #[test]
    fn the_studio_section_sets_ffmpeg_and_its_limits() {
        let settings = load_for_test(
            "[studio]\nffmpeg = \"/opt/ffmpeg/bin/ffmpeg\"\nffmpeg_timeout_secs = 30\n",
            &["serve", "--max-video-frames", "500"],
        );
        let studio = &settings.platform.studio;
        assert_eq!(studio.ffmpeg, "/opt/ffmpeg/bin/ffmpeg");
        assert_eq!(studio.ffmpeg_timeout, Duration::from_secs(30));
        assert_eq!(studio.max_video_frames, 500);
        let defaults = load_for_test("", &["serve"]);
        assert_eq!(defaults.platform.studio.ffmpeg, "ffmpeg");
    }
}
