use chrono::Duration;
use domain::{
    AuditEventKind, ClientDevice, Role, SessionId, TimeStep, TokenKind, TotpSecret, UserId,
};
use mockall::predicate::eq;

use super::*;
use crate::ports::{
    EndedSession, MockSecondFactorCrypto, MockSecondFactorStore, Provisioning, Revocation,
    SealedTotpSecret, StoredTotp,
};
use crate::use_cases::test_support::{MockAccountPorts, claims, now, user};

/// The account mocks and the second factor's, all without expectations.
struct Ports {
    account: MockAccountPorts,
    store: MockSecondFactorStore,
    crypto: MockSecondFactorCrypto,
}

impl Ports {
    fn new() -> Self {
        Self {
            account: MockAccountPorts::new(),
            store: MockSecondFactorStore::new(),
            crypto: MockSecondFactorCrypto::new(),
        }
    }

    /// User 1 exists.
    fn with_user(mut self) -> Self {
        self.account
            .users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .returning(|_| Ok(Some(user(1, Role::User))));
        self
    }

    /// User 1 is gone.
    fn without_user(mut self) -> Self {
        self.account
            .users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .times(1)
            .returning(|_| Ok(None));
        self
    }

    /// User 1's stored factor: pending or enabled.
    fn with_totp(mut self, enabled: bool) -> Self {
        self.store
            .expect_totp()
            .with(eq(UserId::new(1)))
            .times(1)
            .returning(move |_| Ok(Some(stored(enabled))));
        self
    }

    /// The crypto opens user 1's sealed secret to [`secret`].
    fn opening(mut self) -> Self {
        self.crypto
            .expect_open()
            .withf(|user, sealed| *user == UserId::new(1) && *sealed == sealed_secret())
            .times(1)
            .returning(|_, _| Ok(secret()));
        self
    }

    fn factor(self) -> SecondFactor {
        SecondFactor::new(
            self.account.into_ports(),
            SecondFactorPorts {
                store: Arc::new(self.store),
                crypto: Arc::new(self.crypto),
            },
        )
    }
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

fn stored(enabled: bool) -> StoredTotp {
    StoredTotp {
        sealed: sealed_secret(),
        enabled_at: enabled.then(|| now() - Duration::days(1)),
        last_step: None,
    }
}

/// Ten distinct recovery codes, as the crypto mock makes them.
fn codes() -> Vec<RecoveryCode> {
    (0..10u128)
        .map(|i| RecoveryCode::from_entropy(i * 1_000_003 + 17))
        .collect()
}

fn digests(codes: &[RecoveryCode]) -> Vec<[u8; 32]> {
    codes
        .iter()
        .map(|code| code.digest(UserId::new(1)))
        .collect()
}

/// Where the user's requests come from.
fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.9".parse().unwrap()), Some("Safari"))
}

/// The event of a change user 1 made from session `sid-1` and [`device`].
fn audit_event(kind: AuditEventKind) -> crate::ports::NewAuditEvent {
    crate::ports::NewAuditEvent {
        at: now(),
        kind,
        actor: Some(UserId::new(1)),
        subject: Some(UserId::new(1)),
        session: Some(SessionId::new("sid-1")),
        ip: Some("203.0.113.9".parse().unwrap()),
        user_agent: Some("Safari".to_owned()),
        data: serde_json::json!({}),
    }
}

fn user_claims() -> TokenClaims {
    claims(1, TokenKind::Access, true)
}

/// `now()` as the notices state it.
fn stamped() -> String {
    now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The code the app shows `offset` steps from now.
fn code(offset: i64) -> String {
    secret().code_at(TimeStep::new(TimeStep::at(now()).get() + offset))
}

/// Six digits that are no code of the accepted window.
fn wrong_code() -> String {
    let window = [code(-1), code(0), code(1)];
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|candidate| !window.contains(candidate))
        .unwrap()
}

/// "sid-2", ended with 1000 s of refresh left.
fn ended() -> Vec<EndedSession> {
    vec![EndedSession {
        id: SessionId::new("sid-2"),
        expires_at: now() + Duration::seconds(1_000),
        was_live: true,
    }]
}

