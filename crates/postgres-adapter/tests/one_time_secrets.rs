#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgOneTimeSecretStore` on a real PostgreSQL: consuming is atomic, codes
//! have 5 tries, an account has 10 wrong codes a day per purpose, a new
//! send kills the previous pair, and sends are spaced.
mod support;

use std::sync::Arc;

use application::ports::{NewSecret, OneTimeSecretStore, UserRepository};
use application::{Email, EmailJob};
use chrono::{DateTime, Duration, Utc};
use domain::{OneTimeSecret, PasswordHash, SecretProof, SecretPurpose, User};
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
            support::registered(),
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

/// A wrong code for `secret`.
fn wrong_for(secret: &OneTimeSecret) -> &'static str {
    if secret.code() == "000000" {
        "000001"
    } else {
        "000000"
    }
}

/// Issues `secret` for `purpose` to `user` at `at`, replacing the live pair
/// (no spacing asked), valid for three days so that moving `now` past a
/// day leaves it live.
async fn issue_at(
    f: &Fixture,
    user: &User,
    purpose: SecretPurpose,
    secret: &OneTimeSecret,
    at: DateTime<Utc>,
) {
    let sent = f
        .secrets
        .issue(
            user.id,
            NewSecret {
                purpose,
                secret: secret.clone(),
                created_at: at,
                expires_at: at + Duration::days(3),
                new_email: None,
            },
            vec![email_job(user.email.as_str())],
            Duration::zero(),
        )
        .await
        .unwrap();
    assert!(sent);
}

async fn verifies(f: &Fixture, proof: SecretProof, now: DateTime<Utc>) -> bool {
    f.secrets.verify_email(proof, now).await.unwrap().is_some()
}

async fn resets(f: &Fixture, proof: SecretProof, now: DateTime<Utc>) -> bool {
    f.secrets
        .reset_password(
            proof,
            PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$fake$new".to_owned()),
            now,
            Box::new(|user: &User| email_job(user.email.as_str())),
        )
        .await
        .unwrap()
        .is_some()
}

/// `count` wrong codes for `secret` of `email`, one a minute from `from`.
async fn guess_wrong(
    f: &Fixture,
    email: &str,
    secret: &OneTimeSecret,
    count: i64,
    from: DateTime<Utc>,
) {
    for n in 0..count {
        let at = from + Duration::minutes(n);
        assert!(!verifies(f, code(email, wrong_for(secret)), at).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_wrong_codes_over_several_codes_refuse_every_code_for_a_day_but_not_the_link() {
    let f = fixture().await;
    let ada = registered(&f, "ada", random_secret()).await;
    let start = Utc::now();
    let email = "ada@example.io";

    // Five wrong tries kill a code; a new code brings five more, but the
    // account's budget keeps counting across codes.
    for round in 0..2 {
        let secret = random_secret();
        let at = start + Duration::hours(round);
        issue_at(&f, &ada, SecretPurpose::VerifyEmail, &secret, at).await;
        guess_wrong(&f, email, &secret, 5, at).await;
    }

    // The right code of a NEW code is refused: issuing never resets the
    // count, and neither does another one later.
    let third = random_secret();
    let later = start + Duration::hours(3);
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &third, later).await;
    assert!(
        !verifies(&f, code(email, third.code()), later).await,
        "the right code after ten wrong ones over two codes"
    );
    let fourth = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &fourth, later).await;
    assert!(!verifies(&f, code(email, fourth.code()), later).await);

    // The link of that code still works.
    assert!(verifies(&f, token(&fourth), later).await);

    // Until a day after the FIRST wrong code (not the last one): refused.
    let fifth = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &fifth, later).await;
    let almost = start + Duration::hours(24) - Duration::seconds(1);
    assert!(!verifies(&f, code(email, fifth.code()), almost).await);
    // Then the count starts afresh: one wrong code spends one of ten.
    let over = start + Duration::hours(24);
    assert!(!verifies(&f, code(email, wrong_for(&fifth)), over).await);
    assert!(verifies(&f, code(email, fifth.code()), over).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn nine_wrong_codes_leave_the_right_one_working() {
    let f = fixture().await;
    let ada = registered(&f, "ada", random_secret()).await;
    let start = Utc::now();
    let first = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &first, start).await;
    guess_wrong(&f, "ada@example.io", &first, 5, start).await;
    let second = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &second, start).await;
    guess_wrong(&f, "ada@example.io", &second, 4, start).await;
    assert!(verifies(&f, code("ada@example.io", second.code()), start).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_budget_is_per_account_and_purpose() {
    let f = fixture().await;
    let ada = registered(&f, "ada", random_secret()).await;
    let bob = registered(&f, "bob", random_secret()).await;
    let now = Utc::now();
    for round in 0..2 {
        let secret = random_secret();
        issue_at(&f, &ada, SecretPurpose::VerifyEmail, &secret, now).await;
        guess_wrong(
            &f,
            "ada@example.io",
            &secret,
            5,
            now + Duration::hours(round),
        )
        .await;
    }
    // Another purpose of the same account, and the same purpose of another
    // account, have budgets of their own.
    let reset = random_secret();
    issue_at(&f, &ada, SecretPurpose::ResetPassword, &reset, now).await;
    assert!(resets(&f, code("ada@example.io", reset.code()), now).await);
    let bobs = random_secret();
    issue_at(&f, &bob, SecretPurpose::VerifyEmail, &bobs, now).await;
    assert!(verifies(&f, code("bob@example.io", bobs.code()), now).await);

    // A reset's codes are counted in the same way.
    for round in 0..2 {
        let secret = random_secret();
        issue_at(&f, &bob, SecretPurpose::ResetPassword, &secret, now).await;
        for _ in 0..5 {
            let wrong = code("bob@example.io", wrong_for(&secret));
            assert!(!resets(&f, wrong, now + Duration::hours(round)).await);
        }
    }
    let secret = random_secret();
    issue_at(&f, &bob, SecretPurpose::ResetPassword, &secret, now).await;
    assert!(!resets(&f, code("bob@example.io", secret.code()), now).await);
    assert!(resets(&f, token(&secret), now).await);
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
}

/// The wrong codes counted for `user`'s verification codes.
async fn counted(f: &Fixture, user: &User) -> i32 {
    use diesel_async::RunQueryDsl;
    let mut conn = raw_connection(&f._db.url).await;
    diesel::sql_query(
        "SELECT failures FROM code_failures WHERE purpose = 'verify_email' AND user_id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(user.id.get())
    .get_result::<Counted>(&mut conn)
    .await
    .unwrap()
    .failures
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_wrong_codes_take_turns_and_the_count_stops_at_ten() {
    let f = fixture().await;
    let ada = registered(&f, "ada", random_secret()).await;
    let now = Utc::now();
    let secret = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &secret, now).await;
    guess_wrong(&f, "ada@example.io", &secret, 5, now).await;
    assert_eq!(counted(&f, &ada).await, 5);
    let second = random_secret();
    issue_at(&f, &ada, SecretPurpose::VerifyEmail, &second, now).await;
    // Each attempt checks the budget while holding the secret's row: of
    // twenty at once, five are counted and the rest find it spent.
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let secrets = f.secrets.clone();
            let proof = code("ada@example.io", wrong_for(&second));
            tokio::spawn(async move { secrets.verify_email(proof, now).await.unwrap() })
        })
        .collect();
    for attempt in attempts {
        assert!(attempt.await.unwrap().is_none());
    }
    assert_eq!(counted(&f, &ada).await, 10);
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
