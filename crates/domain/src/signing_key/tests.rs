use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("a valid instant")
}

fn kid(text: &str) -> KeyId {
    KeyId::parse(text).expect("a valid kid")
}

const POLICY: KeyPolicy = KeyPolicy {
    jwks_max_age: Duration::seconds(600),
    access_token_lifetime: Duration::seconds(900),
};

fn key(name: &str, state: KeyState, published: i64) -> KeyLifecycle {
    KeyLifecycle {
        kid: kid(name),
        algorithm: SigningAlgorithm::Es256,
        state,
        published_at: at(published),
        activated_at: None,
        retired_at: None,
        revoked_at: None,
    }
}

/// "old" active since 0, "new" in standby since 1000.
fn rotating() -> KeyRing {
    let mut old = key("old", KeyState::Active, 0);
    old.activated_at = Some(at(0));
    KeyRing::new(vec![old, key("new", KeyState::Standby, 1000)])
}

#[test]
fn algorithms_and_states_read_their_exact_names() {
    for alg in SigningAlgorithm::ALL {
        assert_eq!(alg.as_str().parse::<SigningAlgorithm>(), Ok(alg));
    }
    assert_eq!("EdDSA".parse(), Ok(SigningAlgorithm::EdDsa));
    assert!("es256".parse::<SigningAlgorithm>().is_err());
    assert!("HS256".parse::<SigningAlgorithm>().is_err());
    for state in KeyState::ALL {
        assert_eq!(state.as_str().parse::<KeyState>(), Ok(state));
    }
    assert!("Active".parse::<KeyState>().is_err());
}

#[test]
fn a_kid_is_short_url_safe_text() {
    assert!(KeyId::parse("k-2026_12_abcXYZ").is_ok());
    assert!(KeyId::parse(&"a".repeat(64)).is_ok());
    for bad in ["", "a b", "a/b", "é", "a.b", &"a".repeat(65)] {
        assert_eq!(KeyId::parse(bad), Err(InvalidKeyId), "{bad:?}");
    }
}

#[test]
fn activating_a_standby_key_retires_the_active_one() {
    let changes = rotating()
        .activate(&kid("new"), at(1600), &POLICY, false)
        .expect("published long enough");
    assert_eq!(
        changes,
        vec![
            KeyChange {
                kid: kid("old"),
                from: KeyState::Active,
                to: KeyState::Retired,
                at: at(1600),
            },
            KeyChange {
                kid: kid("new"),
                from: KeyState::Standby,
                to: KeyState::Active,
                at: at(1600),
            },
        ]
    );
}

#[test]
fn a_key_published_less_than_the_jwks_cache_time_ago_is_not_activated_unless_forced() {
    let ring = rotating();
    let refused = ring.activate(&kid("new"), at(1599), &POLICY, false);
    assert_eq!(
        refused,
        Err(KeyRefusal::NotPublishedLongEnough {
            kid: kid("new"),
            published_secs: 599,
            wait_secs: 600,
            ready_at: at(1600),
        })
    );
    let forced = ring
        .activate(&kid("new"), at(1001), &POLICY, true)
        .expect("forced");
    assert_eq!(forced.len(), 2);
}

#[test]
fn the_first_key_of_an_install_activates_alone() {
    let ring = KeyRing::new(vec![key("first", KeyState::Standby, 0)]);
    let changes = ring
        .activate(&kid("first"), at(0), &POLICY, true)
        .expect("forced");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to, KeyState::Active);
}

#[test]
fn activation_refuses_unknown_active_and_revoked_keys() {
    let mut ring = rotating();
    assert_eq!(
        ring.activate(&kid("nope"), at(5000), &POLICY, true),
        Err(KeyRefusal::UnknownKey(kid("nope")))
    );
    assert_eq!(
        ring.activate(&kid("old"), at(5000), &POLICY, true),
        Err(KeyRefusal::AlreadyActive(kid("old")))
    );
    ring.keys[1].state = KeyState::Revoked;
    assert_eq!(
        ring.activate(&kid("new"), at(5000), &POLICY, true),
        Err(KeyRefusal::Revoked(kid("new")))
    );
}

