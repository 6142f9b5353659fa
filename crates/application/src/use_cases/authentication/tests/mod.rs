mod audit;
mod live_session;
mod logout;
mod refresh;
mod second_step;

use std::sync::Arc;

use chrono::Duration;
use domain::{
    ClientDevice, DeviceToken, LogoutScope, PasswordHash, Role, Session, SessionId, TokenClaims,
    TokenKind, TokenRejection, UserId,
};
use mockall::predicate::eq;
use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::Email;
use crate::error::{
    AuthenticateError, Dependency, DependencyError, LoginError, LogoutError, RefreshError,
};
use crate::ports::{
    MockAuditLog, MockOneTimeSecretStore, MockOutboxSignal, MockPasswordHasher,
    MockRevocationMarkQueue, MockSecondFactorCrypto, MockSecondFactorStore, MockSessionRepository,
    MockTokenCodec, MockTokenRevocations, MockUserRepository, OpenedSession, RepositoryError,
    RevocationError, SessionEpoch, StoredCredentials,
};
use crate::use_cases::test_support::{
    app_email_settings, claims, clock, forgetting, now, secret_mail, user,
};
use crate::use_cases::{LoginOutcome, LoginTokens, TokenRequirement};

/// Mocks with no expectations: any call fails the test, so each test
/// states exactly which ports its use case may touch.
pub(super) struct Ports {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub revocations: MockTokenRevocations,
    /// Completed with [`forgetting`] when the use case is built.
    pub marks: MockRevocationMarkQueue,
    pub hasher: MockPasswordHasher,
    pub tokens: MockTokenCodec,
    pub outbox: MockOutboxSignal,
    pub secrets: MockOneTimeSecretStore,
    pub factor_store: MockSecondFactorStore,
    pub factor_crypto: MockSecondFactorCrypto,
    pub email_settings: crate::AccountEmailSettings,
    pub lifetimes: TokenLifetimes,
    pub settings: SessionSettings,
    /// Off unless a test throttles.
    pub attempts: LoginAttempts,
    /// `None`: a log that takes every event (most tests are not about it).
    pub audit: Option<MockAuditLog>,
}

impl Ports {
    pub fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            revocations: MockTokenRevocations::new(),
            marks: MockRevocationMarkQueue::new(),
            hasher: MockPasswordHasher::new(),
            tokens: MockTokenCodec::new(),
            outbox: MockOutboxSignal::new(),
            secrets: MockOneTimeSecretStore::new(),
            factor_store: MockSecondFactorStore::new(),
            factor_crypto: MockSecondFactorCrypto::new(),
            email_settings: app_email_settings(),
            lifetimes: TokenLifetimes::default(),
            settings: SessionSettings::default(),
            attempts: LoginAttempts::off(),
            audit: None,
        }
    }

    pub fn authentication(self) -> Authentication {
        Authentication::new(
            AuthenticationPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                revocations: Arc::new(self.revocations),
                marks: Arc::new(forgetting(self.marks)),
                hasher: Arc::new(self.hasher),
                tokens: Arc::new(self.tokens),
                clock: Arc::new(clock()),
                outbox: Arc::new(self.outbox),
                secrets: Arc::new(self.secrets),
                mail: secret_mail(self.email_settings),
                attempts: self.attempts,
                second_factor: crate::use_cases::SecondFactorPorts {
                    store: Arc::new(self.factor_store),
                    crypto: Arc::new(self.factor_crypto),
                },
                audit: Arc::new(self.audit.unwrap_or_else(|| {
                    let mut audit = MockAuditLog::new();
                    audit.expect_record().returning(|_| Ok(()));
                    audit
                })),
            },
            self.lifetimes,
            self.settings,
        )
    }

    /// The codec signs a token as "<kind>:<fresh>:<sid>:<lifetime>:<gen>"
    /// so tests can see what was issued (`-` for no generation).
    pub fn with_readable_tokens(mut self) -> Self {
        self.tokens.expect_encode().returning(|c| {
            Ok(format!(
                "{}:{}:{}:{}:{}",
                match c.kind {
                    TokenKind::Access => "access",
                    TokenKind::Refresh => "refresh",
                },
                c.fresh,
                c.session_id,
                (c.expires_at - c.issued_at).num_seconds(),
                c.generation.map_or("-".to_owned(), |g| g.to_string()),
            ))
        });
        self
    }

    /// `find_credentials` answers user 1 with hash "h" at epoch 4, and the
    /// hasher accepts the password "pw"; the user has no second factor.
    pub fn with_account(mut self) -> Self {
        self.users
            .expect_find_credentials()
            .returning(|_| Ok(Some(credentials(1))));
        self.hasher
            .expect_verify()
            .returning(|password, _| Ok(password.expose_secret() == "pw"));
        self.factor_store.expect_totp().returning(|_| Ok(None));
        self
    }
}

