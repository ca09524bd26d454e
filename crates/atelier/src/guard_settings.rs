//! The abuse-guard settings: throttling of guesses (`[rate_limits]`), housekeeping
//! (`[maintenance]`), ink and render limits of drawings (`[drawings]`), the cost of animations
//! (`[animate]`), SQLite durability
//! (`sqlite_synchronous`) and the URL-signing keys (environment only: a secret
//! belongs in neither a flag nor a file). Flags and `ATELIER_*` variables first, then the
//! settings file, then the defaults of `atelier_platform`.

use std::time::Duration;

use atelier_platform::{PlatformConfig, db::SqliteSynchronous, signing::SigningKey};
use clap::Args;

use crate::file_settings::FileSettings;

/// Flags of the abuse guards, shared by every command that opens the platform.
#[derive(Debug, Args, Default)]
pub struct GuardArgs {
    /// Failed logins per account before each further one is delayed (doubling from 2 s to
    /// 15 min; the count is forgotten 15 min after the last failure) [default: 5].
    #[arg(long, env = "ATELIER_LOGIN_FAILURES_PER_ACCOUNT", value_name = "N")]
    pub login_failures_per_account: Option<u32>,

    /// Failed logins per client address before each further one is delayed [default: 20].
    #[arg(long, env = "ATELIER_LOGIN_FAILURES_PER_IP", value_name = "N")]
    pub login_failures_per_ip: Option<u32>,

    /// Registrations per client address within an hour before each further one is delayed
    /// (doubling from 60 s to 1 h) [default: 20].
    #[arg(long, env = "ATELIER_REGISTRATIONS_PER_IP", value_name = "N")]
    pub registrations_per_ip: Option<u32>,

    /// Wrong family or drawing invitation codes per account before each further try is
    /// delayed (doubling from 2 s to 15 min) [default: 10].
    #[arg(long, env = "ATELIER_JOIN_FAILURES_PER_ACCOUNT", value_name = "N")]
    pub join_failures_per_account: Option<u32>,

    /// Wrong invitation codes per client address before each further try is delayed
    /// [default: 30].
    #[arg(long, env = "ATELIER_JOIN_FAILURES_PER_IP", value_name = "N")]
    pub join_failures_per_ip: Option<u32>,

    /// Seconds between housekeeping passes (blob collector, session purge) [default: 600].
    #[arg(long, env = "ATELIER_MAINTENANCE_INTERVAL_SECS", value_name = "SECS")]
    pub maintenance_interval_secs: Option<u64>,

    /// Age in seconds after which the blob collector deletes an object no upload points to
    /// [default: 3600].
    #[arg(long, env = "ATELIER_BLOB_GRACE_SECS", value_name = "SECS")]
    pub blob_grace_secs: Option<u64>,

    /// SQLite's `synchronous` setting: `full` (every commit survives a power cut) or `normal`
    /// (faster; the last commits may be lost) [default: full].
    #[arg(long, env = "ATELIER_SQLITE_SYNCHRONOUS", value_name = "full|normal")]
    pub sqlite_synchronous: Option<SqliteSynchronous>,

    /// Most ink in one stroke (summed segment length plus one width, times the width, in
    /// square canvas pixels) [default: 4000000].
    #[arg(long, env = "ATELIER_MAX_INK_PER_STROKE", value_name = "PX2")]
    pub max_ink_per_stroke: Option<f64>,

    /// Most ink in one drawing, undone strokes included [default: 64000000].
    #[arg(long, env = "ATELIER_MAX_INK_PER_DRAWING", value_name = "PX2")]
    pub max_ink_per_drawing: Option<i64>,

    /// Drawings rendered at once (submits without a client image) [default: 2].
    #[arg(long, env = "ATELIER_MAX_CONCURRENT_RENDERS", value_name = "N")]
    pub max_concurrent_renders: Option<usize>,

    /// Seconds a submit waits for a render slot before answering 503 [default: 10].
    #[arg(long, env = "ATELIER_RENDER_WAIT_SECS", value_name = "SECS")]
    pub render_wait_secs: Option<u64>,