#[test]
fn a_retired_key_can_be_activated_again() {
    let mut ring = rotating();
    ring.keys[0].state = KeyState::Retired;
    ring.keys[0].retired_at = Some(at(2000));
    ring.keys[1].state = KeyState::Active;
    ring.keys[1].activated_at = Some(at(2000));
    let changes = ring
        .activate(&kid("old"), at(2100), &POLICY, false)
        .expect("a published key");
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.kid.as_str(), c.to))
            .collect::<Vec<_>>(),
        vec![("new", KeyState::Retired), ("old", KeyState::Active)]
    );
}

#[test]
fn only_a_standby_key_is_retired() {
    let ring = rotating();
    let change = ring.retire(&kid("new"), at(1200)).expect("standby");
    assert_eq!(
        (change.from, change.to),
        (KeyState::Standby, KeyState::Retired)
    );
    assert_eq!(
        ring.retire(&kid("old"), at(1200)),
        Err(KeyRefusal::RetiringActive(kid("old")))
    );
    let mut retired = ring.clone();
    retired.keys[1].state = KeyState::Retired;
    assert_eq!(
        retired.retire(&kid("new"), at(1200)),
        Err(KeyRefusal::AlreadyRetired(kid("new")))
    );
}

#[test]
fn a_key_that_signed_is_revoked_only_after_its_tokens_and_the_jwks_cache_expire() {
    let mut ring = rotating();
    ring.keys[0].state = KeyState::Retired;
    ring.keys[0].retired_at = Some(at(2000));
    // 900 s of access tokens + 600 s of JWKS cache after 2000.
    assert_eq!(
        ring.revoke(&kid("old"), at(3499), &POLICY, false),
        Err(KeyRefusal::StillVerifying {
            kid: kid("old"),
            retired_secs: 1499,
            wait_secs: 1500,
            ready_at: at(3500),
        })
    );
    let change = ring
        .revoke(&kid("old"), at(3500), &POLICY, false)
        .expect("waited");
    assert_eq!(
        (change.from, change.to),
        (KeyState::Retired, KeyState::Revoked)
    );
    assert!(ring.revoke(&kid("old"), at(2001), &POLICY, true).is_ok());
}

#[test]
fn a_key_that_never_signed_is_revoked_at_once() {
    let ring = rotating();
    assert!(ring.revoke(&kid("new"), at(1001), &POLICY, false).is_ok());
    let mut retired = rotating();
    retired.keys[1].state = KeyState::Retired;
    retired.keys[1].retired_at = Some(at(1001));
    assert!(
        retired
            .revoke(&kid("new"), at(1002), &POLICY, false)
            .is_ok()
    );
}

#[test]
fn the_active_key_and_a_revoked_key_are_not_revoked() {
    let mut ring = rotating();
    assert_eq!(
        ring.revoke(&kid("old"), at(9999), &POLICY, true),
        Err(KeyRefusal::RevokingActive(kid("old")))
    );
    ring.keys[1].state = KeyState::Revoked;
    assert_eq!(
        ring.revoke(&kid("new"), at(9999), &POLICY, true),
        Err(KeyRefusal::Revoked(kid("new")))
    );
}

#[test]
fn the_jwks_holds_every_key_but_the_revoked_and_the_last_activated_signs() {
    let mut ring = rotating();
    ring.keys.push(key("gone", KeyState::Revoked, 0));
    let published: Vec<_> = ring.published().map(|k| k.kid.as_str()).collect();
    assert_eq!(published, ["old", "new"]);
    assert_eq!(ring.active().map(|k| k.kid.as_str()), Some("old"));
    // Two active keys (a store written by hand): the newer one signs.
    ring.keys[1].state = KeyState::Active;
    ring.keys[1].activated_at = Some(at(5));
    assert_eq!(ring.active().map(|k| k.kid.as_str()), Some("new"));
    assert_eq!(KeyRing::default().active(), None);
}

#[test]
fn refusals_say_what_to_do() {
    let refusal = rotating()
        .activate(&kid("new"), at(1100), &POLICY, false)
        .expect_err("too soon");
    let text = refusal.to_string();
    assert!(text.contains("published 100 s ago"), "{text}");
    assert!(text.contains("--force"), "{text}");
    let text = rotating()
        .retire(&kid("old"), at(0))
        .expect_err("active")
        .to_string();
    assert!(text.contains("activate another key first"), "{text}");
}
