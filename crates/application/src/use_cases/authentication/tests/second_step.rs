//! A login of a user with TOTP enabled: the `mfa_token` `/login` answers,
//! and `complete_login` (`POST /login/mfa`) with a TOTP or recovery code.

use std::sync::Mutex;

use domain::{AuthMethods, MfaChallengeToken, RecoveryCode, TimeStep, TotpSecret};

use super::*;
use crate::EmailJob;
use crate::error::CompleteLoginError;
use crate::ports::{Challenge, SealedTotpSecret, StoredTotp};
use crate::use_cases::test_support::fixed_secret;

fn mfa_token() -> MfaChallengeToken {
    MfaChallengeToken::from_entropy([3; 32])
}

fn secret() -> TotpSecret {
    TotpSecret::from_bytes([7; TotpSecret::BYTES])
}

fn sealed_secret() -> SealedTotpSecret {
    SealedTotpSecret {
        key_id: "k1".into(),
        nonce: vec![1; 12],
        ciphertext: vec![2; 36],
    }
}

/// User 1's factor: enabled (or pending), `last_step` the last taken.
fn stored(enabled: bool, last_step: Option<TimeStep>) -> StoredTotp {
    StoredTotp {
        sealed: sealed_secret(),
        enabled_at: enabled.then(|| now() - Duration::days(1)),
        last_step,
    }
}

/// The step `offset` steps from now.
fn step(offset: i64) -> TimeStep {
    TimeStep::new(TimeStep::at(now()).get() + offset)
}

/// The code the app shows `offset` steps from now.
fn code(offset: i64) -> String {
    secret().code_at(step(offset))
}

/// Six digits that are no code of the accepted window.
fn wrong_code() -> String {
    let window = [code(-1), code(0), code(1)];
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|candidate| !window.contains(candidate))
        .unwrap()
}

fn recovery_code() -> RecoveryCode {
    RecoveryCode::from_entropy(123_456_789_012_345_678_901)
}

/// User 1's live challenge, opened at epoch 4 from [`device`].
fn challenge() -> Challenge {
    Challenge {
        user: UserId::new(1),
        epoch: SessionEpoch(4),
        device: device(),
        known_device: None,
        expires_at: now() + Duration::seconds(300),
        failures: 0,
    }
}

fn totp_step(code: String) -> SecondStepRequest {
    SecondStepRequest {
        mfa_token: mfa_token().as_str().to_owned(),
        proof: SecondFactorProof::Totp(code),
    }
}

fn recovery_step(code: String) -> SecondStepRequest {
    SecondStepRequest {
        mfa_token: mfa_token().as_str().to_owned(),
        proof: SecondFactorProof::RecoveryCode(code),
    }
}

/// The device token a login answers when the client brought none.
fn issued_device_token() -> DeviceToken {
    DeviceToken::from_secret(&fixed_secret())
}

impl Ports {
    /// The `mfa_token` names user 1's live challenge; user 1 exists.
    fn with_challenge(mut self) -> Self {
        self.factor_store
            .expect_challenge()
            .with(eq(mfa_token().digest()), eq(now()))
            .times(1)
            .returning(|_, _| Ok(Some(challenge())));
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .times(1)
            .returning(|_| Ok(Some(user(1, Role::User))));
        self
    }

    /// User 1 has TOTP enabled with `last_step` taken, within its code
    /// budget; the crypto opens its secret to [`secret`].
    fn with_totp(mut self, last_step: Option<TimeStep>) -> Self {
        self.factor_store
            .expect_budget_exhausted()
            .with(eq(UserId::new(1)), eq(now()))
            .times(1)
            .returning(|_, _| Ok(false));
        self.factor_store
            .expect_totp()
            .with(eq(UserId::new(1)))
            .times(1)
            .returning(move |_| Ok(Some(stored(true, last_step))));
        self.factor_crypto
            .expect_open()
            .withf(|user, sealed| *user == UserId::new(1) && *sealed == sealed_secret())
            .times(1)
            .returning(|_, _| Ok(secret()));
        self
    }

    /// The store takes `step` for user 1.
    fn accepting(mut self, step: TimeStep) -> Self {
        self.factor_store
            .expect_accept_step()
            .with(eq(UserId::new(1)), eq(step))
            .times(1)
            .returning(|_, _| Ok(true));
        self
    }

