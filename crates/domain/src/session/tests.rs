use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(secs)
}

fn policy() -> RefreshPolicy {
    RefreshPolicy {
        rotation: true,
        reuse_interval: Duration::seconds(10),
        refresh_lifetime: Duration::seconds(1_000),
        max_lifetime: Duration::seconds(5_000),
    }
}

/// A session created at 0, at generation 3 since `rotated` seconds.
fn session(generation: u64, rotated: i64) -> Session {
    Session {
        id: SessionId::new("0123456789abcdef0123456789abcdef"),
        user_id: UserId::new(1),
        created_at: at(0),
        last_used_at: at(rotated),
        expires_at: at(rotated + 1_000),
        ip: None,
        user_agent: None,
        generation,
        rotated_at: (generation > 0).then(|| at(rotated)),
        revoked_at: None,
        methods: crate::AuthMethods::Password,
    }
}

#[test]
fn the_current_token_rotates_to_the_next_generation() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(3, at(200), &policy()),
        RefreshDecision::Rotate { to: 4 }
    );
}

#[test]
fn the_previous_token_within_the_interval_replays_the_current_generation() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(2, at(110), &policy()),
        RefreshDecision::ReplayCurrent
    );
}

#[test]
fn the_previous_token_after_the_interval_is_reuse() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(2, at(111), &policy()),
        RefreshDecision::Reuse
    );
}

#[test]
fn an_older_token_is_reuse_even_at_once() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(1, at(100), &policy()),
        RefreshDecision::Reuse
    );
    assert_eq!(
        s.decide_refresh(0, at(100), &policy()),
        RefreshDecision::Reuse
    );
}

#[test]
fn a_generation_from_the_future_is_reuse() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(7, at(100), &policy()),
        RefreshDecision::Reuse
    );
}

#[test]
fn a_revoked_session_stays_revoked_whatever_the_token() {
    let mut s = session(3, 100);
    s.revoked_at = Some(at(150));
    for presented in [1, 2, 3] {
        assert_eq!(
            s.decide_refresh(presented, at(151), &policy()),
            RefreshDecision::Revoked
        );
    }
}

#[test]
fn an_idle_session_expires_with_its_refresh_token() {
    let s = session(3, 100);
    assert_eq!(
        s.decide_refresh(3, at(1_099), &policy()),
        RefreshDecision::Rotate { to: 4 }
    );
    assert_eq!(
        s.decide_refresh(3, at(1_100), &policy()),
        RefreshDecision::Expired
    );
}

#[test]
fn an_active_session_expires_at_its_maximum_lifetime() {
    let mut s = session(3, 4_900);
    s.expires_at = at(5_000);
    assert_eq!(
        s.decide_refresh(3, at(4_999), &policy()),
        RefreshDecision::Rotate { to: 4 }
    );
    s.expires_at = at(5_900);
    assert_eq!(
        s.decide_refresh(3, at(5_000), &policy()),
        RefreshDecision::Expired
    );
}

#[test]
fn without_rotation_the_one_token_extends_and_nothing_is_replayed() {
    let policy = RefreshPolicy {
        rotation: false,
        ..policy()
    };
    let s = session(0, 0);
    assert_eq!(
        s.decide_refresh(0, at(10), &policy),
        RefreshDecision::Extend
    );
    assert_eq!(s.decide_refresh(1, at(10), &policy), RefreshDecision::Reuse);
}

#[test]
fn refresh_expiry_is_capped_by_the_maximum_lifetime() {
    let p = policy();
    assert_eq!(p.refresh_expiry(at(0), at(100)), Some(at(1_100)));
    assert_eq!(p.refresh_expiry(at(0), at(4_500)), Some(at(5_000)));
    let huge = RefreshPolicy {
        refresh_lifetime: Duration::MAX,
        ..p
    };
    assert_eq!(huge.refresh_expiry(at(0), at(1)), None);
}

#[test]
fn liveness_needs_no_revocation_and_time_left() {
    let mut s = session(0, 0);
    assert!(s.is_live_at(at(999)));
    assert!(!s.is_live_at(at(1_000)));
    s.revoked_at = Some(at(5));
    assert!(!s.is_live_at(at(6)));
}

#[test]
fn devices_are_recognised_by_their_network() {
    let v4: IpAddr = "203.0.113.77".parse().unwrap();
    let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
    let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
    assert_eq!(
        ClientDevice::new(Some(v4), None).network().as_deref(),
        Some("203.0.113.0/24")
    );
    assert_eq!(
        ClientDevice::new(Some(mapped), None).network().as_deref(),
        Some("203.0.113.0/24")
    );
    assert_eq!(
        ClientDevice::new(Some(v6), None).network().as_deref(),
        Some("2001:db8:1:2::/64")
    );
    assert_eq!(ClientDevice::new(None, None).network(), None);
}

#[test]
fn user_agents_are_printable_and_bounded() {
    let device = ClientDevice::new(None, Some("Mozilla\r\nX-Evil: 1\u{0}"));
    assert_eq!(device.user_agent(), Some("MozillaX-Evil: 1"));
    let long = "a".repeat(2_000);
    let device = ClientDevice::new(None, Some(&long));
    assert_eq!(
        device.user_agent().map(str::len),
        Some(ClientDevice::MAX_USER_AGENT_CHARS)
    );
    assert_eq!(ClientDevice::new(None, Some(" \t")).user_agent(), None);
}

#[test]
fn logout_scopes_parse_and_nothing_else_does() {
    assert_eq!("local".parse(), Ok(LogoutScope::Local));
    assert_eq!("others".parse(), Ok(LogoutScope::Others));
    assert_eq!("global".parse(), Ok(LogoutScope::Global));
    assert_eq!("GLOBAL".parse::<LogoutScope>(), Err(UnknownLogoutScope));
    assert_eq!(LogoutScope::default(), LogoutScope::Local);
}
