//! Logging in: the password check, then either the session (and its
//! new-device alert) with the first pair of tokens, or, for a user with
//! a second factor, the `mfa_token` of the second step
//! (`second_step.rs`).

use domain::{
    AuthMethods, ClientDevice, DeviceToken, EmailAddress, LoginFailure, MFA_CHALLENGE_LIFETIME,
    UserId,
};
use secrecy::SecretString;

use super::Authentication;
use super::failed_login::FailedAccount;
use super::session_opening::VerifiedLogin;
use crate::error::LoginError;
use crate::ports::{NewChallenge, StoredCredentials, UserStatus};
use crate::use_cases::email_verification::send_verification;
use crate::use_cases::login_attempts::{AttemptClient, AttemptOutcome, AttemptSubject};
use crate::use_cases::{LoginOutcome, SecondFactorChallenge};

/// No user has this id: what a device token of an unknown account is
/// looked up under, so that the lookup costs the same either way.
const NO_USER: UserId = UserId::new(0);

/// What a login sends.
#[derive(Debug)]
pub struct LoginRequest {
    /// As typed.
    pub email: String,
    pub password: SecretString,
    pub device: ClientDevice,
    /// The device token an earlier login handed this client, if it sent one.
    pub device_token: Option<DeviceToken>,
}

impl Authentication {
    /// Checks the password and opens a new login session, throttled by
    /// the client's failed logins (see
    /// [`LoginAttempts`](crate::LoginAttempts)). Unknown emails, malformed
    /// emails and wrong passwords fail alike and cost the same hash; a
    /// malformed email never reaches the user store. A user with TOTP
    /// enabled gets no session yet: the answer is the second step's token.
    #[tracing::instrument(level = "debug", name = "login", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, request: LoginRequest) -> Result<LoginOutcome, LoginError> {
        let LoginRequest {
            email,
            password,
            device,
            device_token,
        } = request;
        // Lenient on purpose: an account stored under older, looser rules
        // can still log in; what no account can hold (a NUL, no `@`) never
        // reaches the store.
        let found = match EmailAddress::from_storage(&email) {
            Ok(email) => self.users.find_credentials(&email.normalized()).await?,
            Err(_) => None,
        };
        // Asked whether or not the account exists, so both cost the same.
        let known_device = match device_token {
            Some(token) => {
                let owner = found.as_ref().map_or(NO_USER, |found| found.user.id);
                self.sessions
                    .recognises_device(owner, token.digest())
                    .await?
                    .then_some(token)
            }
            None => None,
        };
        let client = match &known_device {
            Some(token) => AttemptClient::KnownDevice(token.digest()),
            None => AttemptClient::Network(device.network()),
        };
        let epoch = found.as_ref().map(|found| found.session_epoch);
        let account = match &found {
            Some(found) => FailedAccount::Known(found.user.id),
            None => FailedAccount::Unknown { address: &email },
        };
        let audited_device = device.clone();
        let attempt = match self
            .attempts
            .begin(AttemptSubject::new(&email, epoch, client))
            .await
        {
            Ok(attempt) => attempt,
            Err(limited) => {
                self.record_failed_login(account, &audited_device, LoginFailure::Throttled)
                    .await;
                return Err(limited.into());
            }
        };
        let result = self
            .check_and_open(found, password, device, known_device)
            .await;
        attempt.record(AttemptOutcome::of_login(&result)).await;
        let reason = match &result {
            Err(LoginError::InvalidCredentials) => Some(LoginFailure::InvalidCredentials),
            Err(LoginError::EmailNotVerified) => Some(LoginFailure::Unverified),
            Err(LoginError::Banned) => Some(LoginFailure::Banned),
            Err(LoginError::Throttled(_)) => Some(LoginFailure::Throttled),
            // Not the client's failure: nothing to audit.
            Ok(_) | Err(LoginError::Dependency(_)) => None,
        };
        if let Some(reason) = reason {
            self.record_failed_login(account, &audited_device, reason)
                .await;
        }
        result
    }

    /// The password check of a login and, when it is right, its session
    /// or its second step.
    async fn check_and_open(
        &self,
        found: Option<StoredCredentials>,
        password: SecretString,
        device: ClientDevice,
        known_device: Option<DeviceToken>,
    ) -> Result<LoginOutcome, LoginError> {
        let (credentials, hash) = match found {
            Some(found) => {
                let hash = found.password_hash.clone();
                (Some(found), Some(hash))
            }
            None => (None, None),
        };
        let matches = self.hasher.verify(password, hash).await?;
        let StoredCredentials {
            user,
            session_epoch,
            banned_until,
            ..
        } = match credentials {
            Some(credentials) if matches => credentials,
            _ => return Err(LoginError::InvalidCredentials),
        };
        tracing::Span::current().record("user_id", user.id.get());

        let now = self.clock.now();
        // After the password, so a wrong one answers as for anyone; a ban
        // that has run out lets the user in again.
        if UserStatus::of(banned_until, now) == UserStatus::Banned {
            return Err(LoginError::Banned);
        }
        if self.mail.settings().require_verified_email && !user.email_verified {
            send_verification(&*self.secrets, &self.mail, &*self.outbox, &user, now).await?;
            return Err(LoginError::EmailNotVerified);
        }
        let second_factor = self
            .factor
            .store
            .totp(user.id)
            .await?
            .is_some_and(|totp| totp.enabled_at.is_some());
        if second_factor {
            let mfa_token = self.factor.crypto.new_challenge_token();
            let expires_at = now + MFA_CHALLENGE_LIFETIME;
            self.factor
                .store
                .open_challenge(NewChallenge {
                    digest: mfa_token.digest(),
                    user: user.id,
                    epoch: session_epoch,
                    device,
                    known_device: known_device.as_ref().map(DeviceToken::digest),
                    created_at: now,
                    expires_at,
                })
                .await?;
            return Ok(LoginOutcome::SecondFactorRequired(SecondFactorChallenge {
                user_id: user.id,
                mfa_token,
                expires_in: MFA_CHALLENGE_LIFETIME.num_seconds().unsigned_abs(),
            }));
        }
        let tokens = self
            .open_session(VerifiedLogin {
                user,
                epoch: session_epoch,
                device,
                known_device,
                methods: AuthMethods::Password,
                now,
            })
            .await?
            .ok_or(LoginError::InvalidCredentials)?;
        Ok(LoginOutcome::SignedIn(tokens))
    }
}
