//! The flags of `atelier studio …`: a client of a running server's detector studio API (kept out
//! of `cli.rs`, which holds the flags of the commands that run atelier itself).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Flags of `atelier studio`.
#[derive(Debug, Args)]
pub struct StudioArgs {
    /// Which server, and who you are there.
    #[command(flatten)]
    pub server: ServerArgs,

    /// What to do.
    #[command(subcommand)]
    pub action: StudioAction,
}

/// The server the studio commands talk to, and how they sign in: a session token, or a user
/// whose password comes from `ATELIER_PASSWORD` or `--password-stdin`.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// The atelier server's address [default: http://127.0.0.1:8080].
    #[arg(long, global = true, env = "ATELIER_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// A session token (`atelier studio login` prints one), sent as `Authorization: Bearer`.
    #[arg(
        long,
        global = true,
        env = "ATELIER_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Sign in as this user instead of using a token (password from `ATELIER_PASSWORD`, or
    /// the first line of standard input with --password-stdin).
    #[arg(long, global = true, env = "ATELIER_USER", value_name = "NAME")]
    pub user: Option<String>,

    /// Read the password for --user from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
}

/// An annotation format, as CVAT names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnnotationFormat {
    /// CVAT for video 1.1 (tracks with key frames).
    #[value(alias = "cvat_video")]
    CvatVideo,
    /// CVAT for images 1.1.
    #[value(alias = "cvat_images")]
    CvatImages,
    /// COCO 1.0 (instances JSON).
    Coco,
    /// YOLO 1.1 (a zip).
    Yolo,
    /// Pascal VOC (a zip).
    Voc,
}

impl AnnotationFormat {
    /// The name the API takes in `?format=`.
    pub fn api_name(self) -> &'static str {
        match self {
            Self::CvatVideo => "cvat_video",
            Self::CvatImages => "cvat_images",
            Self::Coco => "coco",
            Self::Yolo => "yolo",
            Self::Voc => "voc",
        }
    }
}

/// `atelier studio` actions.
#[derive(Debug, Subcommand)]
pub enum StudioAction {
    /// Sign in with --user and print a session token (for `ATELIER_TOKEN`).
    Login,
    /// List your projects and your family's shared ones, one JSON line each.
    Projects,
    /// Create a project with its labels; prints it as JSON.
    Create(CreateArgs),
    /// Import media (MP4 videos, images) into a project, or annotations into one media.
    Import(ImportArgs),
    /// Export the annotations of a project (a folder per media) or of one media, as a zip.
    Export(ExportArgs),
    /// Train a detector on a project's annotations, showing each epoch; prints the detector.
    Train(TrainArgs),
    /// List the detectors of a project, one JSON line each.
    Detectors(DetectorsArgs),
    /// Download a detector as a zip (one ONNX model, labels, metrics, README).
    Download(DownloadArgs),
    /// Train an LBP cascade (OpenCV cascade XML) for one label of a project, here, on its
    /// annotated frames fetched from the server.
    TrainCascade(Box<CascadeArgs>),
}

/// Flags of `atelier studio create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The project's name.
    pub name: String,

    /// Its labels, comma-separated (e.g. `--labels car,person`).
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub labels: Vec<String>,

    /// Share it with your family.
    #[arg(long)]
    pub shared: bool,
}

/// Flags of `atelier studio import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The project's id.
    pub project: i64,

    /// Media files to upload and import (MP4 videos, images), each waited for.
    #[arg(
        required_unless_present = "annotations",
        conflicts_with = "annotations"
    )]
    pub files: Vec<PathBuf>,

    /// Import this annotation file into --media instead (it replaces the media's annotations,
    /// in one batch that undo reverts).
    #[arg(long, value_name = "FILE", requires_all = ["media", "format"])]
    pub annotations: Option<PathBuf>,

    /// With --annotations: the media (of PROJECT) the annotations are for.
    #[arg(long, value_name = "MID", requires = "annotations")]
    pub media: Option<i64>,

    /// With --annotations: the file's format.
    #[arg(long, value_enum, requires = "annotations")]
    pub format: Option<AnnotationFormat>,

    /// Return once queued: print each media without waiting for its import.
    #[arg(long)]
    pub no_wait: bool,
}