/// The tokens of a login that needed no second factor.
pub(super) fn signed_in(outcome: LoginOutcome) -> LoginTokens {
    match outcome {
        LoginOutcome::SignedIn(tokens) => tokens,
        other => panic!("a second factor was asked: {other:?}"),
    }
}

fn credentials(id: i64) -> StoredCredentials {
    StoredCredentials {
        user: user(id, Role::User),
        password_hash: PasswordHash::new("h".into()),
        session_epoch: SessionEpoch(4),
        banned_until: None,
    }
}

fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox"))
}

/// A login from [`device`] without a device token.
fn request(email: &str, password_text: &str) -> LoginRequest {
    LoginRequest {
        email: email.to_owned(),
        password: password(password_text),
        device: device(),
        device_token: None,
    }
}

fn password(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

// --- login ------------------------------------------------------------------

#[tokio::test]
async fn login_issues_a_fresh_access_and_a_refresh_token_in_one_session() {
    let mut ports = Ports::new().with_readable_tokens();
    ports.factor_store.expect_totp().returning(|_| Ok(None));
    ports
        .users
        .expect_find_credentials()
        .with(eq("ada@example.io"))
        .returning(|_| Ok(Some(credentials(1))));
    ports
        .hasher
        .expect_verify()
        .withf(|password, stored| {
            password.expose_secret() == "pw"
                && stored.as_ref().map(PasswordHash::as_str) == Some("h")
        })
        .returning(|_, _| Ok(true));
    ports
        .sessions
        .expect_open()
        .withf(|session, epoch, alert| {
            let Some(alert) = alert else { return false };
            session.user_id == UserId::new(1)
                && session.created_at == now()
                && session.expires_at == now() + Duration::seconds(2_592_000)
                && session.device == device()
                && *epoch == SessionEpoch(4)
                && session.audit
                    == crate::ports::NewAuditEvent {
                        at: now(),
                        kind: domain::AuditEventKind::LoginSucceeded,
                        actor: Some(UserId::new(1)),
                        subject: Some(UserId::new(1)),
                        session: Some(session.id.clone()),
                        ip: Some("203.0.113.7".parse().unwrap()),
                        user_agent: Some("Firefox".to_owned()),
                        data: serde_json::json!({ "amr": ["pwd"] }),
                    }
                && alert.lookback == Duration::days(90)
                && matches!(&alert.email.email, Email::NewDeviceLogin {
                    to, ip, user_agent, session_id, ..
                } if to == "user1@example.io" && ip == "203.0.113.7"
                    && user_agent == "Firefox" && session_id == session.id.as_str())
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: true,
                ended: Vec::new(),
            })
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    let tokens = signed_in(
        ports
            .authentication()
            .login(request("  Ada@Example.IO ", "pw"))
            .await
            .unwrap(),
    );
    let access: Vec<_> = tokens.access_token.split(':').collect();
    let refresh: Vec<_> = tokens.refresh_token.split(':').collect();
    assert_eq!(&access[..2], ["access", "true"]);
    assert_eq!(access[3], "300");
    assert_eq!(access[4], "-", "access tokens carry no generation");
    assert_eq!(&refresh[..2], ["refresh", "false"]);
    assert_eq!(refresh[3], "2592000");
    assert_eq!(refresh[4], "0", "a session starts at generation 0");
    assert_eq!(access[2], refresh[2], "both tokens share the login session");
    assert_eq!(access[2].len(), 32);
    assert_eq!(tokens.expires_in, 300);
}

/// A device token an earlier login handed out.
fn earlier_device_token() -> DeviceToken {
    DeviceToken::from_secret(&domain::OneTimeSecret::from_entropy([9; 32], 0))
}

#[tokio::test]
async fn a_login_answers_a_new_device_token_and_stores_its_digest() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    let issued = DeviceToken::from_secret(&crate::use_cases::test_support::fixed_secret());
    let digest = issued.digest();
    ports
        .sessions
        .expect_open()
        .withf(move |session, _, _| session.device_token == digest)
        .times(1)
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: false,
                ended: Vec::new(),
            })
        });
    let tokens = signed_in(
        ports
            .authentication()
            .login(request("user1@example.io", "pw"))
            .await
            .unwrap(),
    );
    assert_eq!(tokens.device_token, issued);
}

