#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgOneTimeSecretStore` on a real PostgreSQL: consuming is atomic, codes
//! have 5 tries, a new send kills the previous pair, and sends are spaced.
mod support;

use std::sync::Arc;

use application::ports::{OneTimeSecretStore, UserRepository};
use application::{Email, EmailJob};
use chrono::{Duration, Utc};
use domain::{OneTimeSecret, SecretProof, User};
use postgres_adapter::{PgOneTimeSecretStore, PgUserRepository};
use support::*;

struct Fixture {
    _db: TestDatabase,
    users: PgUserRepository,
    secrets: Arc<PgOneTimeSecretStore>,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        secrets: Arc::new(PgOneTimeSecretStore::new(pool, settings())),
        _db: db,
    }
}

/// A user registered with `secret` as its verification secret.
async fn registered(f: &Fixture, name: &str, secret: OneTimeSecret) -> User {
    let email = format!("{name}@example.io");
    f.users
        .create(
            new_user(name, &email),
            verification_of(secret),
            welcome(&email),
        )
        .await
        .unwrap()
}

fn token(secret: &OneTimeSecret) -> SecretProof {
    SecretProof::Token(secret.token().to_owned())
}

fn code(email: &str, code: &str) -> SecretProof {
    SecretProof::Code {
        email: email.to_owned(),
        code: code.to_owned(),
    }
}

fn email_job(to: &str) -> EmailJob {
    EmailJob::new(
        Email::VerifyEmail {
            to: to.to_owned(),
            link: "l".into(),
            code: "c".into(),
        },
        Utc::now(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_verifies_once() {
    let f = fixture().await;
    let secret = random_secret();
    let ada = registered(&f, "ada", secret.clone()).await;
    assert!(!ada.email_verified);

    let verified = f
        .secrets
        .verify_email(token(&secret), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(verified.id, ada.id);
    assert!(verified.email_verified);
    assert!(
        f.users
            .find_by_id(ada.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert!(
        f.secrets
            .verify_email(token(&secret), Utc::now())
            .await
            .unwrap()
            .is_none(),
        "used"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn of_concurrent_consumers_exactly_one_wins() {
    let f = fixture().await;
    let secret = random_secret();
    registered(&f, "ada", secret.clone()).await;
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let secrets = f.secrets.clone();
            let proof = token(&secret);
            tokio::spawn(async move { secrets.verify_email(proof, Utc::now()).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for attempt in attempts {
        winners += usize::from(attempt.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_allows_five_wrong_tries_then_is_dead() {
    let f = fixture().await;
    let secret = random_secret();
    registered(&f, "ada", secret.clone()).await;
    let wrong = if secret.code() == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert!(
            f.secrets
                .verify_email(code("ada@example.io", wrong), Utc::now())
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        f.secrets
            .verify_email(code("ADA@example.io", secret.code()), Utc::now())
            .await
            .unwrap()
            .is_none(),
        "the right code after five wrong ones"
    );
    // The link still works: only the code is dead.
    assert!(
        f.secrets
            .verify_email(token(&secret), Utc::now())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_right_code_of_the_right_account_verifies() {
    let f = fixture().await;
    let secret = random_secret();
    registered(&f, "ada", secret.clone()).await;
    let bob_secret = random_secret();
    registered(&f, "bob", bob_secret.clone()).await;
    if secret.code() != bob_secret.code() {
        assert!(
            f.secrets
                .verify_email(code("bob@example.io", secret.code()), Utc::now())
                .await
                .unwrap()
                .is_none(),
            "ada's code does not open bob's account"
        );
    }
    let verified = f
        .secrets
        .verify_email(code(" Ada@Example.io ", secret.code()), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(verified.email.as_str(), "ada@example.io");
    assert!(
        f.secrets
            .verify_email(code("nobody@example.io", "123456"), Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.secrets
            .verify_email(code("nul\0@example.io", "123456"), Utc::now())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_secret_verifies_nothing() {
    let f = fixture().await;
    let secret = random_secret();
    registered(&f, "ada", secret.clone()).await;
    let later = Utc::now() + Duration::hours(25);
    assert!(
        f.secrets
            .verify_email(token(&secret), later)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_send_is_spaced_and_kills_the_previous_pair() {
    let f = fixture().await;
    let first = random_secret();
    let ada = registered(&f, "ada", first.clone()).await;

    // Within the minute after registration's welcome: nothing is sent.
    let second = random_secret();
    let sent = f
        .secrets
        .issue(
            ada.id,
            verification_of(second.clone()),
            vec![email_job("ada@example.io")],
            Duration::seconds(60),
        )
        .await
        .unwrap();
    assert!(!sent);
    assert!(
        f.secrets
            .verify_email(token(&second), Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    // With no spacing asked, the new pair replaces the old one.
    let sent = f
        .secrets
        .issue(
            ada.id,
            verification_of(second.clone()),
            vec![email_job("ada@example.io")],
            Duration::zero(),
        )
        .await
        .unwrap();
    assert!(sent);
    assert!(
        f.secrets
            .verify_email(token(&first), Utc::now())
            .await
            .unwrap()
            .is_none(),
        "killed"
    );
    assert!(
        f.secrets
            .verify_email(token(&second), Utc::now())
            .await
            .unwrap()
            .is_some()
    );
}

/// The email rows queued for `to`.
async fn queued_for(f: &Fixture, to: &str) -> i64 {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = raw_connection(&f._db.url).await;
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM email_outbox WHERE payload::jsonb ->> 'to' = $1",
    )
    .bind::<Text, _>(to)
    .get_result(&mut conn)
    .await
    .unwrap();
    row.count
}

#[tokio::test(flavor = "multi_thread")]
async fn of_concurrent_first_sends_exactly_one_is_issued() {
    let f = fixture().await;
    let ada = registered(&f, "ada", random_secret()).await;
    // No reset row exists yet: nothing to lock, only the insert decides.
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let secrets = f.secrets.clone();
            tokio::spawn(async move {
                let now = Utc::now();
                let reset = application::ports::NewSecret {
                    purpose: domain::SecretPurpose::ResetPassword,
                    secret: random_secret(),
                    created_at: now,
                    expires_at: now + Duration::hours(1),
                    new_email: None,
                };
                let job = EmailJob::new(
                    Email::PasswordReset {
                        to: "ada-reset@example.io".into(),
                        username: "ada".into(),
                        link: "l".into(),
                        code: "c".into(),
                    },
                    now,
                );
                secrets
                    .issue(ada.id, reset, vec![job], Duration::seconds(60))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut issued = 0;
    for send in sends {
        issued += usize::from(send.await.unwrap());
    }
    assert_eq!(issued, 1);
    assert_eq!(queued_for(&f, "ada-reset@example.io").await, 1);
}
