//! Logging in: the password check, the new session (and its new-device
//! alert), and the first pair of tokens.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{
    AuthMethods, ClientDevice, DeviceToken, EmailAddress, SessionId, TokenKind, User, UserId,
};
use secrecy::SecretString;
use uuid::Uuid;

use super::{Authentication, overflow};
use crate::error::LoginError;
use crate::ports::{NewDeviceAlert, NewSession, OpenedSession, StoredCredentials};
use crate::use_cases::email_verification::send_verification;
use crate::use_cases::login_attempts::{AttemptClient, AttemptOutcome, AttemptSubject};
use crate::use_cases::{LoginTokens, NewToken, SessionSettings};
use crate::{Email, EmailJob};

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
    /// malformed email never reaches the user store.
    #[tracing::instrument(level = "debug", name = "login", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, request: LoginRequest) -> Result<LoginTokens, LoginError> {
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
            Some(token) => AttemptClient::KnownDevice(token.clone()),
            None => AttemptClient::Network(device.network()),
        };
        let epoch = found.as_ref().map(|found| found.session_epoch);
        let attempt = self
            .attempts
            .begin(AttemptSubject::new(&email, epoch, client))
            .await?;
        let result = self
            .check_and_open(found, password, device, known_device)
            .await;
        attempt.record(AttemptOutcome::of_login(&result)).await;
        result
    }

    /// The password check of a login and, when it is right, its session.
    async fn check_and_open(
        &self,
        found: Option<StoredCredentials>,
        password: SecretString,
        device: ClientDevice,
        known_device: Option<DeviceToken>,
    ) -> Result<LoginTokens, LoginError> {
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
            ..
        } = match credentials {
            Some(credentials) if matches => credentials,
            _ => return Err(LoginError::InvalidCredentials),
        };
        tracing::Span::current().record("user_id", user.id.get());

        let now = self.clock.now();
        if self.mail.settings().require_verified_email && !user.email_verified {
            send_verification(&*self.secrets, &self.mail, &*self.outbox, &user, now).await?;
            return Err(LoginError::EmailNotVerified);
        }
        let session = SessionId::new(Uuid::new_v4().simple().to_string());
        let expires_at = self.policy.refresh_expiry(now, now).ok_or_else(overflow)?;
        let alert = self
            .settings
            .notify_new_device
            .then(|| new_device_alert(&user, &session, &device, now));
        // A recognised token is answered again; anyone else gets a new one.
        let device_token = known_device.unwrap_or_else(|| self.mail.device_token());
        let opened = self
            .sessions
            .open(
                NewSession {
                    id: session.clone(),
                    user_id: user.id,
                    created_at: now,
                    expires_at,
                    device,
                    device_token: device_token.digest(),
                    live_limit: self.settings.max_per_user,
                    methods: AuthMethods::Password,
                },
                session_epoch,
                alert,
            )
            .await?;
        match opened {
            // The account was deleted, or logged out everywhere, while its
            // password was being checked: this login must leave nothing.
            OpenedSession::AccountChanged => return Err(LoginError::InvalidCredentials),
            OpenedSession::Opened {
                alert_queued,
                ended,
            } => {
                if alert_queued {
                    self.outbox.job_committed();
                }
                // Over the limit: the least recently used sessions ended
                // with this login; their tokens must fail every check now,
                // as after a logout.
                self.revoker.mark_committed(user.id, &ended, now).await;
            }
        }

        let access = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Access,
            fresh: true,
            generation: None,
            expires_at: None,
            methods: AuthMethods::Password,
        })?;
        let refresh = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Refresh,
            fresh: false,
            generation: Some(0),
            expires_at: Some(expires_at),
            methods: AuthMethods::Password,
        })?;
        Ok(LoginTokens {
            user_id: user.id,
            access_token: access,
            refresh_token: refresh,
            expires_in: self.lifetimes.access_secs(),
            device_token,
        })
    }
}

fn new_device_alert(
    user: &User,
    session: &SessionId,
    device: &ClientDevice,
    now: DateTime<Utc>,
) -> NewDeviceAlert {
    NewDeviceAlert {
        email: EmailJob::new(
            Email::NewDeviceLogin {
                to: user.email.as_str().to_owned(),
                signed_in_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
                ip: device.ip().map(|ip| ip.to_string()).unwrap_or_default(),
                user_agent: device.user_agent().unwrap_or_default().to_owned(),
                session_id: session.as_str().to_owned(),
            },
            now,
        ),
        lookback: SessionSettings::KNOWN_DEVICE_LOOKBACK,
    }
}
