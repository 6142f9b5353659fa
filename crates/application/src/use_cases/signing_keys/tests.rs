use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{KeyChange, KeyId, KeyLifecycle, KeyPolicy, KeyRefusal, KeyState, SigningAlgorithm};

use super::*;
use crate::ports::{
    ForgedKey, MockClock, MockKeyWorkshop, MockSigningKeyStore, SealedPrivateKey,
    SigningKeyStoreError, StoredSigningKey,
};

const POLICY: KeyPolicy = KeyPolicy {
    jwks_max_age: Duration::seconds(600),
    access_token_lifetime: Duration::seconds(900),
};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("an instant")
}

fn kid(text: &str) -> KeyId {
    KeyId::parse(text).expect("a kid")
}

fn stored(name: &str, state: KeyState, published: i64) -> StoredSigningKey {
    StoredSigningKey {
        lifecycle: KeyLifecycle {
            kid: kid(name),
            algorithm: SigningAlgorithm::Es256,
            state,
            published_at: at(published),
            activated_at: (state == KeyState::Active).then_some(at(published)),
            retired_at: None,
            revoked_at: None,
        },
        public_jwk: format!(r#"{{"kid":"{name}"}}"#),
        sealed: SealedPrivateKey {
            nonce: vec![0; 12],
            ciphertext: vec![1; 48],
        },
    }
}

fn forged() -> ForgedKey {
    ForgedKey {
        public_jwk: r#"{"kid":"fresh"}"#.into(),
        sealed: SealedPrivateKey {
            nonce: vec![2; 12],
            ciphertext: vec![3; 48],
        },
    }
}

fn clock(secs: i64) -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock.expect_now().returning(move || at(secs));
    Arc::new(clock)
}

fn keys(store: MockSigningKeyStore, workshop: MockKeyWorkshop, now: i64) -> SigningKeys {
    SigningKeys::new(Arc::new(store), Arc::new(workshop), clock(now), POLICY)
}

/// A store whose keys are `initial` and which records what is applied.
fn store_with(initial: Vec<StoredSigningKey>) -> (MockSigningKeyStore, Arc<Mutex<Vec<KeyChange>>>) {
    let applied = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockSigningKeyStore::new();
    store.expect_all().returning(move || Ok(initial.clone()));
    let record = applied.clone();
    store.expect_apply().returning(move |changes| {
        record.lock().expect("lock").extend(changes);
        Ok(())
    });
    (store, applied)
}

#[tokio::test]
async fn a_generated_key_is_stored_in_standby_published_now() {
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_new_kid().returning(|| kid("fresh"));
    workshop
        .expect_generate()
        .withf(|kid, alg| kid.as_str() == "fresh" && *alg == SigningAlgorithm::EdDsa)
        .returning(|_, _| Ok(forged()));
    let mut store = MockSigningKeyStore::new();
    store
        .expect_insert()
        .withf(|key| {
            key.lifecycle.state == KeyState::Standby
                && key.lifecycle.published_at == at(50)
                && key.lifecycle.activated_at.is_none()
                && key.public_jwk == r#"{"kid":"fresh"}"#
        })
        .times(1)
        .returning(|_| Ok(()));
    let made = keys(store, workshop, 50)
        .generate(SigningAlgorithm::EdDsa)
        .await
        .expect("generated");
    assert_eq!(
        (made.kid.as_str(), made.state),
        ("fresh", KeyState::Standby)
    );
}

#[tokio::test]
async fn an_imported_key_that_is_not_valid_is_not_stored() {
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_new_kid().returning(|| kid("imp"));
    workshop
        .expect_import()
        .returning(|_, _, _| Err(KeyWorkshopError::InvalidKey("not PKCS#8".into())));
    let mut store = MockSigningKeyStore::new();
    store.expect_insert().never();
    let result = keys(store, workshop, 0)
        .import(SigningAlgorithm::Rs256, "garbage")
        .await;
    assert!(matches!(
        result,
        Err(SigningKeyError::Workshop(KeyWorkshopError::InvalidKey(_)))
    ));
}

#[tokio::test]
async fn activation_writes_the_domains_changes_and_refusals_write_nothing() {
    let (store, applied) = store_with(vec![
        stored("old", KeyState::Active, 0),
        stored("new", KeyState::Standby, 1000),
    ]);
    let keys = keys(store, MockKeyWorkshop::new(), 1100);
    let refused = keys.activate(&kid("new"), false).await;
    assert!(matches!(
        refused,
        Err(SigningKeyError::Refused(
            KeyRefusal::NotPublishedLongEnough { .. }
        ))
    ));
    assert!(applied.lock().expect("lock").is_empty());

    let changes = keys.activate(&kid("new"), true).await.expect("forced");
    assert_eq!(*applied.lock().expect("lock"), changes);
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.kid.as_str(), c.from, c.to))
            .collect::<Vec<_>>(),
        vec![
            ("old", KeyState::Active, KeyState::Retired),
            ("new", KeyState::Standby, KeyState::Active),
        ]
    );
}

#[tokio::test]
async fn a_change_overtaken_by_another_is_a_conflict() {
    let mut store = MockSigningKeyStore::new();
    store
        .expect_all()
        .returning(|| Ok(vec![stored("s", KeyState::Standby, 0)]));
    store
        .expect_apply()
        .returning(|_| Err(SigningKeyStoreError::Conflict));
    let result = keys(store, MockKeyWorkshop::new(), 10)
        .retire(&kid("s"))
        .await;
    assert!(matches!(result, Err(SigningKeyError::Conflict)));
}