    /// The challenge is used up by this request and the session store
    /// opens the session of a login proven with `methods`.
    fn opening(mut self, methods: AuthMethods) -> Self {
        self.factor_store
            .expect_consume_challenge()
            .with(eq(mfa_token().digest()), eq(now()))
            .times(1)
            .returning(|_, _| Ok(Some(challenge())));
        self.sessions
            .expect_open()
            .withf(move |session, epoch, _| {
                session.user_id == UserId::new(1)
                    && session.methods == methods
                    && session.device == device()
                    && session.created_at == now()
                    && session.device_token == issued_device_token().digest()
                    && *epoch == SessionEpoch(4)
            })
            .times(1)
            .returning(|_, _, _| {
                Ok(OpenedSession::Opened {
                    alert_queued: false,
                    ended: Vec::new(),
                })
            });
        self.with_readable_tokens()
    }

    /// A wrong code is counted against the token, and against the code
    /// budget when `spends_budget`; no session opens.
    fn counting_a_wrong_code(mut self, spends_budget: bool) -> Self {
        self.factor_store
            .expect_record_wrong_code()
            .with(
                eq(mfa_token().digest()),
                eq(UserId::new(1)),
                eq(spends_budget),
                eq(now()),
            )
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        self.factor_store.expect_consume_challenge().never();
        self.sessions.expect_open().never();
        self.tokens.expect_encode().never();
        self
    }
}

async fn complete(
    ports: Ports,
    request: SecondStepRequest,
) -> Result<LoginTokens, CompleteLoginError> {
    ports.authentication().complete_login(request).await
}

fn assert_refused(result: Result<LoginTokens, CompleteLoginError>) {
    assert!(
        matches!(result, Err(CompleteLoginError::InvalidOrExpired)),
        "{result:?}"
    );
}

/// A full login's answer: an access and a refresh token of one new
/// session, for user 1, with a new device token (the methods the session
/// was opened with are checked on `NewSession`).
fn assert_signed_in(tokens: &LoginTokens) {
    let access: Vec<_> = tokens.access_token.split(':').collect();
    let refresh: Vec<_> = tokens.refresh_token.split(':').collect();
    assert_eq!(&access[..2], ["access", "true"]);
    assert_eq!(&refresh[..2], ["refresh", "false"]);
    assert_eq!(access[2], refresh[2], "both tokens share the new session");
    assert_eq!(tokens.user_id, UserId::new(1));
    assert_eq!(tokens.device_token, issued_device_token());
}

// --- /login with a second factor -----------------------------------------------

/// `find_credentials` answers user 1 (epoch 4) and the hasher accepts
/// "pw"; the user's TOTP factor is enabled or pending.
fn with_factor(enabled: bool) -> Ports {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports
        .hasher
        .expect_verify()
        .returning(|password, _| Ok(password.expose_secret() == "pw"));
    ports
        .factor_store
        .expect_totp()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(move |_| Ok(Some(stored(enabled, None))));
    ports
}

fn expect_challenge_opened(ports: &mut Ports, known_device: Option<[u8; 32]>) {
    ports
        .factor_crypto
        .expect_new_challenge_token()
        .times(1)
        .returning(mfa_token);
    ports
        .factor_store
        .expect_open_challenge()
        .withf(move |opened| {
            opened.digest == mfa_token().digest()
                && opened.user == UserId::new(1)
                && opened.epoch == SessionEpoch(4)
                && opened.device == device()
                && opened.known_device == known_device
                && opened.created_at == now()
                && opened.expires_at == now() + Duration::seconds(300)
        })
        .times(1)
        .returning(|_| Ok(()));
    ports.sessions.expect_open().never();
    ports.tokens.expect_encode().never();
}

fn second_factor_required(outcome: LoginOutcome) -> crate::use_cases::SecondFactorChallenge {
    match outcome {
        LoginOutcome::SecondFactorRequired(challenge) => challenge,
        LoginOutcome::SignedIn(_) => panic!("signed in without the second factor"),
    }
}