#[tokio::test]
async fn a_recognised_device_token_is_answered_again() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    let known = earlier_device_token();
    let digest = known.digest();
    ports
        .sessions
        .expect_recognises_device()
        .with(eq(UserId::new(1)), eq(digest))
        .times(1)
        .returning(|_, _| Ok(true));
    ports
        .sessions
        .expect_open()
        .withf(move |session, _, _| session.device_token == digest)
        .times(1)
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: false,
                ended: Vec::new(),
            })
        });
    let mut login = request("user1@example.io", "pw");
    login.device_token = Some(known.clone());
    let tokens = signed_in(ports.authentication().login(login).await.unwrap());
    assert_eq!(tokens.device_token, known);
}

#[tokio::test]
async fn a_device_token_of_an_unknown_account_is_looked_up_all_the_same() {
    // The same queries whether or not the account exists: no timing tells.
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(None));
    ports
        .sessions
        .expect_recognises_device()
        .with(eq(UserId::new(0)), eq(earlier_device_token().digest()))
        .times(1)
        .returning(|_, _| Ok(false));
    ports
        .hasher
        .expect_verify()
        .withf(|_, stored| stored.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let mut login = request("nobody@example.io", "pw");
    login.device_token = Some(earlier_device_token());
    let error = ports.authentication().login(login).await.unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn a_throttled_client_is_refused_before_its_password_is_checked() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().never();
    let mut limiter = crate::ports::MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .withf(|subject, _| subject == "user1@example.io#4|all")
        .returning(|_, _| {
            Ok(crate::ports::AttemptDecision::Throttled {
                retry_after: std::time::Duration::from_secs(60),
            })
        });
    ports.attempts = LoginAttempts::new(
        Arc::new(limiter),
        crate::use_cases::LoginThrottles {
            per_client: crate::rate_limits::ThrottlePolicy::default(),
            per_account: crate::rate_limits::ThrottlePolicy::default(),
        },
    );
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    let LoginError::Throttled(limited) = error else {
        panic!("expected Throttled, got {error:?}");
    };
    assert_eq!(
        limited.rule,
        crate::rate_limits::Rule::FailedLoginsPerAccount
    );
}

