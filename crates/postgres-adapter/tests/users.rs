#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod support;

use std::sync::Arc;
use std::time::Duration;

use application::ports::{EmailOutbox, RepositoryError, SessionEpoch, UserRepository};
use domain::{Role, UserId};
use postgres_adapter::{PgEmailOutbox, PgUserRepository};
use support::*;

async fn repository() -> (TestDatabase, PgUserRepository, PgEmailOutbox) {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    (
        db,
        PgUserRepository::new(pool.clone(), settings()),
        PgEmailOutbox::new(pool, settings()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn created_users_are_found_by_id_and_by_email_in_any_case() {
    let (_db, users, _) = repository().await;
    let created = users
        .create(
            new_user("Ada", "Ada.Lovelace@Example.io"),
            verification(),
            welcome("Ada.Lovelace@Example.io"),
            registered(),
        )
        .await
        .unwrap();
    assert_eq!(created.username.as_str(), "Ada");
    assert_eq!(
        created.email.as_str(),
        "Ada.Lovelace@Example.io",
        "kept as typed"
    );
    assert_eq!(created.role, Role::User);

    let by_id = users.find_by_id(created.id).await.unwrap();
    assert_eq!(by_id, Some(created.clone()));

    let credentials = users
        .find_credentials("ada.lovelace@example.io")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.user, created);
    assert_eq!(
        credentials.password_hash.as_str(),
        "$argon2id$v=19$m=19456,t=2,p=1$fake$Ada"
    );
    assert_eq!(credentials.session_epoch, SessionEpoch(0));

    assert!(
        users
            .find_by_id(UserId::new(created.id.get() + 1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .find_credentials("nobody@example.io")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        users
            .find_id_by_email("ada.lovelace@example.io")
            .await
            .unwrap(),
        Some(created.id)
    );
    assert_eq!(
        users.find_id_by_email("nobody@example.io").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_are_distinct_and_increasing() {
    let (_db, users, _) = repository().await;
    let first = users
        .create(
            new_user("one", "one@x.io"),
            verification(),
            welcome("one@x.io"),
            registered(),
        )
        .await
        .unwrap();
    let second = users
        .create(
            new_user("two", "two@x.io"),
            verification(),
            welcome("two@x.io"),
            registered(),
        )
        .await
        .unwrap();
    assert!(second.id > first.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_email_in_another_case_is_taken_and_writes_no_email() {
    let (_db, users, outbox) = repository().await;
    let first_job = welcome("a@x.io");
    users
        .create(
            new_user("first", "a@x.io"),
            verification(),
            first_job.clone(),
            registered(),
        )
        .await
        .unwrap();

    let second = users
        .create(
            new_user("second", "  A@X.IO "),
            verification(),
            welcome("A@X.IO"),
            registered(),
        )
        .await;
    assert!(
        matches!(second, Err(RepositoryError::EmailTaken)),
        "{second:?}"
    );

    // The failed registration rolled back its outbox row too.
    let jobs = outbox.lease(100, Duration::from_secs(30)).await.unwrap();
    assert_eq!(jobs, vec![first_job]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_race_has_exactly_one_winner() {
    let (_db, users, outbox) = repository().await;
    let users = Arc::new(users);
    let contenders = (0..10).map(|i| {
        let users = Arc::clone(&users);
        // Same account, spelled differently by each contender.
        let email = if i % 2 == 0 { "race@x.io" } else { "RACE@x.io" };
        tokio::spawn(async move {
            users
                .create(
                    new_user(&format!("racer{i}"), email),
                    verification(),
                    welcome(email),
                    registered(),
                )
                .await
        })
    });
    let mut winners = 0;
    let mut taken = 0;
    for contender in contenders.collect::<Vec<_>>() {
        match contender.await.unwrap() {
            Ok(_) => winners += 1,
            Err(RepositoryError::EmailTaken) => taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((winners, taken), (1, 9));
    assert_eq!(
        outbox
            .lease(100, Duration::from_secs(30))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_reports_whether_a_user_was_there_and_frees_the_email() {
    let (_db, users, _) = repository().await;
    let user = users
        .create(
            new_user("gone", "gone@x.io"),
            verification(),
            welcome("gone@x.io"),
            registered(),
        )
        .await
        .unwrap();

    assert!(
        users
            .delete(user.id, chrono::Utc::now(), deleted(user.id))
            .await
            .unwrap()
    );
    assert!(
        !users
            .delete(user.id, chrono::Utc::now(), deleted(user.id))
            .await
            .unwrap()
    );
    assert!(users.find_by_id(user.id).await.unwrap().is_none());
    assert!(users.find_credentials("gone@x.io").await.unwrap().is_none());

    let again = users
        .create(
            new_user("back", "Gone@x.io"),
            verification(),
            welcome("Gone@x.io"),
            registered(),
        )
        .await
        .unwrap();
    assert_ne!(again.id, user.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn set_role_finds_the_user_by_normalized_email() {
    let (_db, users, _) = repository().await;
    let user = users
        .create(
            new_user("boss", "Boss@X.io"),
            verification(),
            welcome("Boss@X.io"),
            registered(),
        )
        .await
        .unwrap();

    let promoted = users
        .set_role("boss@x.io", Role::Admin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promoted.id, user.id);
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(
        users.find_by_id(user.id).await.unwrap().unwrap().role,
        Role::Admin
    );

    let demoted = users
        .set_role("boss@x.io", Role::User)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(demoted.role, Role::User);

    assert!(
        users
            .set_role("nobody@x.io", Role::Admin)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_writes_exactly_one_outbox_row_with_the_job() {
    let (_db, users, outbox) = repository().await;
    let job = welcome("mail@x.io");
    users
        .create(
            new_user("mailer", "mail@x.io"),
            verification(),
            job.clone(),
            registered(),
        )
        .await
        .unwrap();

    let leased = outbox.lease(100, Duration::from_secs(30)).await.unwrap();
    assert_eq!(leased, vec![job]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_that_breaks_the_domain_rules_is_unexpected() {
    use diesel_async::RunQueryDsl;

    let db = fresh_database().await;
    let users = PgUserRepository::new(pool(&db.url), settings());
    let mut conn = raw_connection(&db.url).await;
    diesel::sql_query(
        "INSERT INTO users (username, email, email_normalized, password_hash) \
         VALUES ('x', 'bad@x.io', 'bad@x.io', 'h')",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let found = users.find_credentials("bad@x.io").await;
    assert!(
        matches!(found, Err(RepositoryError::Unexpected(_))),
        "{found:?}"
    );
}

/// The v2 hardening made the rules stricter (no quoted local parts, no invisible
/// characters); an account stored under the older rules still loads.
#[tokio::test(flavor = "multi_thread")]
async fn a_row_stored_under_older_rules_still_loads() {
    use diesel_async::RunQueryDsl;

    let db = fresh_database().await;
    let users = PgUserRepository::new(pool(&db.url), settings());
    let mut conn = raw_connection(&db.url).await;
    diesel::sql_query(
        "INSERT INTO users (username, email, email_normalized, password_hash) \
         VALUES ('ad\u{200B}a', '\"a,b\"@example.com', '\"a,b\"@example.com', 'h')",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let user = users
        .find_credentials("\"a,b\"@example.com")
        .await
        .unwrap()
        .expect("the legacy account")
        .user;
    assert_eq!(user.email.as_str(), "\"a,b\"@example.com");
    assert_eq!(user.username.as_str(), "ad\u{200B}a");
}

/// PostgreSQL text cannot hold NUL, and a lookup with
/// one used to answer an error (a `500` at the edge). It matches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_key_with_a_nul_character_matches_no_user() {
    let db = fresh_database().await;
    let users = PgUserRepository::new(pool(&db.url), settings());
    users
        .create(
            new_user("ada", "ada@x.io"),
            verification(),
            welcome("ada@x.io"),
            registered(),
        )
        .await
        .unwrap();

    for key in ["ada@x.io\u{0}", "\u{0}", "a\u{0}da@x.io"] {
        assert!(
            users.find_credentials(key).await.unwrap().is_none(),
            "{key:?}"
        );
        assert!(
            users.set_role(key, Role::Admin).await.unwrap().is_none(),
            "{key:?}"
        );
    }
    assert!(users.find_credentials("ada@x.io").await.unwrap().is_some());
}

/// Every event of `kind` in the database, oldest first.
async fn events_of(
    db: &TestDatabase,
    kind: domain::AuditEventKind,
) -> Vec<application::ports::AuditEvent> {
    use application::ports::{AuditLog, AuditQuery};
    let audit = postgres_adapter::PgAuditLog::new(pool(&db.url), settings());
    let mut events = audit
        .query(AuditQuery {
            subject: None,
            kind: Some(kind),
            since: None,
            until: None,
            limit: 100,
            after: None,
        })
        .await
        .unwrap()
        .events;
    events.reverse();
    events
}

/// `user.registered` commits with the user (the new id as actor and
/// subject); a registration refused for a taken address leaves none.
#[tokio::test(flavor = "multi_thread")]
async fn a_registration_event_is_stored_exactly_with_its_user() {
    let (db, users, _) = repository().await;
    let ada = users
        .create(
            new_user("ada", "ada@x.io"),
            verification(),
            welcome("ada@x.io"),
            registered(),
        )
        .await
        .unwrap();
    let taken = users
        .create(
            new_user("again", "ADA@x.io"),
            verification(),
            welcome("ADA@x.io"),
            registered(),
        )
        .await;
    assert!(
        matches!(taken, Err(RepositoryError::EmailTaken)),
        "{taken:?}"
    );

    let events = events_of(&db, domain::AuditEventKind::UserRegistered).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].subject, Some(ada.id));
    assert_eq!(events[0].actor, Some(ada.id));
}

/// `user.deleted` commits with the deletion and outlives the user; a
/// delete of nobody writes none.
#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_event_is_stored_exactly_when_a_user_is_deleted() {
    let (db, users, _) = repository().await;
    let ada = users
        .create(
            new_user("ada", "ada@x.io"),
            verification(),
            welcome("ada@x.io"),
            registered(),
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    assert!(users.delete(ada.id, now, deleted(ada.id)).await.unwrap());
    assert!(!users.delete(ada.id, now, deleted(ada.id)).await.unwrap());
    assert!(
        !users
            .delete(UserId::new(999_999), now, deleted(UserId::new(999_999)))
            .await
            .unwrap()
    );
    let events = events_of(&db, domain::AuditEventKind::UserDeleted).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].subject, Some(ada.id));
}
