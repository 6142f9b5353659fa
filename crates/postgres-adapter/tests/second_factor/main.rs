#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgSecondFactorStore` against a real PostgreSQL: enrolment and
//! enabling (other sessions ended, the notice in the outbox), a time step
//! taken once under concurrency, recovery codes used once, disabling, and
//! the MFA challenges (tries, expiry, one consumer, the code budget).
#[path = "../support/mod.rs"]
mod support;

mod challenges;
mod recovery_codes;
mod totp;

use std::future::Future;
use std::sync::Arc;

use application::ports::{
    Challenge, DisableTotp, EmailOutbox, EnableTotp, NewChallenge, NewSession, OpenedSession,
    SealedTotpSecret, SecondFactorStatus, SecondFactorStore, SessionEpoch, SessionRepository,
    TotpEnabled, TotpEnrolment, UserRepository,
};
use application::{Email, EmailJob};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::{ClientDevice, MAX_CODE_FAILURES, MFA_CHALLENGE_TRIES, SessionId, TimeStep, User};
use postgres_adapter::{PgEmailOutbox, PgSecondFactorStore, PgSessionRepository, PgUserRepository};
use support::*;
use tokio::sync::Barrier;
use uuid::Uuid;

struct Fixture {
    db: TestDatabase,
    users: PgUserRepository,
    sessions: PgSessionRepository,
    outbox: PgEmailOutbox,
    store: Arc<PgSecondFactorStore>,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        sessions: PgSessionRepository::new(pool.clone(), settings()),
        outbox: PgEmailOutbox::new(pool.clone(), settings()),
        store: Arc::new(PgSecondFactorStore::new(pool, settings())),
        db,
    }
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

/// 32 random bytes (a digest no other test shares).
fn digest() -> [u8; 32] {
    let mut digest = [0; 32];
    digest[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    digest[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    digest
}

fn sealed(key_id: &str) -> SealedTotpSecret {
    SealedTotpSecret {
        key_id: key_id.to_owned(),
        nonce: vec![7; 12],
        ciphertext: digest().to_vec(),
    }
}

fn notice(to: &str) -> EmailJob {
    welcome(to)
}

/// The ids of the jobs in the outbox, which it empties.
async fn drain(f: &Fixture) -> Vec<EmailJob> {
    let jobs = f
        .outbox
        .lease(100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    f.outbox
        .remove(jobs.iter().map(|job| job.id).collect())
        .await
        .unwrap();
    jobs
}

async fn user(f: &Fixture, name: &str) -> User {
    let email = format!("{name}@example.io");
    let user = f
        .users
        .create(
            new_user(name, &email),
            verification(),
            welcome(&email),
            registered(),
        )
        .await
        .unwrap();
    drain(f).await;
    user
}

async fn session(f: &Fixture, user: &User) -> SessionId {
    let at = now();
    let id = SessionId::new(Uuid::new_v4().simple().to_string());
    let opened = f
        .sessions
        .open(
            NewSession {
                id: id.clone(),
                user_id: user.id,
                created_at: at,
                expires_at: at + Duration::seconds(1_000),
                device: ClientDevice::default(),
                device_token: digest(),
                live_limit: 100,
                methods: domain::AuthMethods::Password,
                audit: login_event(user.id, at),
            },
            SessionEpoch(
                f.users
                    .find_credentials(user.email.as_str())
                    .await
                    .unwrap()
                    .unwrap()
                    .session_epoch
                    .0,
            ),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(opened, OpenedSession::Opened { .. }));
    id
}

fn enable(user: &User, step: i64, codes: &[[u8; 32]], keep: &SessionId) -> EnableTotp {
    EnableTotp {
        user: user.id,
        step: TimeStep::new(step),
        recovery_codes: codes.to_vec(),
        keep: keep.clone(),
        notice: notice(user.email.as_str()),
        audit: event(domain::AuditEventKind::MfaEnabled, user),
        now: now(),
    }
}

/// A second-factor event of `user` about itself.
fn event(kind: domain::AuditEventKind, user: &User) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        kind,
        user.id,
        None,
        None,
        now(),
        serde_json::json!({}),
    )
}

/// How many events of `kind` are stored about `user`.
async fn events(f: &Fixture, kind: domain::AuditEventKind, user: &User) -> usize {
    use application::ports::{AuditLog, AuditQuery};
    postgres_adapter::PgAuditLog::new(pool(&f.db.url), settings())
        .query(AuditQuery {
            subject: Some(user.id),
            kind: Some(kind),
            since: None,
            until: None,
            limit: 100,
            after: None,
        })
        .await
        .unwrap()
        .events
        .len()
}

/// A user with TOTP enabled at step 100 and these codes, and the session
/// that enabled it.
async fn enabled_user(f: &Fixture, name: &str, codes: &[[u8; 32]]) -> (User, SessionId) {
    let user = user(f, name).await;
    let keep = session(f, &user).await;
    f.store
        .begin_totp(user.id, sealed("k1"), now())
        .await
        .unwrap();
    let enabled = f
        .store
        .enable_totp(enable(&user, 100, codes, &keep))
        .await
        .unwrap();
    assert!(matches!(enabled, TotpEnabled::Enabled { .. }));
    drain(f).await;
    (user, keep)
}

/// Runs `n` copies of `call` at once (real tasks on the pool, released
/// together) and gives their results.
async fn concurrently<T, F, Fut>(n: usize, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            let call = call();
            tokio::spawn(async move {
                barrier.wait().await;
                call.await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in futures_util::future::join_all(tasks).await {
        results.push(task.unwrap());
    }
    results
}

/// A session's `user.login_succeeded`, as the application builds it.
fn login_event(
    user: domain::UserId,
    at: chrono::DateTime<chrono::Utc>,
) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::LoginSucceeded,
        user,
        None,
        None,
        at,
        serde_json::json!({ "amr": ["pwd"] }),
    )
}
