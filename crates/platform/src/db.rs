//! The database: one connection pool over SQLite (embedded) or PostgreSQL (scaled out), and the
//! migrations for each. Queries are written once with `$n` placeholders, which both drivers accept;
//! the few places where the dialects differ ask [`Db::backend`].

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{PlatformError, PlatformResult};

/// sqlx's error type, re-exported for callers that match on platform errors.
pub use sqlx::Error as SqlxError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Tells the backend from a database URL.
    pub fn of_url(url: &str) -> PlatformResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(PlatformError::Invalid(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            )))
        }
    }
}

impl Backend {
    /// An SQL expression for the database's current time in Unix milliseconds. Leases, grace
    /// periods and other times compared across processes are taken from the database, so nodes
    /// whose clocks disagree still agree on who holds what.
    pub fn now_ms_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

/// SQLite's `synchronous` setting (PostgreSQL syncs every commit on its own).
///
/// `Full` is the default: with the write-ahead log, `NORMAL` lets a commit that was
/// acknowledged be lost to a power cut, and an acknowledged upload, stroke or job must survive
/// one. `bench/realtime` (the strokes benchmark: every stroke one committed append) measured the
/// cost; see the README's settings table and `bench/realtime/README.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is synced to disk before it returns.
    #[default]
    Full,
    /// Commits are synced at checkpoints only: faster, and the last commits before a power
    /// cut may be lost (never corrupted).
    Normal,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

impl FromStr for SqliteSynchronous {
    type Err = PlatformError;
    fn from_str(text: &str) -> PlatformResult<Self> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteSynchronous::Full),
            "normal" => Ok(SqliteSynchronous::Normal),
            other => Err(PlatformError::Invalid(format!(
                "SQLite synchronous {other:?}: use full or normal"
            ))),
        }
    }
}

/// How long a query waits for a pooled connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the SQLite write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints SQLite's write-ahead log in the background. A checkpoint syncs the file to disk;
/// SQLite's automatic one (turned off on our connections) runs inside whichever commit crosses
/// the threshold, stalling that writer and every writer queued behind it. A `PASSIVE` checkpoint
/// here never waits for readers or writers. SQLite still checkpoints when the last connection
/// closes, so a short-lived process leaves no log behind.
fn spawn_checkpointer(pool: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                tracing::debug!(error = %err, "WAL checkpoint skipped");
            }
        }
    });
}

/// A connection pool and the dialect it speaks.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// The schema the pool's queries resolve to (`current_schema()` on PostgreSQL, `main` on
    /// SQLite): deployments sharing one PostgreSQL database keep apart by it.
    schema: String,
    /// SQLite takes one writer at a time; writers that queue here instead of inside SQLite never
    /// meet its busy handler, which sleeps in steps of up to 100 ms.
    write_turns: Arc<Mutex<()>>,
    /// How far this process's clock is set ahead of the real one (fault injection; 0).
    clock_skew_ms: i64,
}

impl Db {
    /// Connects to `url` (creating the SQLite file and its folder when needed) and runs
    /// migrations, with SQLite's default durability ([`SqliteSynchronous::Full`]).
    pub async fn connect(url: &str, max_connections: u32) -> PlatformResult<Self> {
        Self::connect_with(url, max_connections, SqliteSynchronous::default()).await
    }

