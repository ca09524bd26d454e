//! Accounts and sessions: registration, argon2id passwords, opaque session tokens stored hashed.

use std::time::Duration;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

use crate::{
    db::{Db, is_unique_violation, now_ms},
    error::{PlatformError, PlatformResult},
    secrets::{random_token, sha256_hex},
};

/// A user's gender, as in LittleStudio's user model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other or not said.
    Other,
}

/// A user's role in a family, as in LittleStudio's user model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Role {
    /// A parent.
    Parent,
    /// A child.
    Child,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident),+ }) => {
        impl $ty {
            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }
            /// Parses the stored name; the empty string stored for "not given" is `None`.
            pub fn parse(text: &str) -> PlatformResult<Option<Self>> {
                match text {
                    "" => Ok(None),
                    $(stringify!($variant) => Ok(Some(Self::$variant)),)+
                    other => Err(PlatformError::Internal(format!("unknown {} {other:?} in database", stringify!($ty)))),
                }
            }
            /// The stored name of an optional value (the empty string for "not given").
            pub fn stored(value: Option<Self>) -> &'static str {
                value.map_or("", Self::as_str)
            }
        }
    };
}
text_enum!(Gender {
    Male,
    Female,
    Other
});
text_enum!(Role { Parent, Child });

/// An account, as the API shows it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    /// Numeric id (LittleStudio's clients expect a number).
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Gender; `null` when the account did not give one (atelier's own registration does not
    /// ask; LittleStudio's does).
    pub gender: Option<Gender>,
    /// Parent or child; `null` when not given.
    #[serde(rename = "type")]
    pub role: Option<Role>,
    /// The family the user belongs to, if any.
    pub family_id: Option<i64>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// What registration needs.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewUser {
    /// 3–64 characters: letters, digits, `_`, `-`, `.`.
    pub username: String,
    /// 8–1024 characters. A client that pre-hashes (LittleStudio's sends a sha256 hex) simply
    /// sends that string: it is hashed again with argon2id here.
    pub password: String,
    /// Gender, optional: a 3D-photo or studio user has no reason to give one.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// Parent or child, optional: only family members need a role.
    #[serde(default, rename = "type", alias = "role")]
    pub role: Option<Role>,
}

/// A freshly issued session: the only time the clear token exists on the server.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The bearer token to hand to the client.
    pub token: String,
    /// When it stops working, Unix milliseconds.
    pub expires_at: i64,
}

pub(crate) const USER_COLUMNS: &str = "id, username, gender, role, family_id, created_at";

pub(crate) fn user_from_row(row: &sqlx::any::AnyRow) -> PlatformResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        gender: Gender::parse(&row.try_get::<String, _>("gender")?)?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        family_id: row.try_get("family_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn validate_username(username: &str) -> PlatformResult<()> {
    let ok_len = (3..=64).contains(&username.chars().count());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(PlatformError::Invalid(
            "username must be 3–64 characters of letters, digits, '_', '-' or '.'".into(),
        ))
    }
}

fn validate_password(password: &str) -> PlatformResult<()> {
    if (8..=1024).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(PlatformError::Invalid(
            "password must be 8–1024 characters".into(),
        ))
    }
}

/// Hashes a password with argon2id (default OWASP parameters) off the async runtime.
async fn hash_password(password: String) -> PlatformResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(PlatformError::internal)
    })
    .await?
}

/// Checks a password against a stored argon2id hash off the async runtime.
async fn password_matches(password: String, hash: String) -> PlatformResult<bool> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(PlatformError::from)
}

/// Creates an account. A taken username is a [`PlatformError::Conflict`].
pub async fn register(db: &Db, new: NewUser) -> PlatformResult<User> {
    validate_username(&new.username)?;
    validate_password(&new.password)?;
    let hash = hash_password(new.password).await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO users (username, password_hash, gender, role, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    )))
    .bind(&new.username)
    .bind(hash)
    .bind(Gender::stored(new.gender))
    .bind(Role::stored(new.role))
    .bind(now_ms())
    .fetch_one(db.pool())
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            PlatformError::Conflict(format!("the username {:?} is taken", new.username))
        } else {
            err.into()
        }
    })?;
    user_from_row(&row)
}

/// Checks credentials and opens a session valid for `ttl`.
pub async fn login(
    db: &Db,
    username: &str,
    password: &str,
    ttl: Duration,
) -> PlatformResult<(User, IssuedSession)> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
    )))
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    // Hash even for unknown users so response time does not reveal which usernames exist.
    let (stored_hash, user) = match &row {
        Some(row) => (
            row.try_get::<String, _>("password_hash")?,
            Some(user_from_row(row)?),
        ),
        None => (DUMMY_HASH.to_owned(), None),
    };
    let matches = password_matches(password.to_owned(), stored_hash).await?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => {
            return Err(PlatformError::Unauthenticated(
                "wrong username or password".into(),
            ));
        }
    };
    let session = open_session(db, user.id, ttl).await?;
    Ok((user, session))
}

/// An argon2id hash of a random string, verified against when the username is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3mXe2d0oVb3XkQ8p2k1jWw1YvJ0D9Qn8lV0n0vQeU2E";

/// Opens a session for `user_id`, valid for `ttl`.
pub async fn open_session(db: &Db, user_id: i64, ttl: Duration) -> PlatformResult<IssuedSession> {
    let token = random_token(32);
    let now = now_ms();
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(IssuedSession { token, expires_at })
}

/// The user a session token belongs to; expired, revoked and unknown tokens are refused.
pub async fn authenticate(db: &Db, token: &str) -> PlatformResult<User> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.gender, u.role, u.family_id, u.created_at, \
                s.expires_at, s.revoked_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
    )
    .bind(sha256_hex(token.as_bytes()))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| PlatformError::Unauthenticated("unknown session token".into()))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(PlatformError::Unauthenticated(
            "this session was logged out".into(),
        ));
    }
    if row.try_get::<i64, _>("expires_at")? <= now_ms() {
        return Err(PlatformError::Unauthenticated(
            "this session has expired: log in again".into(),
        ));
    }
    user_from_row(&row)
}

/// Revokes a session token; revoking an unknown or already revoked token is not an error.
pub async fn logout(db: &Db, token: &str) -> PlatformResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(sha256_hex(token.as_bytes()))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Removes expired and revoked sessions (they no longer authenticate anyone); returns how
/// many went.
pub async fn purge_sessions(db: &Db) -> PlatformResult<u64> {
    let result =
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
            .bind(now_ms())
            .execute(db.pool())
            .await?;
    Ok(result.rows_affected())
}

/// Looks a user up by id.
pub async fn get_user(db: &Db, id: i64) -> PlatformResult<User> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("user"))?;
    user_from_row(&row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked_for_length_and_characters() {
        assert!(validate_username("ann").is_ok());
        assert!(validate_username("an").is_err());
        assert!(validate_username("ann smith").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[tokio::test]
    async fn a_sha256_prehashed_password_gets_argon2id_on_top() {
        let prehashed = sha256_hex(b"hunter22");
        let hash = hash_password(prehashed.clone()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            password_matches(prehashed, hash.clone())
                .await
                .expect("verify")
        );
        assert!(
            !password_matches("hunter22".into(), hash)
                .await
                .expect("verify")
        );
    }
}