#[tokio::test]
async fn a_login_whose_account_changed_meanwhile_gets_no_tokens() {
    let mut ports = Ports::new().with_account();
    ports
        .sessions
        .expect_open()
        .times(1)
        .returning(|_, _, _| Ok(OpenedSession::AccountChanged));
    ports.tokens.expect_encode().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_without_new_device_notifications_queues_no_alert() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    ports.settings.notify_new_device = false;
    ports
        .sessions
        .expect_open()
        .withf(|_, _, alert| alert.is_none())
        .times(1)
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: false,
                ended: Vec::new(),
            })
        });
    ports.outbox.expect_job_committed().never();
    ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_known_device_wakes_no_relay() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    ports.sessions.expect_open().returning(|_, _, _| {
        Ok(OpenedSession::Opened {
            alert_queued: false,
            ended: Vec::new(),
        })
    });
    ports.outbox.expect_job_committed().never();
    ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_login_over_the_limit_marks_the_sessions_it_ended_revoked() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    ports.settings.max_per_user = 3;
    ports
        .sessions
        .expect_open()
        .withf(|session, _, _| session.live_limit == 3)
        .times(1)
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: false,
                ended: vec![crate::ports::EndedSession {
                    id: SessionId::new("least-recently-used"),
                    expires_at: now() + Duration::seconds(1_000),
                    was_live: true,
                }],
            })
        });
    // Its tokens fail every token check at once, as after a logout.
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![crate::ports::Revocation::Session {
            id: SessionId::new("least-recently-used"),
            user: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    ports.outbox.expect_job_committed().never();
    ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_first_refresh_token_ends_with_the_maximum_session_lifetime() {
    let mut ports = Ports::new().with_account().with_readable_tokens();
    ports.settings.max_lifetime = Duration::seconds(100);
    ports
        .sessions
        .expect_open()
        .withf(|session, _, _| session.expires_at == now() + Duration::seconds(100))
        .returning(|_, _, _| {
            Ok(OpenedSession::Opened {
                alert_queued: false,
                ended: Vec::new(),
            })
        });
    let tokens = signed_in(
        ports
            .authentication()
            .login(request("user1@example.io", "pw"))
            .await
            .unwrap(),
    );
    assert_eq!(tokens.refresh_token.split(':').nth(3), Some("100"));
}

#[tokio::test]
async fn a_session_store_outage_at_login_is_unavailable() {
    let mut ports = Ports::new().with_account();
    ports.sessions.expect_open().returning(|_, _, _| {
        Err(crate::ports::SessionStoreError::Unavailable(
            "refused".into(),
        ))
    });
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        LoginError::Dependency(DependencyError::Unavailable(Dependency::SessionStore, _))
    ));
}

#[tokio::test]
async fn login_with_an_unknown_email_still_pays_for_a_hash() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(None));
    ports
        .hasher
        .expect_verify()
        .withf(|password, stored| password.expose_secret() == "pw" && stored.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let error = ports
        .authentication()
        .login(request("nobody@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_malformed_email_pays_for_a_hash_without_asking_the_store() {
    for email in [
        "ada\u{0}@example.io",
        "not an email",
        "ada@example.io\u{7}",
        "",
    ] {
        let mut ports = Ports::new();
        ports.users.expect_find_credentials().never();
        ports
            .hasher
            .expect_verify()
            .withf(|_, stored| stored.is_none())
            .times(1)
            .returning(|_, _| Ok(false));
        let error = ports
            .authentication()
            .login(request(email, "pw"))
            .await
            .unwrap_err();
        assert!(matches!(error, LoginError::InvalidCredentials), "{email:?}");
    }
}

#[tokio::test]
async fn login_looks_up_an_address_stored_under_older_rules() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .withf(|key| key == "\"a,b\"@example.io")
        .times(1)
        .returning(|_| Ok(None));
    ports
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(false));
    let error = ports
        .authentication()
        .login(request("\"a,b\"@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_wrong_password_fails_like_an_unknown_email() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_lifetime_past_the_calendar_fails_instead_of_panicking() {
    let mut ports = Ports::new();
    ports.lifetimes.refresh = Duration::MAX;
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports.factor_store.expect_totp().returning(|_| Ok(None));
    ports.tokens.expect_encode().returning(|_| Ok("t".into()));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        LoginError::Dependency(DependencyError::Failed(Dependency::TokenSigner, _))
    ));
}

#[tokio::test]
async fn login_keeps_the_store_error_as_its_source() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Err(RepositoryError::Unavailable("connection refused".into())));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    let mut chain = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(&error);
    while let Some(error) = current {
        chain.push(error.to_string());
        current = error.source();
    }
    assert_eq!(
        chain,
        [
            "the user store is unavailable",
            "the user store is unavailable",
            "connection refused"
        ]
    );
}

