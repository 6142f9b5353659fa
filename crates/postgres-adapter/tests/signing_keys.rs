#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgSigningKeyStore` against a real PostgreSQL: keys round-trip, every
//! change moves the version, a change decided on an overtaken snapshot
//! writes nothing, and instances racing to make an install's first key
//! leave exactly one.
mod support;

use std::sync::Arc;

use application::ports::{
    SealedPrivateKey, SigningKeyStore, SigningKeyStoreError, StoredSigningKey,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::{KeyChange, KeyId, KeyLifecycle, KeyState, SigningAlgorithm};
use postgres_adapter::PgSigningKeyStore;
use support::*;

async fn store() -> (TestDatabase, PgSigningKeyStore) {
    let db = fresh_database().await;
    let store = PgSigningKeyStore::new(pool(&db.url), settings());
    (db, store)
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

fn kid(text: &str) -> KeyId {
    KeyId::parse(text).unwrap()
}

fn key(name: &str, state: KeyState, at: DateTime<Utc>) -> StoredSigningKey {
    StoredSigningKey {
        lifecycle: KeyLifecycle {
            kid: kid(name),
            algorithm: SigningAlgorithm::EdDsa,
            state,
            published_at: at,
            activated_at: (state == KeyState::Active).then_some(at),
            retired_at: None,
            revoked_at: None,
        },
        public_jwk: format!(r#"{{"kid":"{name}","kty":"OKP"}}"#),
        sealed: SealedPrivateKey {
            nonce: vec![1; 12],
            ciphertext: name.as_bytes().repeat(8),
        },
    }
}

fn change(name: &str, from: KeyState, to: KeyState, at: DateTime<Utc>) -> KeyChange {
    KeyChange {
        kid: kid(name),
        from,
        to,
        at,
    }
}

#[tokio::test]
async fn keys_round_trip_and_every_change_moves_the_version() {
    let (_db, store) = store().await;
    let start = store.version().await.unwrap();
    let at = now();
    store.insert(key("a", KeyState::Active, at)).await.unwrap();
    let after_insert = store.version().await.unwrap();
    assert!(after_insert > start);
    store
        .insert(key("b", KeyState::Standby, at + Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(
        store.all().await.unwrap(),
        vec![
            key("a", KeyState::Active, at),
            key("b", KeyState::Standby, at + Duration::seconds(1))
        ]
    );
    let before = store.version().await.unwrap();
    let later = at + Duration::seconds(700);
    store
        .apply(vec![
            change("a", KeyState::Active, KeyState::Retired, later),
            change("b", KeyState::Standby, KeyState::Active, later),
        ])
        .await
        .unwrap();
    assert!(store.version().await.unwrap() > before);
    let keys = store.all().await.unwrap();
    assert_eq!(keys[0].lifecycle.state, KeyState::Retired);
    assert_eq!(keys[0].lifecycle.retired_at, Some(later));
    assert_eq!(keys[1].lifecycle.state, KeyState::Active);
    assert_eq!(keys[1].lifecycle.activated_at, Some(later));
}

#[tokio::test]
async fn a_change_from_a_state_the_key_left_writes_nothing() {
    let (_db, store) = store().await;
    let at = now();
    store.insert(key("a", KeyState::Active, at)).await.unwrap();
    store.insert(key("b", KeyState::Standby, at)).await.unwrap();
    store.insert(key("c", KeyState::Standby, at)).await.unwrap();
    // Decided when "b" was active, which it is not: the retirement of "a"
    // that came first in the same transaction is undone too.
    let stale = store
        .apply(vec![
            change("a", KeyState::Active, KeyState::Retired, at),
            change("b", KeyState::Active, KeyState::Retired, at),
        ])
        .await;
    assert!(matches!(stale, Err(SigningKeyStoreError::Conflict)));
    assert_eq!(
        store.all().await.unwrap()[0].lifecycle.state,
        KeyState::Active
    );
    // A second active key is refused by the table itself.
    let second = store
        .apply(vec![change("c", KeyState::Standby, KeyState::Active, at)])
        .await;
    assert!(matches!(second, Err(SigningKeyStoreError::Conflict)));
    let duplicate = store.insert(key("c", KeyState::Standby, at)).await;
    assert!(matches!(duplicate, Err(SigningKeyStoreError::DuplicateKid)));
}

#[tokio::test]
async fn instances_racing_for_the_first_key_leave_exactly_one() {
    let (_db, store) = store().await;
    let store = Arc::new(store);
    let at = now();
    let racers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .insert_first(key(&format!("k{i}"), KeyState::Active, at))
                .await
                .unwrap()
        })
    });
    let mut winners = 0;
    for racer in racers {
        if racer.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.all().await.unwrap().len(), 1);
    // Not into a table that holds a key already, active or not.
    assert!(
        !store
            .insert_first(key("late", KeyState::Active, at))
            .await
            .unwrap()
    );
}

/// Each key step's event commits with it: a stale change that rolls back
/// leaves no `keys.retired`, an applied one leaves one; an insert writes
/// `keys.generated` (and `keys.activated` for a key born active), a
/// first key refused because one exists writes nothing.
#[tokio::test]
async fn key_events_are_stored_exactly_with_their_steps() {
    use application::ports::{AuditLog, AuditQuery};
    use domain::AuditEventKind;
    let (db, store) = store().await;
    let audit = postgres_adapter::PgAuditLog::new(pool(&db.url), settings());
    let kinds = async || {
        audit
            .query(AuditQuery {
                subject: None,
                kind: None,
                since: None,
                until: None,
                limit: 100,
                after: None,
            })
            .await
            .unwrap()
            .events
            .into_iter()
            .rev()
            .map(|event| (event.kind, event.data["kid"].as_str().unwrap().to_owned()))
            .collect::<Vec<_>>()
    };
    let at = now();
    assert!(
        store
            .insert_first(key("a", KeyState::Active, at))
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_first(key("z", KeyState::Active, at))
            .await
            .unwrap()
    );
    store.insert(key("b", KeyState::Standby, at)).await.unwrap();
    let stale = store
        .apply(vec![
            change("a", KeyState::Active, KeyState::Retired, at),
            change("b", KeyState::Active, KeyState::Retired, at),
        ])
        .await;
    assert!(matches!(stale, Err(SigningKeyStoreError::Conflict)));
    let later = at + Duration::seconds(1);
    store
        .apply(vec![change(
            "b",
            KeyState::Standby,
            KeyState::Retired,
            later,
        )])
        .await
        .unwrap();
    let kid = |text: &str| text.to_owned();
    assert_eq!(
        kinds().await,
        [
            (AuditEventKind::KeysGenerated, kid("a")),
            (AuditEventKind::KeysActivated, kid("a")),
            (AuditEventKind::KeysGenerated, kid("b")),
            (AuditEventKind::KeysRetired, kid("b")),
        ]
    );
}
