#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The admin user search against a real PostgreSQL: prefixes on email and
//! username in any case and taken literally, the role and status filters,
//! the keyset order, and what each row carries besides the user.
mod support;

use application::ports::{UserDirectory, UserRepository, UserSearch, UserStatus};
use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use domain::{Role, UserId};
use postgres_adapter::{PgUserDirectory, PgUserRepository};
use support::*;

struct Fixture {
    db: TestDatabase,
    users: PgUserRepository,
    directory: PgUserDirectory,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        directory: PgUserDirectory::new(pool, settings()),
        db,
    }
}

impl Fixture {
    async fn create(&self, username: &str, email: &str) -> UserId {
        self.users
            .create(
                new_user(username, email),
                verification(),
                welcome(email),
                registered(),
            )
            .await
            .unwrap()
            .id
    }

    async fn exec(&self, sql: &str, id: UserId, at: DateTime<Utc>) {
        let mut conn = raw_connection(&self.db.url).await;
        diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<Timestamptz, _>(at)
            .execute(&mut conn)
            .await
            .unwrap();
    }

    async fn names(&self, search: UserSearch) -> Vec<String> {
        self.directory
            .search(&search, Utc::now())
            .await
            .unwrap()
            .into_iter()
            .map(|summary| summary.user.username.as_str().to_owned())
            .collect()
    }
}

