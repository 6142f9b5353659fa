//! `POST /login/mfa`: the second step of a login whose password was
//! right, with a TOTP code or a recovery code. Every refusal is the same
//! answer. A wrong code counts against the `mfa_token` (5 tries), as a
//! failed login of the client, and, for a TOTP code, against the
//! account's budget of wrong codes (its 10^6 codes are guessable; a
//! recovery code's 82 bits are not).

use chrono::{DateTime, Utc};
use domain::{
    AuditEventKind, AuthMethods, ClientDevice, LoginFailure, MfaChallengeToken, RecoveryCode,
    TimeStep, TotpCode, User,
};

use super::Authentication;
use super::failed_login::FailedAccount;
use super::session_opening::VerifiedLogin;
use crate::Email;
use crate::error::CompleteLoginError;
use crate::ports::{Challenge, NewAuditEvent};
use crate::use_cases::LoginTokens;
use crate::use_cases::login_attempts::{AttemptClient, AttemptOutcome, AttemptSubject};
use crate::use_cases::second_factor::notice;

/// What the second step proves the login with.
#[derive(Debug)]
pub enum SecondFactorProof {
    /// Six digits from the authenticator app.
    Totp(String),
    /// One of the recovery codes, as typed.
    RecoveryCode(String),
}

/// What `POST /login/mfa` sends.
#[derive(Debug)]
pub struct SecondStepRequest {
    pub mfa_token: String,
    pub proof: SecondFactorProof,
}

/// How checking the proof ended.
enum Verdict {
    Passed(AuthMethods),
    /// Wrong (or replayed); whether it spends the account's code budget.
    Wrong {
        spends_budget: bool,
    },
}

impl Authentication {
    /// Completes a login with its second factor: the session, and the
    /// same answer as a login without one (`aal2`, `amr` naming the
    /// factor). The `mfa_token` is used up; one token opens one session.
    #[tracing::instrument(level = "debug", name = "login_second_step", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn complete_login(
        &self,
        request: SecondStepRequest,
    ) -> Result<LoginTokens, CompleteLoginError> {
        let token = MfaChallengeToken::parse(&request.mfa_token)
            .ok_or(CompleteLoginError::InvalidOrExpired)?;
        let now = self.clock.now();
        let challenge = self
            .factor
            .store
            .challenge(token.digest(), now)
            .await?
            .ok_or(CompleteLoginError::InvalidOrExpired)?;
        tracing::Span::current().record("user_id", challenge.user.get());
        let user = self
            .users
            .find_by_id(challenge.user)
            .await?
            .ok_or(CompleteLoginError::InvalidOrExpired)?;
        // Counted as a login attempt of this client on the account: a
        // throttled client is refused before its code is looked at.
        let attempt = match self.attempts.begin(subject(&user, &challenge)).await {
            Ok(attempt) => attempt,
            Err(limited) => {
                self.record_failed_login(
                    FailedAccount::Known(user.id),
                    &challenge.device,
                    LoginFailure::Throttled,
                )
                .await;
                return Err(limited.into());
            }
        };

        let verdict = match self
            .verdict(&user, &challenge.device, request.proof, now)
            .await
        {
            Ok(verdict) => verdict,
            Err(error) => {
                attempt.record(AttemptOutcome::Inconclusive).await;
                return Err(error);
            }
        };
        let methods = match verdict {
            Verdict::Passed(methods) => methods,
            Verdict::Wrong { spends_budget } => {
                // The attempt stays counted as a failure.
                self.factor
                    .store
                    .record_wrong_code(token.digest(), user.id, spends_budget, now)
                    .await?;
                self.record_failed_login(
                    FailedAccount::Known(user.id),
                    &challenge.device,
                    LoginFailure::MfaFailed,
                )
                .await;
                return Err(CompleteLoginError::InvalidOrExpired);
            }
        };
        // Of two requests that both passed (two codes, one token), one
        // opens a session.
        let Some(challenge) = self
            .factor
            .store
            .consume_challenge(token.digest(), now)
            .await?
        else {
            attempt.record(AttemptOutcome::Inconclusive).await;
            return Err(CompleteLoginError::InvalidOrExpired);
        };
        let opened = self
            .open_session(VerifiedLogin {
                user,
                epoch: challenge.epoch,
                device: challenge.device,
                // The token itself is not kept with the challenge: the
                // client gets a new one (its old one stays recognised).
                known_device: None,
                methods,
                now,
            })
            .await;
        let outcome = match &opened {
            Ok(Some(_)) => AttemptOutcome::Succeeded,
            _ => AttemptOutcome::Inconclusive,
        };
        attempt.record(outcome).await;
        // None: logged out everywhere (or reset) since the password.
        opened?.ok_or(CompleteLoginError::InvalidOrExpired)
    }

    async fn verdict(
        &self,
        user: &User,
        device: &ClientDevice,
        proof: SecondFactorProof,
        // The login's instant: its events share it (a recovery code used,
        // then the session it opened, in that order).
        now: DateTime<Utc>,
    ) -> Result<Verdict, CompleteLoginError> {
        match proof {
            SecondFactorProof::Totp(code) => {
                let wrong = Verdict::Wrong {
                    spends_budget: true,
                };
                let Ok(code) = TotpCode::parse(&code) else {
                    return Ok(wrong);
                };
                // A spent budget refuses every code, right or wrong.
                if self.factor.store.budget_exhausted(user.id, now).await? {
                    return Ok(wrong);
                }
                let Some(stored) = self.factor.store.totp(user.id).await? else {
                    return Ok(wrong);
                };
                let secret = self.factor.crypto.open(user.id, &stored.sealed)?;
                let step = secret
                    .matching_step(&code, now)
                    .filter(|step: &TimeStep| step.follows(stored.last_step));
                // The store takes the step once, whatever races this.
                let taken = match step {
                    Some(step) => self.factor.store.accept_step(user.id, step).await?,
                    None => false,
                };
                Ok(if taken {
                    Verdict::Passed(AuthMethods::PasswordAndTotp)
                } else {
                    wrong
                })
            }
            SecondFactorProof::RecoveryCode(code) => {
                let wrong = Verdict::Wrong {
                    spends_budget: false,
                };
                let Ok(code) = RecoveryCode::parse(&code) else {
                    return Ok(wrong);
                };
                let notice_user = user.clone();
                let used = self
                    .factor
                    .store
                    .use_recovery_code(
                        user.id,
                        code.digest(user.id),
                        Box::new(move |remaining| {
                            notice(&notice_user, now, |to, at| Email::RecoveryCodeUsed {
                                to,
                                used_at: at,
                                remaining,
                            })
                        }),
                        // No session yet: the one this code opens is
                        // named by the login's `user.login_succeeded`.
                        NewAuditEvent::by_user(
                            AuditEventKind::RecoveryCodeUsed,
                            user.id,
                            None,
                            Some(device),
                            now,
                            serde_json::json!({}),
                        ),
                        now,
                    )
                    .await?;
                Ok(match used {
                    Some(_) => {
                        self.outbox.job_committed();
                        Verdict::Passed(AuthMethods::PasswordAndRecoveryCode)
                    }
                    None => wrong,
                })
            }
        }
    }
}

/// The failed-login counter a second step counts against: the account
/// (by its address and session epoch, as `/login` names it) and the
/// client that gave the password.
fn subject(user: &User, challenge: &Challenge) -> AttemptSubject {
    let client = match challenge.known_device {
        Some(digest) => AttemptClient::KnownDevice(digest),
        None => AttemptClient::Network(challenge.device.network()),
    };
    AttemptSubject::new(user.email.as_str(), Some(challenge.epoch), client)
}
