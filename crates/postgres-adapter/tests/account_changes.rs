#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Password reset, password change and email change on a real PostgreSQL:
//! each happens whole in one transaction or not at all, a secret is
//! consumed by exactly one caller, and a taken address rolls back.
mod support;

use std::sync::Arc;

use application::ports::{
    EmailChangeOutcome, EmailOutbox, NewEmailChange, NewSecret, NewSession, NewUndo,
    OneTimeSecretStore, OpenedSession, SessionEpoch, SessionRepository, UserRepository,
};
use application::{Email, EmailJob};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::{
    ClientDevice, OneTimeSecret, PasswordHash, SecretProof, SecretPurpose, SessionId, User,
};
use postgres_adapter::{
    PgEmailOutbox, PgOneTimeSecretStore, PgSessionRepository, PgUserRepository,
};
use support::*;
use uuid::Uuid;

struct Fixture {
    _db: TestDatabase,
    users: PgUserRepository,
    sessions: PgSessionRepository,
    secrets: Arc<PgOneTimeSecretStore>,
    outbox: PgEmailOutbox,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        sessions: PgSessionRepository::new(pool.clone(), settings()),
        secrets: Arc::new(PgOneTimeSecretStore::new(pool.clone(), settings())),
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

/// The kinds of the emails queued since the last call, oldest first.
async fn drained(f: &Fixture) -> Vec<Email> {
    let jobs = f
        .outbox
        .lease(100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    f.outbox
        .remove(jobs.iter().map(|job| job.id).collect())
        .await
        .unwrap();
    let mut jobs: Vec<EmailJob> = jobs;
    jobs.sort_by_key(|job| job.created_at);
    jobs.into_iter().map(|job| job.email).collect()
}

/// A user with an empty outbox and `sessions` live sessions.
async fn user_with_sessions(f: &Fixture, name: &str, sessions: usize) -> (User, Vec<SessionId>) {
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
    drained(f).await;
    let mut ids = Vec::new();
    for _ in 0..sessions {
        let id = SessionId::new(Uuid::new_v4().simple().to_string());
        let opened = f
            .sessions
            .open(
                NewSession {
                    id: id.clone(),
                    user_id: user.id,
                    created_at: now(),
                    expires_at: now() + Duration::seconds(1_000),
                    device: ClientDevice::new(None, None),
                    device_token: domain::token_digest(id.as_str()),
                    live_limit: 100,
                    methods: domain::AuthMethods::Password,
                    audit: login_event(user.id, now()),
                },
                SessionEpoch(0),
                None,
            )
            .await
            .unwrap();
        assert!(matches!(opened, OpenedSession::Opened { .. }));
        ids.push(id);
    }
    (user, ids)
}

/// A new random secret of `purpose` for `user`, live for an hour, already
/// issued (no email; a previous one of that purpose dies).
async fn issued(
    f: &Fixture,
    user: &User,
    purpose: SecretPurpose,
    new_email: Option<&str>,
) -> OneTimeSecret {
    let secret = random_secret();
    let new = NewSecret {
        purpose,
        secret: secret.clone(),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
        new_email: new_email.map(str::to_owned),
    };
    assert!(
        f.secrets
            .issue(user.id, new, Vec::new(), Duration::zero())
            .await
            .unwrap()
    );
    secret
}

fn token(secret: &OneTimeSecret) -> SecretProof {
    SecretProof::Token(secret.token().to_owned())
}

fn new_hash(tag: &str) -> PasswordHash {
    PasswordHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$fake${tag}"))
}

fn changed_notice(user: &User) -> EmailJob {
    EmailJob::new(
        Email::PasswordChanged {
            to: user.email.as_str().to_owned(),
            changed_at: "t".into(),
        },
        now(),
    )
}

/// A reset with `proof` to the hash tagged `tag`, its notice built by
/// [`changed_notice`].
async fn reset_with(
    secrets: &PgOneTimeSecretStore,
    proof: SecretProof,
    tag: &str,
) -> Option<application::ports::CompletedReset> {
    secrets
        .reset_password(proof, new_hash(tag), now(), Box::new(changed_notice))
        .await
        .unwrap()
}

async fn stored_hash(f: &Fixture, user: &User) -> String {
    f.users
        .find_credentials(&user.email.normalized())
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .as_str()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_stores_the_hash_verifies_the_address_ends_every_session_and_queues_the_notice() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 2).await;
    assert!(!ada.email_verified);
    let secret = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;

    let reset = reset_with(&f.secrets, token(&secret), "new").await.unwrap();

    assert_eq!(reset.user.id, ada.id);
    assert!(reset.user.email_verified);
    let mut ended: Vec<_> = reset.ended.iter().map(|s| s.id.clone()).collect();
    ended.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = sessions.clone();
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(ended, expected);
    assert!(reset.ended.iter().all(|s| s.was_live));
    assert!(
        f.sessions
            .list_live(ada.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(stored_hash(&f, &ada).await.ends_with("$new"));
    assert!(matches!(
        &drained(&f).await[..],
        [Email::PasswordChanged { to, .. }] if to == "ada@example.io"
    ));
    // Whoever held a device token of the account proves itself again.
    for session in &sessions {
        let device_token = domain::token_digest(session.as_str());
        assert!(
            !f.sessions
                .recognises_device(ada.id, device_token)
                .await
                .unwrap()
        );
    }
    // A login that read the old epoch opens nothing any more.
    let stale = f
        .sessions
        .open(
            NewSession {
                id: SessionId::new(Uuid::new_v4().simple().to_string()),
                user_id: ada.id,
                created_at: now(),
                expires_at: now() + Duration::seconds(1_000),
                device: ClientDevice::new(None, None),
                device_token: [0; 32],
                live_limit: 100,
                methods: domain::AuthMethods::Password,
                audit: login_event(ada.id, now()),
            },
            SessionEpoch(0),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(stale, OpenedSession::AccountChanged));

    // The secret is spent.
    let again = reset_with(&f.secrets, token(&secret), "again").await;
    assert!(again.is_none());
    assert!(stored_hash(&f, &ada).await.ends_with("$new"));
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_concurrent_resets_exactly_one_happens() {
    let f = fixture().await;
    let (ada, _) = user_with_sessions(&f, "ada", 1).await;
    let secret = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;

    let resets = (0..2).map(|i| {
        let secrets = f.secrets.clone();
        let proof = token(&secret);
        tokio::spawn(async move { reset_with(&secrets, proof, &format!("r{i}")).await })
    });
    let mut done = 0;
    for reset in resets.collect::<Vec<_>>() {
        done += usize::from(reset.await.unwrap().is_some());
    }
    assert_eq!(done, 1);
    assert_eq!(drained(&f).await.len(), 1, "one notice, from the one reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_proof_changes_nothing_and_a_verification_secret_resets_nothing() {
    let f = fixture().await;
    let (ada, _) = user_with_sessions(&f, "ada", 1).await;
    let before = stored_hash(&f, &ada).await;
    // A live secret of another purpose does not open a reset.
    let verification = issued(&f, &ada, SecretPurpose::VerifyEmail, None).await;
    for proof in [token(&verification), token(&random_secret())] {
        let reset = reset_with(&f.secrets, proof, "x").await;
        assert!(reset.is_none());
    }
    assert_eq!(stored_hash(&f, &ada).await, before);
    assert_eq!(f.sessions.list_live(ada.id, now()).await.unwrap().len(), 1);
    assert!(drained(&f).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_change_moves_the_account_to_the_new_address_once() {
    let f = fixture().await;
    let (ada, _) = user_with_sessions(&f, "ada", 0).await;
    let secret = issued(
        &f,
        &ada,
        SecretPurpose::ChangeEmail,
        Some("Ada.New@Example.io"),
    )
    .await;

    let outcome = f.secrets.change_email(token(&secret), now()).await.unwrap();
    let EmailChangeOutcome::Changed(changed) = outcome else {
        panic!("expected a change, got {outcome:?}");
    };
    let changed = changed.user;
    assert_eq!(changed.id, ada.id);
    assert_eq!(changed.email.as_str(), "Ada.New@Example.io");
    assert!(changed.email_verified);
    assert!(
        f.users
            .find_by_email("ada.new@example.io")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.users
            .find_by_email("ada@example.io")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        f.secrets.change_email(token(&secret), now()).await.unwrap(),
        EmailChangeOutcome::InvalidOrExpired
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_taken_meanwhile_is_refused_and_leaves_the_secret_usable() {
    let f = fixture().await;
    let (ada, _) = user_with_sessions(&f, "ada", 0).await;
    let secret = issued(
        &f,
        &ada,
        SecretPurpose::ChangeEmail,
        Some("taken@example.io"),
    )
    .await;
    let (squatter, _) = user_with_sessions(&f, "taken", 0).await;

    assert!(matches!(
        f.secrets.change_email(token(&secret), now()).await.unwrap(),
        EmailChangeOutcome::AddressTaken
    ));
    let ada_now = f.users.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(ada_now.email.as_str(), "ada@example.io");

    // Once the address is free again, the same link still works.
    assert!(
        f.users
            .delete(squatter.id, now(), deleted(squatter.id))
            .await
            .unwrap()
    );
    assert!(matches!(
        f.secrets.change_email(token(&secret), now()).await.unwrap(),
        EmailChangeOutcome::Changed(done) if done.user.email.as_str() == "taken@example.io"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_keeps_the_current_session_and_ends_the_others() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 3).await;
    let keep = sessions[0].clone();

    let ended = f
        .users
        .change_password(
            ada.id,
            new_hash("changed"),
            keep.clone(),
            now(),
            changed_notice(&ada),
        )
        .await
        .unwrap()
        .unwrap();

    assert_eq!(ended.len(), 2);
    assert!(ended.iter().all(|s| s.id != keep && s.was_live));
    let live: Vec<_> = f
        .sessions
        .list_live(ada.id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![keep]);
    assert!(stored_hash(&f, &ada).await.ends_with("$changed"));
    assert!(matches!(
        &drained(&f).await[..],
        [Email::PasswordChanged { .. }]
    ));

    // No such user: nothing written, no notice queued.
    assert!(
        f.users
            .change_password(
                domain::UserId::new(ada.id.get() + 1_000),
                new_hash("x"),
                SessionId::new("none"),
                now(),
                changed_notice(&ada),
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(drained(&f).await.is_empty());
}

/// Whether `secret` still opens anything: a live row with its token digest.
async fn live(f: &Fixture, secret: &OneTimeSecret) -> bool {
    use diesel::sql_types::{BigInt, Bytea};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = raw_connection(&f._db.url).await;
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM one_time_secrets WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind::<Bytea, _>(domain::token_digest(secret.token()).to_vec())
    .get_result(&mut conn)
    .await
    .unwrap();
    row.count == 1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_or_a_password_change_kills_a_pending_email_change() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let intruder_change = issued(
        &f,
        &ada,
        SecretPurpose::ChangeEmail,
        Some("intruder@example.io"),
    )
    .await;
    assert!(live(&f, &intruder_change).await);
    let reset = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;
    reset_with(&f.secrets, token(&reset), "r").await.unwrap();
    assert!(!live(&f, &intruder_change).await);
    assert!(matches!(
        f.secrets
            .change_email(token(&intruder_change), now())
            .await
            .unwrap(),
        EmailChangeOutcome::InvalidOrExpired
    ));

    let again = issued(
        &f,
        &ada,
        SecretPurpose::ChangeEmail,
        Some("intruder@example.io"),
    )
    .await;
    f.users
        .change_password(
            ada.id,
            new_hash("c"),
            sessions[0].clone(),
            now(),
            changed_notice(&ada),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!live(&f, &again).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_change_kills_the_links_sent_to_the_old_address() {
    let f = fixture().await;
    let (ada, _) = user_with_sessions(&f, "ada", 0).await;
    let reset = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;
    let change = issued(
        &f,
        &ada,
        SecretPurpose::ChangeEmail,
        Some("ada.new@example.io"),
    )
    .await;
    assert!(live(&f, &reset).await);
    assert!(matches!(
        f.secrets.change_email(token(&change), now()).await.unwrap(),
        EmailChangeOutcome::Changed(_)
    ));
    assert!(!live(&f, &reset).await);
    assert!(reset_with(&f.secrets, token(&reset), "x").await.is_none());
}

/// What [`requested`] issued: the change secret and the undo token.
struct Requested {
    change: OneTimeSecret,
    undo: OneTimeSecret,
}

/// An email change of `user` to `new_email` asked from `session`, as
/// `POST /users/me/email` stores it, with one notice for the old address.
async fn requested(f: &Fixture, user: &User, new_email: &str, session: &SessionId) -> Requested {
    let change = random_secret();
    let undo = random_secret();
    let request = NewEmailChange {
        change: NewSecret {
            purpose: SecretPurpose::ChangeEmail,
            secret: change.clone(),
            created_at: now(),
            expires_at: now() + Duration::hours(1),
            new_email: Some(new_email.to_owned()),
        },
        session: session.clone(),
        undo: NewUndo {
            secret: undo.clone(),
            old_email: user.email.as_str().to_owned(),
            created_at: now(),
            expires_at: now() + Duration::days(7),
        },
    };
    let notice = EmailJob::new(
        Email::EmailChanging {
            to: user.email.as_str().to_owned(),
            new_email: new_email.to_owned(),
            undo_link: format!(
                "https://app.example/undo-email-change#token={}",
                undo.token()
            ),
        },
        now(),
    );
    f.secrets
        .issue_email_change(user.id, request, vec![notice])
        .await
        .unwrap();
    Requested { change, undo }
}

async fn undo(f: &Fixture, secret: &OneTimeSecret) -> EmailChangeOutcome {
    f.secrets
        .undo_email_change(secret.token().to_owned(), now())
        .await
        .unwrap()
}

async fn email_of(f: &Fixture, user: &User) -> User {
    f.users.find_by_id(user.id).await.unwrap().unwrap()
}

fn sorted(mut ids: Vec<SessionId>) -> Vec<SessionId> {
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmed_change_ends_every_session_but_the_one_that_asked() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 3).await;
    let asked = sessions[1].clone();
    let request = requested(&f, &ada, "ada.new@example.io", &asked).await;
    assert!(matches!(
        &drained(&f).await[..],
        [Email::EmailChanging { to, .. }] if to == "ada@example.io"
    ));

    let outcome = f
        .secrets
        .change_email(token(&request.change), now())
        .await
        .unwrap();
    let EmailChangeOutcome::Changed(done) = outcome else {
        panic!("expected a change, got {outcome:?}");
    };
    assert_eq!(done.user.email.as_str(), "ada.new@example.io");
    let ended = done.ended.iter().map(|s| s.id.clone()).collect();
    let others = sessions
        .iter()
        .filter(|id| **id != asked)
        .cloned()
        .collect();
    assert_eq!(sorted(ended), sorted(others));
    assert!(done.ended.iter().all(|s| s.was_live));
    let live: Vec<_> = f
        .sessions
        .list_live(ada.id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(live, vec![asked]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_after_the_confirmation_restores_the_old_address_and_ends_every_session() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 2).await;
    let request = requested(&f, &ada, "intruder@example.io", &sessions[0]).await;
    assert!(matches!(
        f.secrets
            .change_email(token(&request.change), now())
            .await
            .unwrap(),
        EmailChangeOutcome::Changed(_)
    ));
    assert_eq!(
        email_of(&f, &ada).await.email.as_str(),
        "intruder@example.io"
    );
    // The intruder's reset link, sent to its address, must die with the undo.
    let reset = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;

    let EmailChangeOutcome::Changed(done) = undo(&f, &request.undo).await else {
        panic!("expected the undo to happen");
    };
    assert_eq!(done.user.email.as_str(), "ada@example.io");
    assert!(done.user.email_verified);
    // Only the live one is ended: the confirmation had already ended the
    // one that did not ask, and ending every session touches live ones
    // only.
    let covered: Vec<_> = done.ended.iter().map(|s| s.id.clone()).collect();
    assert_eq!(covered, vec![sessions[0].clone()]);
    assert!(done.ended.iter().all(|s| s.was_live));
    assert!(
        f.sessions
            .list_live(ada.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!live(&f, &reset).await);
    assert!(
        f.users
            .find_by_email("ada@example.io")
            .await
            .unwrap()
            .is_some()
    );
    // Once only.
    assert!(matches!(
        undo(&f, &request.undo).await,
        EmailChangeOutcome::InvalidOrExpired
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_before_the_confirmation_cancels_the_pending_change() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let request = requested(&f, &ada, "ada.new@example.io", &sessions[0]).await;

    let EmailChangeOutcome::Changed(done) = undo(&f, &request.undo).await else {
        panic!("expected the undo to happen");
    };
    assert_eq!(done.user.email.as_str(), "ada@example.io");
    assert!(done.user.email_verified);
    assert!(!live(&f, &request.change).await);
    assert!(matches!(
        f.secrets
            .change_email(token(&request.change), now())
            .await
            .unwrap(),
        EmailChangeOutcome::InvalidOrExpired
    ));
    assert_eq!(email_of(&f, &ada).await.email.as_str(), "ada@example.io");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_request_does_not_take_the_owners_undo_link_away() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let first = requested(&f, &ada, "intruder@example.io", &sessions[0]).await;
    assert!(matches!(
        f.secrets
            .change_email(token(&first.change), now())
            .await
            .unwrap(),
        EmailChangeOutcome::Changed(_)
    ));
    let moved = email_of(&f, &ada).await;
    // The intruder moves on, and undoes its own second change first.
    let second = requested(&f, &moved, "elsewhere@example.io", &sessions[0]).await;
    assert!(matches!(
        undo(&f, &second.undo).await,
        EmailChangeOutcome::Changed(done) if done.user.email.as_str() == "intruder@example.io"
    ));
    // The owner's link still works, and wins.
    assert!(matches!(
        undo(&f, &first.undo).await,
        EmailChangeOutcome::Changed(done) if done.user.email.as_str() == "ada@example.io"
    ));
    // Undoing the first change killed the links of the later ones.
    let third = requested(&f, &email_of(&f, &ada).await, "x@example.io", &sessions[0]).await;
    assert!(matches!(
        undo(&f, &first.undo).await,
        EmailChangeOutcome::InvalidOrExpired
    ));
    assert!(matches!(
        undo(&f, &third.undo).await,
        EmailChangeOutcome::Changed(_)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undo_to_an_address_taken_meanwhile_changes_nothing_and_stays_usable() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let request = requested(&f, &ada, "ada.new@example.io", &sessions[0]).await;
    assert!(matches!(
        f.secrets
            .change_email(token(&request.change), now())
            .await
            .unwrap(),
        EmailChangeOutcome::Changed(_)
    ));
    // Someone registers the address the account left.
    let (squatter, _) = user_with_sessions(&f, "ada", 0).await;

    assert!(matches!(
        undo(&f, &request.undo).await,
        EmailChangeOutcome::AddressTaken
    ));
    assert_eq!(
        email_of(&f, &ada).await.email.as_str(),
        "ada.new@example.io"
    );
    assert_eq!(f.sessions.list_live(ada.id, now()).await.unwrap().len(), 1);

    assert!(
        f.users
            .delete(squatter.id, now(), deleted(squatter.id))
            .await
            .unwrap()
    );
    assert!(matches!(
        undo(&f, &request.undo).await,
        EmailChangeOutcome::Changed(done) if done.user.email.as_str() == "ada@example.io"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_or_expired_undo_token_is_invalid() {
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let request = requested(&f, &ada, "ada.new@example.io", &sessions[0]).await;
    assert!(matches!(
        undo(&f, &random_secret()).await,
        EmailChangeOutcome::InvalidOrExpired
    ));
    // The change secret is no undo token.
    assert!(matches!(
        undo(&f, &request.change).await,
        EmailChangeOutcome::InvalidOrExpired
    ));
    let late = f
        .secrets
        .undo_email_change(
            request.undo.token().to_owned(),
            now() + Duration::days(7) + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert!(matches!(late, EmailChangeOutcome::InvalidOrExpired));
    assert_eq!(email_of(&f, &ada).await.email.as_str(), "ada@example.io");
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

/// The events of `kind` about `user`, newest first.
async fn audit_events(
    f: &Fixture,
    user: &User,
    kind: domain::AuditEventKind,
) -> Vec<application::ports::AuditEvent> {
    use application::ports::{AuditLog, AuditQuery};
    postgres_adapter::PgAuditLog::new(pool(&f._db.url), settings())
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
}

/// Each change a link or a password makes writes its event in its own
/// transaction: a reset request with its secret, the reset, the
/// verification and the password change (naming the session kept); a
/// proof that fails and a secret of another purpose write nothing. (The
/// email change's events are walked end to end in the API tests.)
#[tokio::test(flavor = "multi_thread")]
async fn each_account_change_writes_its_event_with_the_change() {
    use domain::AuditEventKind as Kind;
    let f = fixture().await;
    let (ada, sessions) = user_with_sessions(&f, "ada", 1).await;
    let count = async |kind| audit_events(&f, &ada, kind).await.len();

    let verification = issued(&f, &ada, SecretPurpose::VerifyEmail, None).await;
    assert_eq!(count(Kind::PasswordResetRequested).await, 0);
    let reset = issued(&f, &ada, SecretPurpose::ResetPassword, None).await;
    assert_eq!(count(Kind::PasswordResetRequested).await, 1);
    assert!(
        reset_with(&f.secrets, token(&random_secret()), "x")
            .await
            .is_none()
    );
    assert_eq!(count(Kind::PasswordReset).await, 0);
    assert!(reset_with(&f.secrets, token(&reset), "r").await.is_some());
    assert_eq!(count(Kind::PasswordReset).await, 1);
    f.secrets
        .verify_email(token(&verification), now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count(Kind::EmailVerified).await, 1);

    let keep = sessions[0].clone();
    f.users
        .change_password(
            ada.id,
            new_hash("c"),
            keep.clone(),
            now(),
            changed_notice(&ada),
        )
        .await
        .unwrap();
    let changed = audit_events(&f, &ada, Kind::PasswordChanged).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].session, Some(keep));
    assert_eq!(changed[0].actor, Some(ada.id));
}
