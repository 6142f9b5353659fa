use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, SecondsFormat};
use domain::{PasswordHash, PasswordPolicy, Role, SessionId, TokenKind, UserId};
use mockall::predicate::eq;

use super::*;
use crate::Email;
use crate::error::{Dependency, DependencyError};
use crate::ports::{
    AttemptDecision, EndedSession, HashError, MockRateLimiter, Revocation, RevocationError,
    SessionEpoch, StoredCredentials,
};
use crate::rate_limits::{RateLimited, Rule, ThrottlePolicy};
use crate::use_cases::LoginThrottles;
use crate::use_cases::test_support::{MockAccountPorts, claims, now, user};

const CURRENT: &str = "old correct horse";
/// User 1's counters at epoch 3, from [`device`]'s network.
const ACCOUNT_WIDE: &str = "user1@example.io#3|all";
const PAIR: &str = "user1@example.io#3|net:203.0.113.0/24";

fn throttles() -> LoginThrottles {
    LoginThrottles {
        per_client: ThrottlePolicy::default(),
        per_account: ThrottlePolicy::budget(crate::rate_limits::RateLimit::per_secs(100, 3600)),
    }
}

fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox"))
}
const NEW: &str = "new battery staple";

/// The account mocks and, optionally, a rate limiter (without one, rate
/// limits are off).
struct Ports {
    account: MockAccountPorts,
    limiter: Option<MockRateLimiter>,
}

impl std::ops::Deref for Ports {
    type Target = MockAccountPorts;
    fn deref(&self) -> &MockAccountPorts {
        &self.account
    }
}

impl std::ops::DerefMut for Ports {
    fn deref_mut(&mut self) -> &mut MockAccountPorts {
        &mut self.account
    }
}

impl Ports {
    fn new() -> Self {
        Self {
            account: MockAccountPorts::new(),
            limiter: None,
        }
    }

    fn change(self) -> PasswordChange {
        let attempts = match self.limiter {
            Some(limiter) => LoginAttempts::new(Arc::new(limiter), throttles()),
            None => LoginAttempts::off(),
        };
        PasswordChange::new(self.account.into_ports(), attempts)
    }

    /// User 1 exists, its stored hash is "old-hash", and the hasher
    /// accepts [`CURRENT`] against it (and nothing else).
    fn with_account(mut self) -> Self {
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .returning(|_| Ok(Some(user(1, Role::User))));
        self.users
            .expect_find_credentials()
            .with(eq("user1@example.io"))
            .returning(|_| {
                Ok(Some(StoredCredentials {
                    user: user(1, Role::User),
                    password_hash: old_hash(),
                    session_epoch: SessionEpoch(3),
                    banned_until: None,
                }))
            });
        self.hasher
            .expect_verify()
            .withf(|_, stored| stored.as_ref() == Some(&old_hash()))
            .returning(|password, _| Ok(password.expose_secret() == CURRENT));
        self
    }

    /// The new hash is "new-hash" and `change_password` ends [`ended`].
    fn with_successful_change(mut self) -> Self {
        self.hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("new-hash".into())));
        self.users
            .expect_change_password()
            .returning(|_, _, _, _, _| Ok(Some(ended())));
        self.outbox.expect_job_committed().return_const(());
        self.revocations.expect_revoke().returning(|_| Ok(()));
        self
    }

    /// A limiter that lets one attempt for user 1 (epoch 3) from
    /// [`device`]'s network go ahead: counted on the account and on the
    /// pair.
    fn allowing(mut self) -> Self {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_begin_attempt()
            .with(eq(ACCOUNT_WIDE), eq(throttles().per_account))
            .times(1)
            .returning(|_, _| Ok(AttemptDecision::Allowed));
        limiter
            .expect_begin_attempt()
            .with(eq(PAIR), eq(throttles().per_client))
            .times(1)
            .returning(|_, _| Ok(AttemptDecision::Allowed));
        self.limiter = Some(limiter);
        self
    }

    fn limiter(&mut self) -> &mut MockRateLimiter {
        self.limiter.as_mut().unwrap()
    }
}

fn old_hash() -> PasswordHash {
    PasswordHash::new("old-hash".into())
}