fn expect_ended_marked(ports: &mut Ports) {
    ports
        .account
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: SessionId::new("sid-2"),
            user: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
}

// --- enrol -------------------------------------------------------------------

#[tokio::test]
async fn enrol_seals_a_new_secret_for_the_user_and_answers_its_kit() {
    let mut ports = Ports::new().with_user();
    ports
        .crypto
        .expect_new_totp_secret()
        .times(1)
        .returning(secret);
    ports
        .crypto
        .expect_seal()
        .withf(|user, sealed| *user == UserId::new(1) && *sealed == secret())
        .times(1)
        .returning(|_, _| Ok(sealed_secret()));
    ports
        .store
        .expect_begin_totp()
        .with(eq(UserId::new(1)), eq(sealed_secret()), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(TotpEnrolment::Started));
    ports
        .crypto
        .expect_provisioning()
        .withf(|account, provisioned| account == "user1@example.io" && *provisioned == secret())
        .times(1)
        .returning(|_, _| {
            Ok(Provisioning {
                otpauth_uri: "otpauth://totp/Auth:user1@example.io?secret=S&issuer=Auth".into(),
                qr_svg: "<svg/>".into(),
            })
        });
    let kit = ports.factor().enrol(&user_claims()).await.unwrap();
    assert_eq!(
        kit,
        TotpEnrolmentKit {
            secret: secret().base32(),
            otpauth_uri: "otpauth://totp/Auth:user1@example.io?secret=S&issuer=Auth".into(),
            qr_svg: "<svg/>".into(),
        }
    );
    assert_eq!(kit.secret.len(), 32, "20 bytes are 32 base32 characters");
}

#[tokio::test]
async fn enrol_while_enabled_is_already_enabled_and_shows_no_secret() {
    let mut ports = Ports::new().with_user();
    ports.crypto.expect_new_totp_secret().returning(secret);
    ports
        .crypto
        .expect_seal()
        .returning(|_, _| Ok(sealed_secret()));
    ports
        .store
        .expect_begin_totp()
        .times(1)
        .returning(|_, _, _| Ok(TotpEnrolment::AlreadyEnabled));
    ports.crypto.expect_provisioning().never();
    let error = ports.factor().enrol(&user_claims()).await.unwrap_err();
    assert!(matches!(error, EnrolTotpError::AlreadyEnabled), "{error:?}");
}