#[tokio::test]
async fn a_login_with_totp_enabled_answers_an_mfa_token_and_opens_no_session() {
    let mut ports = with_factor(true);
    expect_challenge_opened(&mut ports, None);
    let challenge = second_factor_required(
        ports
            .authentication()
            .login(request("user1@example.io", "pw"))
            .await
            .unwrap(),
    );
    assert_eq!(challenge.mfa_token, mfa_token());
    assert_eq!(challenge.mfa_token.as_str().len(), 43);
    assert_eq!(challenge.expires_in, 300);
    assert_eq!(challenge.user_id, UserId::new(1));
}

#[tokio::test]
async fn a_challenge_remembers_the_recognised_device_of_the_login() {
    let mut ports = with_factor(true);
    let known = earlier_device_token();
    ports
        .sessions
        .expect_recognises_device()
        .with(eq(UserId::new(1)), eq(known.digest()))
        .times(1)
        .returning(|_, _| Ok(true));
    expect_challenge_opened(&mut ports, Some(known.digest()));
    let mut login = request("user1@example.io", "pw");
    login.device_token = Some(known);
    second_factor_required(ports.authentication().login(login).await.unwrap());
}

#[tokio::test]
async fn a_wrong_password_of_a_user_with_totp_opens_no_challenge() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.factor_store.expect_totp().never();
    ports.factor_crypto.expect_new_challenge_token().never();
    ports.factor_store.expect_open_challenge().never();
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn a_pending_enrolment_does_not_ask_for_a_second_factor() {
    let mut ports = with_factor(false).with_readable_tokens();
    ports.factor_crypto.expect_new_challenge_token().never();
    ports.factor_store.expect_open_challenge().never();
    ports
        .sessions
        .expect_open()
        .withf(|session, epoch, _| {
            session.user_id == UserId::new(1)
                && session.methods == AuthMethods::Password
                && *epoch == SessionEpoch(4)
        })
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
    assert_eq!(tokens.user_id, UserId::new(1));
}

// --- complete_login: the token -------------------------------------------------

#[tokio::test]
async fn a_malformed_mfa_token_is_refused_without_a_lookup() {
    let too_long = format!("{}a", mfa_token().as_str());
    let bad_char = format!("{}!", &mfa_token().as_str()[..42]);
    for token in ["", "short", too_long.as_str(), bad_char.as_str()] {
        let mut ports = Ports::new();
        ports.factor_store.expect_challenge().never();
        ports.users.expect_find_by_id().never();
        let result = complete(
            ports,
            SecondStepRequest {
                mfa_token: token.to_owned(),
                proof: SecondFactorProof::Totp(code(0)),
            },
        )
        .await;
        assert_refused(result);
    }
}