fn secret(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

fn password(raw: &str) -> Password {
    Password::parse(raw, PasswordPolicy::default()).unwrap()
}

fn fresh_claims() -> TokenClaims {
    claims(1, TokenKind::Access, true)
}

/// The other sessions the change ended: "sid-2" with 1000 s of refresh
/// left and "sid-3" with 10 s.
fn ended() -> Vec<EndedSession> {
    vec![
        EndedSession {
            id: SessionId::new("sid-2"),
            expires_at: now() + Duration::seconds(1_000),
            was_live: true,
        },
        EndedSession {
            id: SessionId::new("sid-3"),
            expires_at: now() + Duration::seconds(10),
            was_live: true,
        },
    ]
}

async fn change(ports: Ports, current: &str, new: &str) -> Result<(), ChangePasswordError> {
    ports
        .change()
        .change(&fresh_claims(), &device(), secret(current), password(new))
        .await
}

#[tokio::test]
async fn change_for_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(|_| Ok(None));
    ports.users.expect_find_credentials().never();
    ports.hasher.expect_verify().never();
    ports.hasher.expect_hash().never();
    ports.users.expect_change_password().never();
    let error = change(ports, CURRENT, NEW).await.unwrap_err();
    assert!(
        matches!(error, ChangePasswordError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

#[tokio::test]
async fn change_with_a_wrong_current_password_is_refused() {
    let mut ports = Ports::new().with_account();
    ports.hasher.expect_hash().never();
    ports.users.expect_change_password().never();
    ports.outbox.expect_job_committed().never();
    ports.revocations.expect_revoke().never();
    let error = change(ports, "not the password", NEW).await.unwrap_err();
    assert!(
        matches!(error, ChangePasswordError::InvalidCurrentPassword),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_login() {
    let mut ports = Ports::new().with_account().allowing();
    // The failure counted by `begin_attempt` stays.
    ports.limiter().expect_clear_failures().never();
    ports.limiter().expect_forgive_attempt().never();
    ports.hasher.expect_hash().never();
    ports.users.expect_change_password().never();
    let error = change(ports, "not the password", NEW).await.unwrap_err();
    assert!(
        matches!(error, ChangePasswordError::InvalidCurrentPassword),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_right_current_password_clears_the_failures() {
    let mut ports = Ports::new()
        .with_account()
        .with_successful_change()
        .allowing();
    ports
        .limiter()
        .expect_clear_failures()
        .with(eq(PAIR))
        .times(1)
        .returning(|_| Ok(()));
    // A success is no failure of the account either.
    ports
        .limiter()
        .expect_forgive_attempt()
        .with(eq(ACCOUNT_WIDE))
        .times(1)
        .returning(|_| Ok(()));
    change(ports, CURRENT, NEW).await.unwrap();
}

#[tokio::test]
async fn a_throttled_account_is_refused_before_its_password_is_checked() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_find_credentials().returning(|_| {
        Ok(Some(StoredCredentials {
            user: user(1, Role::User),
            password_hash: old_hash(),
            session_epoch: SessionEpoch(3),
            banned_until: None,
        }))
    });
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .with(eq(ACCOUNT_WIDE), eq(throttles().per_account))
        .times(1)
        .returning(|_, _| Ok(AttemptDecision::Allowed));
    limiter
        .expect_begin_attempt()
        .with(eq(PAIR), eq(throttles().per_client))
        .times(1)
        .returning(|_, _| {
            Ok(AttemptDecision::Throttled {
                retry_after: StdDuration::from_secs(4),
            })
        });
    limiter.expect_clear_failures().never();
    // The account-wide count taken back: no password was judged.
    limiter
        .expect_forgive_attempt()
        .with(eq(ACCOUNT_WIDE))
        .times(1)
        .returning(|_| Ok(()));
    ports.limiter = Some(limiter);
    ports.hasher.expect_verify().never();
    ports.hasher.expect_hash().never();
    ports.users.expect_change_password().never();
    let error = change(ports, CURRENT, NEW).await.unwrap_err();
    let ChangePasswordError::RateLimited(limited) = error else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(
        limited,
        RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: StdDuration::from_secs(4),
        }
    );
}

#[tokio::test]
async fn a_hasher_outage_during_the_check_is_not_counted_as_a_failure() {
    let mut ports = Ports::new().allowing();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_find_credentials().returning(|_| {
        Ok(Some(StoredCredentials {
            user: user(1, Role::User),
            password_hash: old_hash(),
            session_epoch: SessionEpoch(3),
            banned_until: None,
        }))
    });
    ports
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Err(HashError::Busy));
    ports
        .limiter()
        .expect_forgive_attempt()
        .with(eq(PAIR))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .limiter()
        .expect_forgive_attempt()
        .with(eq(ACCOUNT_WIDE))
        .times(1)
        .returning(|_| Ok(()));
    ports.limiter().expect_clear_failures().never();
    ports.users.expect_change_password().never();
    let error = change(ports, CURRENT, NEW).await.unwrap_err();
    let ChangePasswordError::Dependency(error) = error else {
        panic!("expected a dependency error, got {error:?}");
    };
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.dependency(), Dependency::PasswordHasher);
}

#[tokio::test]
async fn the_new_password_must_differ_from_the_current_one() {
    let mut ports = Ports::new().with_account();
    ports.hasher.expect_hash().never();
    ports.users.expect_change_password().never();
    ports.outbox.expect_job_committed().never();
    let error = change(ports, CURRENT, CURRENT).await.unwrap_err();
    assert!(
        matches!(error, ChangePasswordError::SamePassword),
        "{error:?}"
    );
}

#[tokio::test]
async fn change_stores_the_new_hash_keeps_this_session_and_ends_the_others() {
    let mut ports = Ports::new().with_account();
    ports
        .hasher
        .expect_hash()
        .with(eq(password(NEW)))
        .times(1)
        .returning(|_| Ok(PasswordHash::new("new-hash".into())));
    ports
        .users
        .expect_change_password()
        .withf(|id, password_hash, keep, at, notice| {
            *id == UserId::new(1)
                && password_hash.as_str() == "new-hash"
                && *keep == SessionId::new("sid-1")
                && *at == now()
                && notice.created_at == now()
                && notice.email
                    == Email::PasswordChanged {
                        to: "user1@example.io".into(),
                        changed_at: now().to_rfc3339_opts(SecondsFormat::Secs, true),
                    }
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(ended())));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![
            Revocation::Session {
                id: SessionId::new("sid-2"),
                user: UserId::new(1),
                ttl_secs: 301,
            },
            Revocation::Session {
                id: SessionId::new("sid-3"),
                user: UserId::new(1),
                ttl_secs: 301,
            },
        ]))
        .times(1)
        .returning(|_| Ok(()));
    change(ports, CURRENT, NEW).await.unwrap();
}

#[tokio::test]
async fn change_stands_when_the_sessions_cannot_be_marked_after_the_commit() {
    let mut ports = Ports::new().with_account();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("new-hash".into())));
    ports
        .users
        .expect_change_password()
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(ended())));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .revocations
        .expect_revoke()
        .times(1)
        .returning(|_| Err(RevocationError::Unavailable("down".into())));
    change(ports, CURRENT, NEW).await.unwrap();
}

#[tokio::test]
async fn change_for_an_account_deleted_meanwhile_is_a_revoked_token() {
    let mut ports = Ports::new().with_account();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("new-hash".into())));
    ports
        .users
        .expect_change_password()
        .times(1)
        .returning(|_, _, _, _, _| Ok(None));
    ports.outbox.expect_job_committed().never();
    ports.revocations.expect_revoke().never();
    let error = change(ports, CURRENT, NEW).await.unwrap_err();
    assert!(
        matches!(error, ChangePasswordError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

#[tokio::test]
async fn change_reports_a_user_store_outage() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Err(crate::ports::RepositoryError::Unavailable("down".into())));
    ports.hasher.expect_verify().never();
    let error = change(ports, CURRENT, NEW).await.unwrap_err();
    let ChangePasswordError::Dependency(error) = error else {
        panic!("expected a dependency error, got {error:?}");
    };
    assert!(
        matches!(
            error,
            DependencyError::Unavailable(Dependency::UserStore, _)
        ),
        "{error:?}"
    );
}
