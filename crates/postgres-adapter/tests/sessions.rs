#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgSessionRepository` against a real PostgreSQL: the epoch guard of a
//! login, the new-device rule, rotation as a compare-and-set under
//! concurrency, and ending sessions.
mod support;

use std::sync::Arc;

use application::Email;
use application::ports::{
    EmailOutbox, NewDeviceAlert, NewSession, OpenedSession, SessionEpoch, SessionRepository,
    UserRepository,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::{ClientDevice, SessionId, User};
use postgres_adapter::{PgEmailOutbox, PgSessionRepository, PgUserRepository};
use support::*;
use uuid::Uuid;

struct Fixture {
    _db: TestDatabase,
    users: PgUserRepository,
    sessions: Arc<PgSessionRepository>,
    outbox: PgEmailOutbox,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        sessions: Arc::new(PgSessionRepository::new(pool.clone(), settings())),
        outbox: PgEmailOutbox::new(pool, settings()),
        _db: db,
    }
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
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
    // Empty the outbox of the welcome email, so alerts can be counted.
    let jobs = f
        .outbox
        .lease(100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    f.outbox
        .remove(jobs.iter().map(|job| job.id).collect())
        .await
        .unwrap();
    user
}

fn new_session(user: &User, device: &ClientDevice, at: DateTime<Utc>) -> NewSession {
    NewSession {
        id: SessionId::new(Uuid::new_v4().simple().to_string()),
        user_id: user.id,
        created_at: at,
        expires_at: at + Duration::seconds(1_000),
        device: device.clone(),
        device_token: rand_digest(),
        live_limit: 100,
        methods: domain::AuthMethods::Password,
        audit: login_event(user.id, at),
    }
}

/// A session's `user.login_succeeded`, as the application builds it.
fn login_event(user: domain::UserId, at: DateTime<Utc>) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::LoginSucceeded,
        user,
        None,
        None,
        at,
        serde_json::json!({ "amr": ["pwd"] }),
    )
}