#[tokio::test]
async fn an_unknown_or_expired_mfa_token_is_refused_without_further_calls() {
    let mut ports = Ports::new();
    ports
        .factor_store
        .expect_challenge()
        .with(eq(mfa_token().digest()), eq(now()))
        .times(1)
        .returning(|_, _| Ok(None));
    ports.users.expect_find_by_id().never();
    ports.factor_store.expect_budget_exhausted().never();
    ports.factor_store.expect_record_wrong_code().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

#[tokio::test]
async fn a_challenge_of_a_deleted_account_is_refused() {
    let mut ports = Ports::new();
    ports
        .factor_store
        .expect_challenge()
        .returning(|_, _| Ok(Some(challenge())));
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(|_| Ok(None));
    ports.factor_store.expect_budget_exhausted().never();
    ports.factor_store.expect_record_wrong_code().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

// --- complete_login: TOTP ------------------------------------------------------

#[tokio::test]
async fn the_right_totp_code_opens_a_password_and_totp_session() {
    let ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .accepting(step(0))
        .opening(AuthMethods::PasswordAndTotp);
    let tokens = complete(ports, totp_step(code(0))).await.unwrap();
    assert_signed_in(&tokens);
    assert_eq!(tokens.expires_in, 300);
}

#[tokio::test]
async fn codes_of_one_step_either_side_are_taken_for_their_own_step() {
    for offset in [-1, 1] {
        let ports = Ports::new()
            .with_challenge()
            .with_totp(None)
            .accepting(step(offset))
            .opening(AuthMethods::PasswordAndTotp);
        let tokens = complete(ports, totp_step(code(offset))).await.unwrap();
        assert_signed_in(&tokens);
    }
}

#[tokio::test]
async fn codes_two_steps_away_are_wrong_and_spend_the_budget() {
    for offset in [-2, 2] {
        assert!(![code(-1), code(0), code(1)].contains(&code(offset)));
        let mut ports = Ports::new()
            .with_challenge()
            .with_totp(None)
            .counting_a_wrong_code(true);
        ports.factor_store.expect_accept_step().never();
        assert_refused(complete(ports, totp_step(code(offset))).await);
    }
}

#[tokio::test]
async fn a_wrong_totp_code_counts_against_the_token_and_the_budget() {
    let mut ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .counting_a_wrong_code(true);
    ports.factor_store.expect_accept_step().never();
    assert_refused(complete(ports, totp_step(wrong_code())).await);
}

#[tokio::test]
async fn a_malformed_totp_code_is_wrong_without_reading_the_factor() {
    let mut ports = Ports::new().with_challenge().counting_a_wrong_code(true);
    ports.factor_store.expect_budget_exhausted().never();
    ports.factor_store.expect_totp().never();
    ports.factor_crypto.expect_open().never();
    assert_refused(complete(ports, totp_step("12 34a6".into())).await);
}

#[tokio::test]
async fn a_code_of_a_step_already_taken_or_before_it_is_wrong_without_asking_the_store() {
    for (offset, last) in [(0, 0), (0, 1), (-1, 0)] {
        let mut ports = Ports::new()
            .with_challenge()
            .with_totp(Some(step(last)))
            .counting_a_wrong_code(true);
        ports.factor_store.expect_accept_step().never();
        assert_refused(complete(ports, totp_step(code(offset))).await);
    }
}

#[tokio::test]
async fn a_code_of_the_step_after_the_last_taken_is_accepted() {
    let ports = Ports::new()
        .with_challenge()
        .with_totp(Some(step(-1)))
        .accepting(step(0))
        .opening(AuthMethods::PasswordAndTotp);
    assert_signed_in(&complete(ports, totp_step(code(0))).await.unwrap());
}

#[tokio::test]
async fn a_step_taken_by_a_concurrent_request_is_wrong() {
    let mut ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .counting_a_wrong_code(true);
    ports
        .factor_store
        .expect_accept_step()
        .with(eq(UserId::new(1)), eq(step(0)))
        .times(1)
        .returning(|_, _| Ok(false));
    assert_refused(complete(ports, totp_step(code(0))).await);
}

#[tokio::test]
async fn a_spent_budget_refuses_even_the_right_code() {
    let mut ports = Ports::new().with_challenge().counting_a_wrong_code(true);
    ports
        .factor_store
        .expect_budget_exhausted()
        .with(eq(UserId::new(1)), eq(now()))
        .times(1)
        .returning(|_, _| Ok(true));
    ports.factor_store.expect_totp().never();
    ports.factor_crypto.expect_open().never();
    ports.factor_store.expect_accept_step().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

// --- complete_login: recovery codes --------------------------------------------

#[tokio::test]
async fn the_right_recovery_code_opens_a_password_and_recovery_code_session_with_a_notice() {
    let mut ports = Ports::new()
        .with_challenge()
        .opening(AuthMethods::PasswordAndRecoveryCode);
    let built: Arc<Mutex<Option<EmailJob>>> = Arc::default();
    let keep = Arc::clone(&built);
    ports
        .factor_store
        .expect_use_recovery_code()
        .withf(|user, digest, _, audit, at| {
            *user == UserId::new(1)
                && *digest == recovery_code().digest(UserId::new(1))
                && *audit
                    == crate::ports::NewAuditEvent {
                        at: now(),
                        kind: domain::AuditEventKind::RecoveryCodeUsed,
                        actor: Some(UserId::new(1)),
                        subject: Some(UserId::new(1)),
                        session: None,
                        ip: Some("203.0.113.7".parse().unwrap()),
                        user_agent: Some("Firefox".to_owned()),
                        data: serde_json::json!({}),
                    }
                && *at == now()
        })
        .times(1)
        .returning(move |_, _, notice, _, _| {
            *keep.lock().unwrap() = Some(notice(7));
            Ok(Some(7))
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports.factor_store.expect_budget_exhausted().never();
    ports.factor_store.expect_accept_step().never();
    // Typed as shown, in capitals: case, hyphens and spaces do not matter.
    let typed = format!(" {} ", recovery_code().display().to_uppercase());
    let tokens = complete(ports, recovery_step(typed)).await.unwrap();
    assert_signed_in(&tokens);
    let notice = built.lock().unwrap().take().expect("the notice was built");
    assert_eq!(notice.created_at, now());
    assert_eq!(
        notice.email,
        Email::RecoveryCodeUsed {
            to: "user1@example.io".into(),
            used_at: now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            remaining: 7,
        }
    );
}

#[tokio::test]
async fn a_wrong_recovery_code_counts_against_the_token_but_not_the_budget() {
    let mut ports = Ports::new().with_challenge().counting_a_wrong_code(false);
    ports
        .factor_store
        .expect_use_recovery_code()
        .times(1)
        .returning(|_, _, _, _, _| Ok(None));
    ports.outbox.expect_job_committed().never();
    ports.factor_store.expect_budget_exhausted().never();
    assert_refused(complete(ports, recovery_step(recovery_code().display())).await);
}

#[tokio::test]
async fn a_malformed_recovery_code_is_wrong_without_a_lookup() {
    let mut ports = Ports::new().with_challenge().counting_a_wrong_code(false);
    ports.factor_store.expect_use_recovery_code().never();
    assert_refused(complete(ports, recovery_step("not-a-code".into())).await);
}

// --- complete_login: races and throttling --------------------------------------

#[tokio::test]
async fn a_challenge_consumed_by_another_request_opens_no_session() {
    let mut ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .accepting(step(0));
    ports
        .factor_store
        .expect_consume_challenge()
        .with(eq(mfa_token().digest()), eq(now()))
        .times(1)
        .returning(|_, _| Ok(None));
    ports.factor_store.expect_record_wrong_code().never();
    ports.sessions.expect_open().never();
    ports.tokens.expect_encode().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

#[tokio::test]
async fn a_login_logged_out_everywhere_since_the_password_gets_no_tokens() {
    let mut ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .accepting(step(0));
    ports
        .factor_store
        .expect_consume_challenge()
        .times(1)
        .returning(|_, _| Ok(Some(challenge())));
    ports
        .sessions
        .expect_open()
        .withf(|_, epoch, _| *epoch == SessionEpoch(4))
        .times(1)
        .returning(|_, _, _| Ok(OpenedSession::AccountChanged));
    ports.tokens.expect_encode().never();
    ports.outbox.expect_job_committed().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

#[tokio::test]
async fn a_throttled_client_is_refused_before_its_code_is_checked() {
    let mut ports = Ports::new().with_challenge();
    let mut limiter = crate::ports::MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .withf(|subject, _| subject == "user1@example.io#4|all")
        .times(1)
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
    ports.factor_store.expect_budget_exhausted().never();
    ports.factor_store.expect_totp().never();
    ports.factor_store.expect_use_recovery_code().never();
    ports.factor_store.expect_accept_step().never();
    ports.factor_store.expect_record_wrong_code().never();
    ports.factor_store.expect_consume_challenge().never();
    assert_refused(complete(ports, totp_step(code(0))).await);
}

#[tokio::test]
async fn a_wrong_second_step_is_audited_as_mfa_failed() {
    let mut ports = Ports::new()
        .with_challenge()
        .with_totp(None)
        .counting_a_wrong_code(true);
    ports.factor_store.expect_accept_step().never();
    let mut audit = crate::ports::MockAuditLog::new();
    audit
        .expect_record()
        .withf(|events| {
            *events
                == [crate::ports::NewAuditEvent::by_user(
                    domain::AuditEventKind::LoginFailed,
                    UserId::new(1),
                    None,
                    Some(&device()),
                    now(),
                    serde_json::json!({ "reason": "mfa_failed" }),
                )]
        })
        .times(1)
        .returning(|_| Ok(()));
    ports.audit = Some(audit);
    assert_refused(complete(ports, totp_step(wrong_code())).await);
}
