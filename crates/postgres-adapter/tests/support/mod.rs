//! Shared set-up: every test gets its own freshly migrated database.
#![allow(dead_code)]

use std::time::Duration;

use application::{Email, EmailJob};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use domain::{EmailAddress, NewUser, PasswordHash, Username};
use postgres_adapter::{PgPool, PgSettings, connect};
pub use test_support::TestDatabase;

/// Where this crate's test databases' names start.
const PREFIX: &str = "pgadapter_test_";

/// Names a database no other test uses, without creating it; `suffix` is
/// appended to the name literally (it is percent-encoded in the URL).
pub fn named(suffix: &str) -> TestDatabase {
    TestDatabase::named(PREFIX, suffix)
}

/// The migrations of the repository's `migrations/` folder, in the order
/// they apply.
pub fn migration_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("up.sql").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Creates and migrates a database no other test uses.
pub async fn fresh_database() -> TestDatabase {
    let db = named("");
    assert_eq!(db.create().await, migration_names());
    db
}

pub fn settings() -> PgSettings {
    PgSettings::default()
}

pub fn pool(url: &str) -> PgPool {
    connect(url, &settings()).unwrap()
}

/// Short bounds for tests against a dead server.
pub fn impatient() -> PgSettings {
    PgSettings {
        max_connections: 4,
        connect_timeout: Duration::from_millis(500),
        acquire_timeout: Duration::from_millis(500),
        query_timeout: Duration::from_millis(500),
        ..PgSettings::default()
    }
}

pub async fn raw_connection(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url).await.unwrap()
}

pub fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: Username::parse(username).unwrap(),
        email: EmailAddress::parse(email).unwrap(),
        password_hash: PasswordHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$fake${username}")),
    }
}

/// A verification secret of its own (token digests are unique).
pub fn verification() -> application::ports::NewSecret {
    verification_of(random_secret())
}

pub fn random_secret() -> domain::OneTimeSecret {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    domain::OneTimeSecret::from_entropy(bytes, u64::from(bytes[0]) * 4_099 + u64::from(bytes[1]))
}

pub fn verification_of(secret: domain::OneTimeSecret) -> application::ports::NewSecret {
    let now = Utc::now();
    application::ports::NewSecret {
        purpose: domain::SecretPurpose::VerifyEmail,
        secret,
        created_at: now,
        expires_at: now + chrono::Duration::hours(24),
        new_email: None,
    }
}

pub fn welcome_at(to: &str, created_at: DateTime<Utc>) -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: to.to_owned(),
            verification_link: String::new(),
            code: String::new(),
        },
        created_at,
    )
}

pub fn welcome(to: &str) -> EmailJob {
    welcome_at(to, Utc::now())
}

/// A `user.registered` for [`postgres_adapter::PgUserRepository`]'s
/// `create`: the store makes the new user its actor and subject.
pub fn registered() -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::about_new_user(
        domain::AuditEventKind::UserRegistered,
        None,
        None,
        Utc::now(),
        serde_json::json!({}),
    )
}

/// A `user.deleted` of `user` by itself, for the store's `delete`.
pub fn deleted(user: domain::UserId) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::UserDeleted,
        user,
        None,
        None,
        Utc::now(),
        serde_json::json!({}),
    )
}