/// A device token's digest no other test shares.
fn rand_digest() -> [u8; 32] {
    let mut digest = [0; 32];
    digest[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    digest[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    digest
}

fn alert(user: &User) -> NewDeviceAlert {
    NewDeviceAlert {
        email: application::EmailJob::new(
            Email::NewDeviceLogin {
                to: user.email.as_str().to_owned(),
                signed_in_at: "t".into(),
                ip: String::new(),
                user_agent: String::new(),
                session_id: String::new(),
            },
            now(),
        ),
        lookback: Duration::days(90),
    }
}

fn device(ip: &str, agent: &str) -> ClientDevice {
    ClientDevice::new(Some(ip.parse().unwrap()), Some(agent))
}

async fn queued(f: &Fixture) -> usize {
    let jobs = f
        .outbox
        .lease(100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let count = jobs.len();
    f.outbox
        .remove(jobs.iter().map(|job| job.id).collect())
        .await
        .unwrap();
    count
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_stored_with_its_device_and_found_by_id() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let at = now();
    let new = new_session(&ada, &device("203.0.113.7", "Firefox"), at);
    let opened = f
        .sessions
        .open(new.clone(), SessionEpoch(0), None)
        .await
        .unwrap();
    assert_eq!(
        opened,
        OpenedSession::Opened {
            alert_queued: false,
            ended: Vec::new()
        }
    );

    let found = f.sessions.find(new.id.clone()).await.unwrap().unwrap();
    assert_eq!(found.user_id, ada.id);
    assert_eq!(found.created_at, at);
    assert_eq!(found.last_used_at, at);
    assert_eq!(found.expires_at, new.expires_at);
    assert_eq!(found.ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(found.user_agent.as_deref(), Some("Firefox"));
    assert_eq!(found.generation, 0);
    assert_eq!(found.rotated_at, None);
    assert_eq!(found.revoked_at, None);
    assert!(
        f.sessions
            .find(SessionId::new("nope"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_session_keeps_how_its_login_was_authenticated() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    for methods in domain::AuthMethods::ALL {
        let new = NewSession {
            methods,
            ..new_session(&ada, &device("203.0.113.7", "Firefox"), now())
        };
        f.sessions
            .open(new.clone(), SessionEpoch(0), None)
            .await
            .unwrap();
        let found = f.sessions.find(new.id.clone()).await.unwrap().unwrap();
        assert_eq!(found.methods, methods);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_after_all_sessions_ended_or_the_user_was_deleted_opens_none() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let epoch = f
        .users
        .find_credentials("ada@example.io")
        .await
        .unwrap()
        .unwrap()
        .session_epoch;
    // Logout everywhere while this login checks its password.
    f.sessions.end_all(ada.id, None, now(), None).await.unwrap();
    let stale = new_session(&ada, &ClientDevice::default(), now());
    assert_eq!(
        f.sessions.open(stale.clone(), epoch, None).await.unwrap(),
        OpenedSession::AccountChanged
    );
    assert!(f.sessions.find(stale.id).await.unwrap().is_none());

    let fresh_epoch = SessionEpoch(epoch.0 + 1);
    f.users
        .delete(ada.id, now(), deleted(ada.id))
        .await
        .unwrap();
    assert_eq!(
        f.sessions
            .open(
                new_session(&ada, &ClientDevice::default(), now()),
                fresh_epoch,
                None
            )
            .await
            .unwrap(),
        OpenedSession::AccountChanged
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_new_device_email_skips_the_first_login_and_known_devices() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let home = device("203.0.113.7", "Firefox");
    let open = |device: ClientDevice| {
        let sessions = f.sessions.clone();
        let ada = ada.clone();
        async move {
            sessions
                .open(
                    new_session(&ada, &device, now()),
                    SessionEpoch(0),
                    Some(alert(&ada)),
                )
                .await
                .unwrap()
        }
    };
    // The first login after registration: never.
    assert_eq!(
        open(home.clone()).await,
        OpenedSession::Opened {
            alert_queued: false,
            ended: Vec::new()
        }
    );
    // The same browser in the same /24: a known device.
    assert_eq!(
        open(device("203.0.113.200", "Firefox")).await,
        OpenedSession::Opened {
            alert_queued: false,
            ended: Vec::new()
        }
    );
    assert_eq!(queued(&f).await, 0);
    // Another browser, or another network: new.
    assert_eq!(
        open(device("203.0.113.7", "curl/8")).await,
        OpenedSession::Opened {
            alert_queued: true,
            ended: Vec::new()
        }
    );
    assert_eq!(
        open(device("198.51.100.1", "Firefox")).await,
        OpenedSession::Opened {
            alert_queued: true,
            ended: Vec::new()
        }
    );
    assert_eq!(queued(&f).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_unused_for_longer_than_the_lookback_is_new_again() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let home = device("203.0.113.7", "Firefox");
    let long_ago = now() - Duration::days(91);
    f.sessions
        .open(new_session(&ada, &home, long_ago), SessionEpoch(0), None)
        .await
        .unwrap();
    assert_eq!(
        f.sessions
            .open(
                new_session(&ada, &home, now()),
                SessionEpoch(0),
                Some(alert(&ada))
            )
            .await
            .unwrap(),
        OpenedSession::Opened {
            alert_queued: true,
            ended: Vec::new()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_rotations_of_one_generation_succeed_once() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let new = new_session(&ada, &ClientDevice::default(), now());
    f.sessions
        .open(new.clone(), SessionEpoch(0), None)
        .await
        .unwrap();
    let rotations = (0..16).map(|_| {
        let sessions = f.sessions.clone();
        let id = new.id.clone();
        tokio::spawn(async move {
            let at = now();
            sessions
                .rotate(id, 0, at + Duration::seconds(500), at)
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for rotation in rotations.collect::<Vec<_>>() {
        won += usize::from(rotation.await.unwrap());
    }
    assert_eq!(won, 1);
    let found = f.sessions.find(new.id).await.unwrap().unwrap();
    assert_eq!(found.generation, 1);
    assert!(found.rotated_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_one_session_reports_whether_it_was_live_and_only_for_its_user() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let bob = user(&f, "bob").await;
    let new = new_session(&ada, &ClientDevice::default(), now());
    f.sessions
        .open(new.clone(), SessionEpoch(0), None)
        .await
        .unwrap();

    assert!(
        f.sessions
            .end(new.id.clone(), bob.id, now(), None)
            .await
            .unwrap()
            .is_none()
    );
    let first = f
        .sessions
        .end(new.id.clone(), ada.id, now(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(first.was_live);
    assert_eq!(first.expires_at, new.expires_at);
    let again = f
        .sessions
        .end(new.id.clone(), ada.id, now(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(!again.was_live, "ended before");
    // A revoked session no longer rotates.
    assert!(!f.sessions.rotate(new.id, 0, now(), now()).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_all_sessions_keeps_the_one_asked_and_lists_only_live_ones() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let base = now();
    let mut ids = Vec::new();
    for offset in 0..3 {
        let new = new_session(
            &ada,
            &ClientDevice::default(),
            base + Duration::seconds(offset),
        );
        f.sessions
            .open(new.clone(), SessionEpoch(0), None)
            .await
            .unwrap();
        ids.push(new.id);
    }
    let listed: Vec<_> = f
        .sessions
        .list_live(ada.id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(
        listed,
        [ids[2].clone(), ids[1].clone(), ids[0].clone()],
        "newest first"
    );

    let ended = f
        .sessions
        .end_all(ada.id, Some(ids[0].clone()), now(), None)
        .await
        .unwrap();
    assert_eq!(ended.len(), 2);
    assert!(ended.iter().all(|session| session.was_live));
    let listed = f.sessions.list_live(ada.id, now()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ids[0]);

    // Everything now: only the live one; the two ended before are left
    // as they are.
    let ended = f.sessions.end_all(ada.id, None, now(), None).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, ids[0]);
    assert!(ended[0].was_live);
    assert!(
        f.sessions
            .list_live(ada.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    let epoch = f
        .users
        .find_credentials("ada@example.io")
        .await
        .unwrap()
        .unwrap()
        .session_epoch;
    assert_eq!(epoch, SessionEpoch(2), "each end_all moves the epoch on");
}

#[tokio::test]
async fn a_login_keeps_its_device_token_for_its_user_only() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let bob = user(&f, "bob").await;
    let new = new_session(&ada, &device("203.0.113.7", "Firefox"), now());
    let token = new.device_token;
    f.sessions.open(new, SessionEpoch(0), None).await.unwrap();
    assert!(f.sessions.recognises_device(ada.id, token).await.unwrap());
    assert!(!f.sessions.recognises_device(bob.id, token).await.unwrap());
    assert!(
        !f.sessions
            .recognises_device(ada.id, rand_digest())
            .await
            .unwrap()
    );
    // Bob presenting Ada's token does not take it over.
    let mut stolen = new_session(&bob, &device("198.51.100.1", "curl"), now());
    stolen.device_token = token;
    f.sessions
        .open(stolen, SessionEpoch(0), None)
        .await
        .unwrap();
    assert!(f.sessions.recognises_device(ada.id, token).await.unwrap());
    assert!(!f.sessions.recognises_device(bob.id, token).await.unwrap());
}

#[tokio::test]
async fn a_user_keeps_its_twenty_most_recently_used_device_tokens() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let start = now();
    let mut tokens = Vec::new();
    for i in 0..21 {
        let new = new_session(
            &ada,
            &device("203.0.113.7", "Firefox"),
            start + Duration::seconds(i),
        );
        tokens.push(new.device_token);
        f.sessions.open(new, SessionEpoch(0), None).await.unwrap();
    }
    assert!(
        !f.sessions
            .recognises_device(ada.id, tokens[0])
            .await
            .unwrap()
    );
    for token in &tokens[1..] {
        assert!(f.sessions.recognises_device(ada.id, *token).await.unwrap());
    }
    // Using the oldest kept token again makes it the newest: the next
    // new token pushes out the one after it.
    let mut again = new_session(
        &ada,
        &device("203.0.113.7", "Firefox"),
        start + Duration::seconds(30),
    );
    again.device_token = tokens[1];
    f.sessions.open(again, SessionEpoch(0), None).await.unwrap();
    let newest = new_session(
        &ada,
        &device("203.0.113.7", "Firefox"),
        start + Duration::seconds(31),
    );
    f.sessions
        .open(newest, SessionEpoch(0), None)
        .await
        .unwrap();
    assert!(
        f.sessions
            .recognises_device(ada.id, tokens[1])
            .await
            .unwrap()
    );
    assert!(
        !f.sessions
            .recognises_device(ada.id, tokens[2])
            .await
            .unwrap()
    );
}

/// `user.login_succeeded` is written in the session's transaction: a
/// session opened has it, a session refused (`AccountChanged`) has none.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_event_is_stored_exactly_with_its_session() {
    use application::ports::{AuditLog, AuditQuery};
    use domain::AuditEventKind;
    let f = fixture().await;
    let audit = postgres_adapter::PgAuditLog::new(pool(&f._db.url), settings());
    let ada = user(&f, "ada").await;
    let logins = async || {
        audit
            .query(AuditQuery {
                subject: Some(ada.id),
                kind: Some(AuditEventKind::LoginSucceeded),
                since: None,
                until: None,
                limit: 10,
                after: None,
            })
            .await
            .unwrap()
            .events
    };
    let opened = new_session(&ada, &ClientDevice::default(), now());
    f.sessions
        .open(opened.clone(), SessionEpoch(0), None)
        .await
        .unwrap();
    let events = logins().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject, Some(ada.id));
    assert_eq!(events[0].data, opened.audit.data);

    f.sessions.end_all(ada.id, None, now(), None).await.unwrap();
    let stale = new_session(&ada, &ClientDevice::default(), now());
    assert_eq!(
        f.sessions.open(stale, SessionEpoch(0), None).await.unwrap(),
        OpenedSession::AccountChanged
    );
    assert_eq!(logins().await.len(), 1);
}

/// A logout's or revocation's event commits with the ending of a live
/// session: none for a session that is not the user's or already ended;
/// ending every session writes its event too.
#[tokio::test(flavor = "multi_thread")]
async fn an_ending_event_is_stored_only_when_a_live_session_ends() {
    use application::ports::{AuditLog, AuditQuery, NewAuditEvent};
    use domain::AuditEventKind;
    let f = fixture().await;
    let audit = postgres_adapter::PgAuditLog::new(pool(&f._db.url), settings());
    let ada = user(&f, "ada").await;
    let bob = user(&f, "bob").await;
    let events = async |kind| {
        audit
            .query(AuditQuery {
                subject: Some(ada.id),
                kind: Some(kind),
                since: None,
                until: None,
                limit: 10,
                after: None,
            })
            .await
            .unwrap()
            .events
    };
    let revoked = |scope: &str| {
        Some(NewAuditEvent::by_user(
            AuditEventKind::SessionRevoked,
            ada.id,
            None,
            None,
            now(),
            serde_json::json!({ "scope": scope }),
        ))
    };
    let new = new_session(&ada, &ClientDevice::default(), now());
    f.sessions
        .open(new.clone(), SessionEpoch(0), None)
        .await
        .unwrap();
    let foreign = f
        .sessions
        .end(new.id.clone(), bob.id, now(), revoked("bob"))
        .await
        .unwrap();
    assert!(foreign.is_none());
    assert!(events(AuditEventKind::SessionRevoked).await.is_empty());
    f.sessions
        .end(new.id.clone(), ada.id, now(), revoked("first"))
        .await
        .unwrap();
    f.sessions
        .end(new.id.clone(), ada.id, now(), revoked("again"))
        .await
        .unwrap();
    let stored = events(AuditEventKind::SessionRevoked).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].data["scope"], "first");

    let logged_out = NewAuditEvent::by_user(
        AuditEventKind::LoggedOut,
        ada.id,
        None,
        None,
        now(),
        serde_json::json!({ "scope": "global" }),
    );
    f.sessions
        .end_all(ada.id, None, now(), Some(logged_out))
        .await
        .unwrap();
    let stored = events(AuditEventKind::LoggedOut).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].data["scope"], "global");
}