#[tokio::test]
async fn retire_and_revoke_follow_the_domains_rules() {
    let (store, applied) = store_with(vec![
        stored("act", KeyState::Active, 0),
        stored("sb", KeyState::Standby, 0),
    ]);
    let keys = keys(store, MockKeyWorkshop::new(), 5000);
    assert!(matches!(
        keys.retire(&kid("act")).await,
        Err(SigningKeyError::Refused(KeyRefusal::RetiringActive(_)))
    ));
    assert!(matches!(
        keys.revoke(&kid("act"), true).await,
        Err(SigningKeyError::Refused(KeyRefusal::RevokingActive(_)))
    ));
    let change = keys.revoke(&kid("sb"), false).await.expect("never signed");
    assert_eq!(change.to, KeyState::Revoked);
    assert_eq!(applied.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn the_first_start_of_an_empty_install_makes_one_active_key() {
    let inserted = Arc::new(Mutex::new(None::<StoredSigningKey>));
    let mut store = MockSigningKeyStore::new();
    let seen = inserted.clone();
    store
        .expect_all()
        .returning(move || Ok(seen.lock().expect("lock").clone().into_iter().collect()));
    let record = inserted.clone();
    store.expect_insert_first().times(1).returning(move |key| {
        *record.lock().expect("lock") = Some(key);
        Ok(true)
    });
    store.expect_version().returning(|| Ok(1));
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_new_kid().returning(|| kid("first"));
    workshop.expect_generate().returning(|_, _| Ok(forged()));
    workshop
        .expect_put_in_use()
        .withf(|keys| keys.len() == 1 && keys[0].lifecycle.state == KeyState::Active)
        .times(1)
        .returning(|_| Ok(()));
    let keys = keys(store, workshop, 0);
    let made = keys.start(SigningAlgorithm::Es256).await.expect("started");
    assert_eq!(made, Some(kid("first")));
    let first = inserted.lock().expect("lock").clone().expect("inserted");
    assert_eq!(first.lifecycle.state, KeyState::Active);
    assert_eq!(first.lifecycle.activated_at, Some(at(0)));
    assert_eq!(&*keys.jwks(), r#"{"keys":[{"kid":"fresh"}]}"#);
}

#[tokio::test]
async fn an_instance_that_loses_the_first_key_race_uses_the_winners() {
    let calls = Arc::new(Mutex::new(0));
    let mut store = MockSigningKeyStore::new();
    let count = calls.clone();
    store.expect_all().returning(move || {
        let mut calls = count.lock().expect("lock");
        *calls += 1;
        // Empty at the first look; the winner's key afterwards.
        Ok(if *calls == 1 {
            vec![]
        } else {
            vec![stored("winner", KeyState::Active, 0)]
        })
    });
    store.expect_insert_first().returning(|_| Ok(false));
    store.expect_version().returning(|| Ok(7));
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_new_kid().returning(|| kid("loser"));
    workshop.expect_generate().returning(|_, _| Ok(forged()));
    workshop
        .expect_put_in_use()
        .withf(|keys| keys[0].lifecycle.kid.as_str() == "winner")
        .returning(|_| Ok(()));
    let made = keys(store, workshop, 0)
        .start(SigningAlgorithm::Es256)
        .await
        .expect("started");
    assert_eq!(made, None);
}

#[tokio::test]
async fn a_start_with_keys_but_none_active_is_refused_with_the_command_to_run() {
    let (mut store, _) = store_with(vec![stored("sb", KeyState::Standby, 0)]);
    store.expect_version().returning(|| Ok(1));
    store.expect_insert_first().never();
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_put_in_use().returning(|_| Ok(()));
    let error = keys(store, workshop, 0)
        .start(SigningAlgorithm::Es256)
        .await
        .expect_err("no active key");
    assert!(matches!(error, SigningKeyError::NoActiveKey));
    assert!(error.to_string().contains("api-server keys activate"));
}

#[tokio::test]
async fn refresh_puts_keys_in_use_only_when_the_version_moved_and_publishes_all_but_revoked() {
    let version = Arc::new(Mutex::new(1));
    let mut store = MockSigningKeyStore::new();
    let current = version.clone();
    store
        .expect_version()
        .returning(move || Ok(*current.lock().expect("lock")));
    store.expect_all().returning(|| {
        Ok(vec![
            stored("a", KeyState::Retired, 0),
            stored("b", KeyState::Active, 0),
            stored("c", KeyState::Revoked, 0),
            stored("d", KeyState::Standby, 0),
        ])
    });
    let mut workshop = MockKeyWorkshop::new();
    workshop.expect_put_in_use().times(2).returning(|_| Ok(()));
    let keys = keys(store, workshop, 0);
    assert!(keys.refresh().await.expect("first"));
    assert!(!keys.refresh().await.expect("unchanged"));
    *version.lock().expect("lock") = 2;
    assert!(keys.refresh().await.expect("changed"));
    assert_eq!(
        &*keys.jwks(),
        r#"{"keys":[{"kid":"a"},{"kid":"b"},{"kid":"d"}]}"#
    );
}

#[tokio::test]
async fn keys_that_do_not_open_stop_the_refresh_and_keep_the_old_ones() {
    let mut store = MockSigningKeyStore::new();
    store.expect_version().returning(|| Ok(3));
    store
        .expect_all()
        .returning(|| Ok(vec![stored("a", KeyState::Active, 0)]));
    let mut workshop = MockKeyWorkshop::new();
    workshop
        .expect_put_in_use()
        .returning(|_| Err(KeyWorkshopError::DoesNotOpen(kid("a"))));
    let keys = keys(store, workshop, 0);
    let error = keys.refresh().await.expect_err("does not open");
    assert!(error.to_string().contains("SIGNING_KEYS_ENCRYPTION_KEY"));
    assert_eq!(&*keys.jwks(), r#"{"keys":[]}"#);
}