    /// Most pixels over all frames of one animation (frames × size²), checked when the
    /// `animate` job is created [default: 100000000].
    #[arg(long, env = "ATELIER_MAX_ANIMATION_PIXELS", value_name = "PIXELS")]
    pub max_animation_pixels: Option<u64>,

    /// Most pixels in an animation's sprite sheet [default: 67108864].
    #[arg(long, env = "ATELIER_MAX_SPRITE_SHEET_PIXELS", value_name = "PIXELS")]
    pub max_sprite_sheet_pixels: Option<u64>,

    /// Download-link signing keys `id:secret[,id:secret…]`: the first signs, the others still
    /// verify the links they signed (rotation). Environment only [default: one key generated
    /// and kept in the database].
    #[arg(
        long = "url-signing-keys",
        env = "ATELIER_URL_SIGNING_KEYS",
        value_name = "KEYS",
        hide_env_values = true,
        hide = true
    )]
    pub url_signing_keys: Option<String>,
}

/// Applies the guard settings (flags and environment in `args`, then the file) to `config`.
pub fn apply(
    args: &GuardArgs,
    file: &FileSettings,
    config: &mut PlatformConfig,
) -> anyhow::Result<()> {
    let (limits, maintenance) = (&file.rate_limits, &file.maintenance);
    let throttle = &mut config.throttle;
    let rules = [
        (
            args.login_failures_per_account
                .or(limits.login_failures_per_account),
            &mut throttle.login_per_account,
        ),
        (
            args.login_failures_per_ip.or(limits.login_failures_per_ip),
            &mut throttle.login_per_ip,
        ),
        (
            args.registrations_per_ip.or(limits.registrations_per_ip),
            &mut throttle.register_per_ip,
        ),
        (
            args.join_failures_per_account
                .or(limits.join_failures_per_account),
            &mut throttle.join_per_account,
        ),
        (
            args.join_failures_per_ip.or(limits.join_failures_per_ip),
            &mut throttle.join_per_ip,
        ),
    ];
    for (free, rule) in rules {
        if let Some(free) = free {
            rule.free = free;
        }
    }
    if let Some(secs) = args.maintenance_interval_secs.or(maintenance.interval_secs) {
        anyhow::ensure!(secs >= 1, "the maintenance interval must be at least 1 s");
        config.maintenance.interval = Duration::from_secs(secs);
    }
    if let Some(secs) = args.blob_grace_secs.or(maintenance.blob_grace_secs) {
        anyhow::ensure!(
            secs >= 60,
            "the blob grace period must be at least 60 s (longer than any upload takes)"
        );
        config.maintenance.blob_grace = Duration::from_secs(secs);
    }
    if let Some(mode) = args.sqlite_synchronous.or(file.sqlite_synchronous) {
        config.sqlite_synchronous = mode;
    }
    let drawings = &file.drawings;
    let strokes = &mut config.strokes;
    if let Some(ink) = args.max_ink_per_stroke.or(drawings.max_ink_per_stroke) {
        anyhow::ensure!(
            ink.is_finite() && ink > 0.0,
            "the ink per stroke must be positive"
        );
        strokes.max_ink_per_stroke = ink;
    }
    if let Some(ink) = args.max_ink_per_drawing.or(drawings.max_ink_per_drawing) {
        anyhow::ensure!(ink > 0, "the ink per drawing must be positive");
        strokes.max_ink_per_drawing = ink;
    }
    if let Some(n) = args
        .max_concurrent_renders
        .or(drawings.max_concurrent_renders)
    {
        anyhow::ensure!(n >= 1, "at least one render must be allowed at a time");
        strokes.max_concurrent_renders = n;
    }
    if let Some(secs) = args.render_wait_secs.or(drawings.render_wait_secs) {
        strokes.render_wait = Duration::from_secs(secs);
    }
    if let Some(pixels) = args.max_animation_pixels.or(file.animate.max_frame_pixels) {
        config.animate.max_frame_pixels = pixels;
    }
    if let Some(pixels) = args
        .max_sprite_sheet_pixels
        .or(file.animate.max_sheet_pixels)
    {
        config.animate.max_sheet_pixels = pixels;
    }
    if let Some(spec) = &args.url_signing_keys {
        config.url_signing_keys = SigningKey::parse_list(spec)?;
    }
    Ok(())
}