fn search(prefix: Option<&str>) -> UserSearch {
    UserSearch {
        prefix: prefix.map(str::to_owned),
        role: None,
        status: None,
        after: None,
        limit: 50,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prefix_matches_the_start_of_the_email_or_the_username_in_any_case() {
    let f = fixture().await;
    f.create("Ada", "lovelace@example.io").await;
    f.create("grace", "Hopper@Example.io").await;
    f.create("alan", "turing@example.io").await;

    assert_eq!(f.names(search(Some("ada"))).await, ["Ada"], "username");
    assert_eq!(f.names(search(Some("LOVE"))).await, ["Ada"], "email");
    assert_eq!(f.names(search(Some("hopper@ex"))).await, ["grace"]);
    assert_eq!(f.names(search(Some("GR"))).await, ["grace"]);
    assert_eq!(f.names(search(Some("a"))).await, ["Ada", "alan"]);
    assert!(
        f.names(search(Some("example"))).await.is_empty(),
        "not a substring"
    );
    assert_eq!(f.names(search(None)).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn like_wildcards_in_the_prefix_are_taken_literally() {
    let f = fixture().await;
    f.create("under_score", "one@example.io").await;
    f.create("underXscore", "two@example.io").await;
    f.create("percent", "100%sure@example.io").await;
    f.create("backslash", "three@example.io").await;

    assert_eq!(f.names(search(Some("under_"))).await, ["under_score"]);
    assert_eq!(f.names(search(Some("100%"))).await, ["percent"]);
    assert!(f.names(search(Some("%"))).await.is_empty());
    assert!(f.names(search(Some("_"))).await.is_empty());
    assert!(f.names(search(Some("\\"))).await.is_empty());
    assert!(
        f.names(search(Some("a\0"))).await.is_empty(),
        "NUL matches nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn role_and_status_filter_and_the_extras_are_read() {
    let f = fixture().await;
    let admin = f.create("admin", "admin@example.io").await;
    let banned = f.create("banned", "banned@example.io").await;
    let was_banned = f.create("was_banned", "was@example.io").await;
    f.users
        .set_role("admin@example.io", Role::Admin)
        .await
        .unwrap();
    let now = Utc::now();
    let set_ban = "UPDATE users SET banned_until = $2 WHERE id = $1";
    f.exec(set_ban, banned, now + Duration::days(1)).await;
    f.exec(set_ban, was_banned, now - Duration::days(1)).await;
    f.exec(
        "INSERT INTO totp_factors (user_id, key_id, nonce, ciphertext, created_at, enabled_at) \
         VALUES ($1, 'k', '\\x00', '\\x00', $2, $2)",
        admin,
        now,
    )
    .await;
    let signed_in = now - Duration::hours(2);
    for (id, at) in [("s1", signed_in - Duration::hours(1)), ("s2", signed_in)] {
        f.exec(
            &format!(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) \
                 VALUES ('{id}', $1, $2, $2, $2 + interval '1 day')"
            ),
            admin,
            at,
        )
        .await;
    }

    let admins = UserSearch {
        role: Some(Role::Admin),
        ..search(None)
    };
    assert_eq!(f.names(admins).await, ["admin"]);
    let banned_only = UserSearch {
        status: Some(UserStatus::Banned),
        ..search(None)
    };
    assert_eq!(f.names(banned_only).await, ["banned"]);
    let active = UserSearch {
        status: Some(UserStatus::Active),
        ..search(None)
    };
    assert_eq!(f.names(active).await, ["admin", "was_banned"]);

    let all = f.directory.search(&search(None), now).await.unwrap();
    let admin_row = &all[0];
    assert!(admin_row.mfa_enabled);
    let last = admin_row.last_sign_in_at.unwrap();
    assert!((last - signed_in).num_milliseconds().abs() < 1, "{last}");
    assert!(!all[1].mfa_enabled);
    assert_eq!(all[1].last_sign_in_at, None);
    assert!(all[1].banned_until.unwrap() > now);
    assert_eq!(all[1].status, UserStatus::Banned);
    assert_eq!(
        all[2].status,
        UserStatus::Active,
        "a ban in the past is over"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_follow_the_id_order_from_after() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(
            f.create(&format!("user{n}"), &format!("user{n}@example.io"))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .directory
            .search(
                &UserSearch {
                    after,
                    limit: 3,
                    ..search(None)
                },
                Utc::now(),
            )
            .await
            .unwrap();
        seen.extend(page.iter().map(|summary| summary.user.id));
        if page.len() < 3 {
            break;
        }
        after = page.last().map(|summary| summary.user.id);
    }
    assert_eq!(seen, ids);
}

/// The plan of `statement` (EXPLAIN, not run), one line per node.
async fn plan(conn: &mut diesel_async::AsyncPgConnection, statement: &str) -> String {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    diesel::sql_query(format!("EXPLAIN {statement}"))
        .load::<Line>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The statement `PgUserDirectory` writes (`src/user_directory.rs`),
/// with `filter` as its WHERE clauses.
fn statement(filter: &str) -> String {
    format!(
        "SELECT u.id, u.banned_until, last_session.created_at AS last_sign_in_at, \
                EXISTS (SELECT 1 FROM totp_factors t \
                        WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS mfa_enabled \
         FROM users u \
         LEFT JOIN LATERAL ( \
             SELECT s.created_at FROM sessions s \
             WHERE s.user_id = u.id ORDER BY s.created_at DESC LIMIT 1 \
         ) last_session ON true \
         WHERE true {filter} ORDER BY u.id LIMIT 50"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_walks_indexes_on_a_large_table() {
    let f = fixture().await;
    let mut conn = raw_connection(&f.db.url).await;
    // 100,000 users, each with a session.
    for sql in [
        "INSERT INTO users (username, email, email_normalized, password_hash) \
         SELECT 'User' || n, 'u' || n || '@example.io', 'u' || n || '@example.io', 'x' \
         FROM generate_series(1, 100000) AS n",
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) \
         SELECT md5(id::text), id, now(), now(), now() + interval '1 day' FROM users",
        "ANALYZE",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    // A prefix: one range of each prefix index, never the whole table.
    let prefix = plan(
        &mut conn,
        &statement(
            "AND u.id > 10 AND (u.email_normalized LIKE 'u1234' || '%' ESCAPE '\\' \
             OR lower(u.username) LIKE lower('u1234') || '%' ESCAPE '\\')",
        ),
    )
    .await;
    assert!(prefix.contains("users_email_prefix_idx"), "{prefix}");
    assert!(prefix.contains("users_username_prefix_idx"), "{prefix}");
    assert!(prefix.contains("sessions_user_idx"), "{prefix}");
    assert!(!prefix.contains("Seq Scan on users"), "{prefix}");

    // No filter: the next page walks the primary key from the cursor.
    let page = plan(&mut conn, &statement("AND u.id > 5000")).await;
    assert!(page.contains("users_pkey"), "{page}");
    assert!(!page.contains("Sort"), "{page}");
    assert!(!page.contains("Seq Scan on users"), "{page}");
}