/// Flags of `atelier studio export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The project's id (or give --media).
    #[arg(required_unless_present = "media", conflicts_with = "media")]
    pub project: Option<i64>,

    /// Export this one media instead of a project: its files at the zip's root, as CVAT
    /// exports a task.
    #[arg(long, value_name = "MID")]
    pub media: Option<i64>,

    /// The format.
    #[arg(long, value_enum)]
    pub format: AnnotationFormat,

    /// The zip to write.
    #[arg(short, long, value_name = "FILE.zip")]
    pub output: PathBuf,
}

/// Flags of `atelier studio train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The project's id.
    pub project: i64,

    /// Most epochs, 1–200 [server default: 40].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Wall-clock budget of the epochs in seconds, 1–3600 [server default: 240].
    #[arg(long, value_name = "SECS")]
    pub budget: Option<u64>,

    /// Return once queued: print the job without waiting for the detector.
    #[arg(long)]
    pub no_wait: bool,
}

/// Flags of `atelier studio detectors`.
#[derive(Debug, Args)]
pub struct DetectorsArgs {
    /// The project's id.
    pub project: i64,
}

/// Flags of `atelier studio download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The detector's id.
    pub detector: i64,

    /// The zip to write.
    #[arg(short, long, value_name = "FILE.zip")]
    pub output: PathBuf,
}

/// Flags of `atelier studio train-cascade`.
#[derive(Debug, Args)]
pub struct CascadeArgs {
    /// The project's id.
    pub project: i64,

    /// Most frames fetched and trained on: the annotated frames of every ready media, taken
    /// evenly when there are more.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub max_frames: usize,

    /// What to train and where to write it.
    #[command(flatten)]
    pub training: crate::cascade_args::CascadeTrainingArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn studio(args: &[&str]) -> Result<StudioArgs, clap::Error> {
        let cli = Cli::try_parse_from(["atelier", "studio"].iter().chain(args))?;
        match cli.command {
            Command::Studio(args) => Ok(args),
            other => panic!("not studio: {other:?}"),
        }
    }

    #[test]
    fn an_annotation_import_names_its_media_and_format_in_either_spelling() {
        for spelling in ["cvat-video", "cvat_video"] {
            let args = studio(&[
                "import",
                "3",
                "--annotations",
                "a.xml",
                "--media",
                "7",
                "--format",
                spelling,
                "--server",
                "http://h:1",
            ])
            .expect("parse");
            assert_eq!(args.server.server.as_deref(), Some("http://h:1"));
            let StudioAction::Import(import) = args.action else {
                panic!("not import")
            };
            assert_eq!(import.media, Some(7));
            assert_eq!(import.format, Some(AnnotationFormat::CvatVideo));
            assert_eq!(AnnotationFormat::CvatVideo.api_name(), "cvat_video");
        }
    }

    #[test]
    fn an_import_needs_files_or_a_whole_annotation_import() {
        assert!(studio(&["import", "3"]).is_err());
        assert!(studio(&["import", "3", "--annotations", "a.xml"]).is_err());
        assert!(studio(&["import", "3", "clip.mp4", "--annotations", "a.xml"]).is_err());
        assert!(studio(&["import", "3", "clip.mp4", "still.png"]).is_ok());
    }

    #[test]
    fn an_export_is_of_a_project_or_of_one_media() {
        assert!(studio(&["export", "--format", "coco", "-o", "x.zip"]).is_err());
        assert!(
            studio(&[
                "export", "3", "--media", "7", "--format", "coco", "-o", "x.zip"
            ])
            .is_err()
        );
        assert!(studio(&["export", "--media", "7", "--format", "yolo", "-o", "x.zip"]).is_ok());
        assert!(studio(&["export", "3", "--format", "voc", "-o", "x.zip"]).is_ok());
    }
}