#[tokio::test]
async fn enrol_for_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new().without_user();
    ports.crypto.expect_new_totp_secret().never();
    ports.store.expect_begin_totp().never();
    let error = ports.factor().enrol(&user_claims()).await.unwrap_err();
    assert!(
        matches!(error, EnrolTotpError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

// --- confirm -----------------------------------------------------------------

#[tokio::test]
async fn confirm_without_a_pending_enrolment_is_invalid() {
    let mut ports = Ports::new().with_user();
    ports
        .store
        .expect_totp()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(|_| Ok(None));
    ports.crypto.expect_open().never();
    ports.store.expect_enable_totp().never();
    let error = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmTotpError::InvalidOrExpired),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_when_already_enabled_is_already_enabled() {
    let mut ports = Ports::new().with_user().with_totp(true);
    ports.crypto.expect_open().never();
    ports.store.expect_enable_totp().never();
    let error = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmTotpError::AlreadyEnabled),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_for_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new().without_user();
    ports.store.expect_totp().never();
    let error = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmTotpError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_with_a_malformed_code_is_invalid_without_opening_the_secret() {
    for malformed in ["", "12345", "1234567", "12a456", "１２３４５６"] {
        let mut ports = Ports::new().with_user().with_totp(false);
        ports.crypto.expect_open().never();
        ports.store.expect_enable_totp().never();
        let error = ports
            .factor()
            .confirm(&user_claims(), malformed, &device())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConfirmTotpError::InvalidOrExpired),
            "{malformed:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn confirm_with_a_wrong_code_is_invalid_and_enables_nothing() {
    let mut ports = Ports::new().with_user().with_totp(false).opening();
    ports.crypto.expect_new_recovery_codes().never();
    ports.store.expect_enable_totp().never();
    let error = ports
        .factor()
        .confirm(&user_claims(), &wrong_code(), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmTotpError::InvalidOrExpired),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_takes_the_code_of_the_current_step_and_of_one_step_either_side() {
    for offset in [-1, 0, 1] {
        let mut ports = Ports::new().with_user().with_totp(false).opening();
        ports.crypto.expect_new_recovery_codes().returning(codes);
        let step = TimeStep::new(TimeStep::at(now()).get() + offset);
        ports
            .store
            .expect_enable_totp()
            .withf(move |enable| enable.step == step)
            .times(1)
            .returning(|_| Ok(TotpEnabled::Enabled { ended: Vec::new() }));
        ports
            .account
            .outbox
            .expect_job_committed()
            .times(1)
            .return_const(());
        let answered = ports
            .factor()
            .confirm(&user_claims(), &code(offset), &device())
            .await
            .unwrap();
        assert_eq!(answered, codes(), "offset {offset}");
    }
}

#[tokio::test]
async fn confirm_refuses_codes_two_steps_away() {
    for offset in [-2, 2] {
        assert!(![code(-1), code(0), code(1)].contains(&code(offset)));
        let mut ports = Ports::new().with_user().with_totp(false).opening();
        ports.crypto.expect_new_recovery_codes().never();
        ports.store.expect_enable_totp().never();
        let error = ports
            .factor()
            .confirm(&user_claims(), &code(offset), &device())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConfirmTotpError::InvalidOrExpired),
            "offset {offset}: {error:?}"
        );
    }
}

#[tokio::test]
async fn confirm_enables_with_the_step_the_codes_digests_the_kept_session_and_a_notice() {
    let mut ports = Ports::new().with_user().with_totp(false).opening();
    ports
        .crypto
        .expect_new_recovery_codes()
        .times(1)
        .returning(codes);
    ports
        .store
        .expect_enable_totp()
        .withf(|enable| {
            enable.user == UserId::new(1)
                && enable.step == TimeStep::at(now())
                && enable.recovery_codes == digests(&codes())
                && enable.recovery_codes.len() == 10
                && enable.keep == SessionId::new("sid-1")
                && enable.now == now()
                && enable.audit == audit_event(AuditEventKind::MfaEnabled)
                && enable.notice.created_at == now()
                && enable.notice.email
                    == Email::MfaEnabled {
                        to: "user1@example.io".into(),
                        enabled_at: stamped(),
                    }
        })
        .times(1)
        .returning(|_| Ok(TotpEnabled::Enabled { ended: Vec::new() }));
    ports
        .account
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports.account.revocations.expect_revoke().never();
    let answered = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap();
    assert_eq!(answered, codes());
}

#[tokio::test]
async fn confirm_accepts_a_code_typed_with_a_space() {
    let typed = format!("{} {}", &code(0)[..3], &code(0)[3..]);
    let mut ports = Ports::new().with_user().with_totp(false).opening();
    ports.crypto.expect_new_recovery_codes().returning(codes);
    ports
        .store
        .expect_enable_totp()
        .withf(|enable| enable.step == TimeStep::at(now()))
        .times(1)
        .returning(|_| Ok(TotpEnabled::Enabled { ended: Vec::new() }));
    ports.account.outbox.expect_job_committed().return_const(());
    ports
        .factor()
        .confirm(&user_claims(), &typed, &device())
        .await
        .unwrap();
}

#[tokio::test]
async fn confirm_refused_by_the_store_is_invalid_and_signals_nothing() {
    let mut ports = Ports::new().with_user().with_totp(false).opening();
    ports.crypto.expect_new_recovery_codes().returning(codes);
    ports
        .store
        .expect_enable_totp()
        .times(1)
        .returning(|_| Ok(TotpEnabled::Refused));
    ports.account.outbox.expect_job_committed().never();
    ports.account.revocations.expect_revoke().never();
    let error = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmTotpError::InvalidOrExpired),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_signals_the_outbox_and_marks_the_ended_sessions_revoked() {
    let mut ports = Ports::new().with_user().with_totp(false).opening();
    ports.crypto.expect_new_recovery_codes().returning(codes);
    ports
        .store
        .expect_enable_totp()
        .times(1)
        .returning(|_| Ok(TotpEnabled::Enabled { ended: ended() }));
    ports
        .account
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    expect_ended_marked(&mut ports);
    let answered = ports
        .factor()
        .confirm(&user_claims(), &code(0), &device())
        .await
        .unwrap();
    assert_eq!(answered, codes());
}

// --- status ------------------------------------------------------------------

#[tokio::test]
async fn status_answers_what_the_store_holds_for_the_token_user() {
    let mut ports = Ports::new();
    let held = SecondFactorStatus {
        totp_enabled_at: Some(now() - Duration::days(2)),
        recovery_codes_remaining: 7,
    };
    ports
        .store
        .expect_status()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(move |_| Ok(held));
    let status = ports.factor().status(&user_claims()).await.unwrap();
    assert_eq!(status, held);
}

// --- replace_recovery_codes --------------------------------------------------

#[tokio::test]
async fn replacing_the_codes_when_totp_is_off_is_not_enabled() {
    let mut ports = Ports::new().with_user();
    ports.crypto.expect_new_recovery_codes().returning(codes);
    ports
        .store
        .expect_replace_recovery_codes()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    ports.account.outbox.expect_job_committed().never();
    let error = ports
        .factor()
        .replace_recovery_codes(&user_claims())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ReplaceRecoveryCodesError::NotEnabled),
        "{error:?}"
    );
}