// --- authenticate -------------------------------------------------------------

fn decoding(ports: &mut Ports, claims: TokenClaims) {
    ports
        .tokens
        .expect_decode()
        .returning(move |_| Ok(claims.clone()));
}

#[tokio::test]
async fn authenticate_accepts_a_live_token() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, false));
    ports
        .revocations
        .expect_is_revoked()
        .times(1)
        .returning(|_| Ok(false));
    let accepted = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap();
    assert_eq!(accepted.user_id, UserId::new(1));
}

#[tokio::test]
async fn authenticate_passes_codec_rejections_through() {
    for rejection in [TokenRejection::Invalid, TokenRejection::Expired] {
        let mut ports = Ports::new();
        ports
            .tokens
            .expect_decode()
            .returning(move |_| Err(rejection));
        ports.revocations.expect_is_revoked().never();
        let error = ports
            .authentication()
            .authenticate("t", TokenRequirement::Access)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthenticateError::Token(r) if r == rejection));
    }
}

#[tokio::test]
async fn authenticate_rejects_an_expired_token_even_if_the_codec_let_it_pass() {
    let mut ports = Ports::new();
    let mut stale = claims(1, TokenKind::Access, true);
    stale.expires_at = now();
    decoding(&mut ports, stale);
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::Expired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_a_refresh_token_where_access_is_needed() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Refresh, false));
    ports.revocations.expect_is_revoked().never();
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::AccessRequired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_an_access_token_where_refresh_is_needed() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports.revocations.expect_is_revoked().never();
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Refresh)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::RefreshRequired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_a_revoked_session() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports
        .revocations
        .expect_is_revoked()
        .withf(|c| c.session_id.as_str() == "sid-1")
        .returning(|_| Ok(true));
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::Revoked)
    ));
}

#[tokio::test]
async fn authenticate_fails_closed_when_the_revocation_store_is_down() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports
        .revocations
        .expect_is_revoked()
        .returning(|_| Err(RevocationError::Unavailable("refused".into())));
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Dependency(DependencyError::Unavailable(Dependency::RevocationStore, _))
    ));
}

#[tokio::test]
async fn authenticate_demands_freshness_only_where_required() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, false));
    ports
        .revocations
        .expect_is_revoked()
        .returning(|_| Ok(false));
    let authentication = ports.authentication();
    assert!(
        authentication
            .authenticate("t", TokenRequirement::Access)
            .await
            .is_ok()
    );
    let error = authentication
        .authenticate("t", TokenRequirement::FreshAccess)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::NotFresh)
    ));
}

#[tokio::test]
async fn an_unverified_account_cannot_log_in_when_verification_is_required_and_gets_a_new_email() {
    let mut ports = Ports::new();
    ports.email_settings.require_verified_email = true;
    ports.users.expect_find_credentials().returning(|_| {
        let mut found = credentials(1);
        found.user.email_verified = false;
        Ok(Some(found))
    });
    ports
        .hasher
        .expect_verify()
        .returning(|password, _| Ok(password.expose_secret() == "pw"));
    ports
        .secrets
        .expect_issue()
        .withf(|user, secret, emails, interval| {
            *user == UserId::new(1)
                && secret.purpose == domain::SecretPurpose::VerifyEmail
                && matches!(&emails[..], [email] if matches!(&email.email, Email::VerifyEmail { to, code, .. }
                    if to == "user1@example.io" && code == "123456"))
                && *interval == Duration::seconds(60)
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports.sessions.expect_open().never();
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::EmailNotVerified));
}

#[tokio::test]
async fn a_wrong_password_of_an_unverified_account_is_still_invalid_credentials() {
    let mut ports = Ports::new();
    ports.email_settings.require_verified_email = true;
    ports.users.expect_find_credentials().returning(|_| {
        let mut found = credentials(1);
        found.user.email_verified = false;
        Ok(Some(found))
    });
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.secrets.expect_issue().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}