    /// Like [`Db::connect`], with SQLite's `synchronous` set to `synchronous`.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        synchronous: SqliteSynchronous,
    ) -> PlatformResult<Self> {
        Self::connect_waiting(url, max_connections, synchronous, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Like [`Db::connect_with`], waiting at most `acquire_timeout` for a connection before a
    /// query fails with [`sqlx::Error::PoolTimedOut`] (while the database is down, requests then
    /// fail within that time with 503 `database-unavailable` instead of hanging).
    pub async fn connect_waiting(
        url: &str,
        max_connections: u32,
        synchronous: SqliteSynchronous,
        acquire_timeout: Duration,
    ) -> PlatformResult<Self> {
        install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout);
        let options = match backend {
            Backend::Sqlite => options.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let pragmas = format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA wal_autocheckpoint = 0;",
                        synchronous.pragma()
                    );
                    conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        if backend == Backend::Sqlite {
            spawn_checkpointer(pool.clone());
        }
        let schema = match backend {
            Backend::Sqlite => "main".to_owned(),
            Backend::Postgres => {
                use sqlx::Row;
                sqlx::query("SELECT CAST(current_schema() AS TEXT) AS name")
                    .fetch_one(&pool)
                    .await?
                    .try_get::<Option<String>, _>("name")?
                    .unwrap_or_else(|| "public".to_owned())
            }
        };
        let db = Db {
            pool,
            backend,
            url,
            schema,
            write_turns: Arc::new(Mutex::new(())),
            clock_skew_ms: 0,
        };
        db.migrate().await?;
        Ok(db)
    }

    /// This pool with the process clock read `skew_ms` ahead ([`Db::node_now_ms`]), to drill
    /// what a node with a wrong clock does.
    pub fn with_clock_skew(mut self, skew_ms: i64) -> Self {
        self.clock_skew_ms = skew_ms;
        self
    }

    /// This process's clock, Unix milliseconds (skewed when a drill asks for it). Fine for
    /// times only shown to people; anything compared across nodes uses [`Db::now_ms`].
    pub fn node_now_ms(&self) -> i64 {
        now_ms().saturating_add(self.clock_skew_ms)
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> PlatformResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect behind the pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for this process's turn to write, on SQLite; `None` (no waiting) on PostgreSQL,
    /// whose row locks let writers proceed side by side. Hold the guard for the whole write
    /// transaction of a hot path so concurrent writers queue in order instead of polling.
    pub async fn write_turn(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_turns.lock().await),
            Backend::Postgres => None,
        }
    }

    /// The schema queries resolve to (`main` on SQLite).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The URL the pool was opened with (for LISTEN connections).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's current time, Unix milliseconds (see [`Backend::now_ms_sql`]).
    pub async fn now_ms(&self) -> PlatformResult<i64> {
        use sqlx::Row;
        let sql = format!("SELECT {} AS now", self.backend.now_ms_sql());
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?
            .try_get("now")?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> PlatformResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The file a `sqlite://PATH[?options]` URL names; `None` for other URLs and in-memory ones.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Makes sure a SQLite URL creates its file and that the file's folder exists.
fn prepare_sqlite_url(url: &str) -> PlatformResult<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(PlatformError::Invalid(
            "an in-memory SQLite database would lose every job on restart: give a file path".into(),
        ));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|err| {
            PlatformError::Invalid(format!(
                "cannot create the database folder {}: {err}",
                parent.display()
            ))
        })?;
    }
    let mut query = query.to_owned();
    if !query.split('&').any(|pair| pair.starts_with("mode=")) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    let url = format!("sqlite://{path}?{query}");
    // Validate early, with a clear message, rather than at first connection.
    sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .map_err(|err| PlatformError::Invalid(format!("bad SQLite URL {url:?}: {err}")))?;
    Ok(url)
}

/// Current time as Unix milliseconds, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The value of the deployment-wide setting `name`, storing `initial` first when it is absent.
/// Concurrent first starts of several nodes agree on one value (insert-if-absent, then read).
pub async fn setting_or_insert(db: &Db, name: &str, initial: &str) -> PlatformResult<String> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(initial)
        .execute(db.pool())
        .await?;
    let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await?;
    Ok(sqlx::Row::try_get::<String, _>(&row, "value")?)
}

/// Whether an error is a unique-constraint violation (on either backend).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db_err) => {
            db_err.is_unique_violation()
                || db_err
                    .code()
                    .is_some_and(|code| code == "23505" || code == "2067" || code == "1555")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_told_from_the_url_scheme() {
        assert_eq!(
            Backend::of_url("sqlite://data/a.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::of_url("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }

    #[test]
    fn sqlite_urls_gain_create_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/atelier.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", path.display())).expect("url");
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(path.parent().expect("parent").is_dir());
    }

    #[tokio::test]
    async fn sqlite_syncs_every_commit_unless_told_otherwise() {
        use sqlx::Row;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let db = Db::connect(&url, 1).await.expect("connect");
        let level: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(db.pool())
            .await
            .expect("pragma")
            .try_get(0)
            .expect("level");
        assert_eq!(level, 2, "synchronous = FULL");
        db.close().await;
        let db = Db::connect_with(&url, 1, SqliteSynchronous::Normal)
            .await
            .expect("connect");
        let level: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(db.pool())
            .await
            .expect("pragma")
            .try_get(0)
            .expect("level");
        assert_eq!(level, 1, "synchronous = NORMAL");
        assert!("FULL".parse::<SqliteSynchronous>().is_ok());
        assert!("off".parse::<SqliteSynchronous>().is_err());
    }

    #[tokio::test]
    async fn the_database_clock_is_unix_milliseconds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let db = Db::connect(&url, 1).await.expect("connect");
        let db_now = db.now_ms().await.expect("now");
        assert!(
            (db_now - now_ms()).abs() < 5_000,
            "{db_now} vs {}",
            now_ms()
        );
    }

    #[test]
    fn the_file_of_a_sqlite_url_is_its_path() {
        assert_eq!(
            sqlite_path("sqlite:///srv/a.db?mode=rwc"),
            Some(std::path::PathBuf::from("/srv/a.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://data/a.db"),
            Some(std::path::PathBuf::from("data/a.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn in_memory_sqlite_is_refused() {
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }
}