#[tokio::test]
async fn replacing_the_codes_stores_the_new_digests_with_a_notice() {
    let mut ports = Ports::new().with_user();
    ports
        .crypto
        .expect_new_recovery_codes()
        .times(1)
        .returning(codes);
    ports
        .store
        .expect_replace_recovery_codes()
        .withf(|user, digests_given, notice, at| {
            *user == UserId::new(1)
                && *digests_given == digests(&codes())
                && notice.created_at == now()
                && notice.email
                    == Email::RecoveryCodesReplaced {
                        to: "user1@example.io".into(),
                        replaced_at: stamped(),
                    }
                && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    ports
        .account
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    let answered = ports
        .factor()
        .replace_recovery_codes(&user_claims())
        .await
        .unwrap();
    assert_eq!(answered, codes());
}

#[tokio::test]
async fn replacing_the_codes_of_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new().without_user();
    ports.crypto.expect_new_recovery_codes().never();
    ports.store.expect_replace_recovery_codes().never();
    let error = ports
        .factor()
        .replace_recovery_codes(&user_claims())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ReplaceRecoveryCodesError::Token(TokenRejection::Revoked)
        ),
        "{error:?}"
    );
}

// --- disable -----------------------------------------------------------------

#[tokio::test]
async fn disabling_when_totp_is_off_is_not_enabled() {
    let mut ports = Ports::new().with_user();
    ports
        .store
        .expect_disable_totp()
        .times(1)
        .returning(|_| Ok(None));
    ports.account.outbox.expect_job_committed().never();
    ports.account.revocations.expect_revoke().never();
    let error = ports
        .factor()
        .disable(&user_claims(), &device())
        .await
        .unwrap_err();
    assert!(matches!(error, DisableTotpError::NotEnabled), "{error:?}");
}

#[tokio::test]
async fn disabling_keeps_this_session_marks_the_others_and_sends_a_notice() {
    let mut ports = Ports::new().with_user();
    ports
        .store
        .expect_disable_totp()
        .withf(|disable| {
            disable.user == UserId::new(1)
                && disable.keep == SessionId::new("sid-1")
                && disable.now == now()
                && disable.audit == audit_event(AuditEventKind::MfaDisabled)
                && disable.notice.created_at == now()
                && disable.notice.email
                    == Email::MfaDisabled {
                        to: "user1@example.io".into(),
                        disabled_at: stamped(),
                    }
        })
        .times(1)
        .returning(|_| Ok(Some(ended())));
    ports
        .account
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    expect_ended_marked(&mut ports);
    ports
        .factor()
        .disable(&user_claims(), &device())
        .await
        .unwrap();
}

#[tokio::test]
async fn disabling_for_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new().without_user();
    ports.store.expect_disable_totp().never();
    let error = ports
        .factor()
        .disable(&user_claims(), &device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DisableTotpError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}
