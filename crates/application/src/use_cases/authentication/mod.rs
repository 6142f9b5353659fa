//! Logging in and everything a bearer token is used for.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{
    ClientDevice, DeviceToken, EmailAddress, LogoutScope, RefreshDecision, RefreshPolicy, Session,
    SessionId, TokenClaims, TokenKind, TokenRejection, User, UserId,
};
use secrecy::SecretString;
use uuid::Uuid;

use super::account_emails::SecretMail;
use super::email_verification::send_verification;
use super::login_attempts::{AttemptClient, AttemptOutcome, AttemptSubject, LoginAttempts};
use super::revocation_marks::RevocationMarks;
use super::session_revocation::SessionRevocation;
use super::{
    LoginTokens, NewToken, RefreshedTokens, SessionSettings, TokenLifetimes, TokenRequirement,
    issue_token,
};
use crate::error::{
    AuthenticateError, Dependency, DependencyError, LoginError, LogoutError, RefreshError,
};
use crate::ports::{
    Clock, NewDeviceAlert, NewSession, OneTimeSecretStore, OpenedSession, OutboxSignal,
    PasswordHasher, RevocationMarkQueue, SessionRepository, StoredCredentials, TokenCodec,
    TokenEncodeError, TokenRevocations, UserRepository,
};
use crate::{Email, EmailJob};

/// How often a refresh re-reads a session that another refresh rotated
/// under it. The second read sees the new generation and replays it, so
/// more than one retry means rotations keep racing.
const ROTATION_ATTEMPTS: usize = 3;

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

/// The ports [`Authentication`] works with.
#[derive(Clone)]
pub struct AuthenticationPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub revocations: Arc<dyn TokenRevocations>,
    /// The revocation marks queued with the sessions a logout ended.
    pub marks: Arc<dyn RevocationMarkQueue>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenCodec>,
    pub clock: Arc<dyn Clock>,
    /// Woken when a login queued an email.
    pub outbox: Arc<dyn OutboxSignal>,
    /// Where a login of an unverified account (`REQUIRE_VERIFIED_EMAIL`)
    /// issues a new verification secret.
    pub secrets: Arc<dyn OneTimeSecretStore>,
    pub mail: SecretMail,
    /// Throttles failed logins.
    pub attempts: LoginAttempts,
}

/// Login, token checks, refresh (with rotation) and logout.
#[derive(Clone)]
pub struct Authentication {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    revocations: Arc<dyn TokenRevocations>,
    revoker: SessionRevocation,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn OutboxSignal>,
    secrets: Arc<dyn OneTimeSecretStore>,
    mail: SecretMail,
    attempts: LoginAttempts,
    lifetimes: TokenLifetimes,
    settings: SessionSettings,
    policy: RefreshPolicy,
}

impl Authentication {
    pub fn new(
        ports: AuthenticationPorts,
        lifetimes: TokenLifetimes,
        settings: SessionSettings,
    ) -> Self {
        Self {
            revoker: SessionRevocation {
                sessions: ports.sessions.clone(),
                marks: RevocationMarks {
                    revocations: ports.revocations.clone(),
                    queue: ports.marks,
                    lifetimes,
                },
            },
            users: ports.users,
            sessions: ports.sessions,
            revocations: ports.revocations,
            hasher: ports.hasher,
            tokens: ports.tokens,
            clock: ports.clock,
            outbox: ports.outbox,
            secrets: ports.secrets,
            mail: ports.mail,
            attempts: ports.attempts,
            lifetimes,
            policy: settings.refresh_policy(&lifetimes),
            settings,
        }
    }

    /// Checks the password and opens a new login session, throttled by
    /// the client's failed logins (see [`LoginAttempts`]). Unknown emails,
    /// malformed emails and wrong passwords fail alike and cost the same
    /// hash; a malformed email never reaches the user store.
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
                },
                session_epoch,
                alert,
            )
            .await?;
        match opened {
            // The account was deleted, or logged out everywhere, while its
            // password was being checked: this login must leave nothing.
            OpenedSession::AccountChanged => return Err(LoginError::InvalidCredentials),
            OpenedSession::Opened { alert_queued } => {
                if alert_queued {
                    self.outbox.job_committed();
                }
            }
        }

        let access = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Access,
            fresh: true,
            generation: None,
            expires_at: None,
        })?;
        let refresh = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Refresh,
            fresh: false,
            generation: Some(0),
            expires_at: Some(expires_at),
        })?;
        Ok(LoginTokens {
            user_id: user.id,
            access_token: access,
            refresh_token: refresh,
            expires_in: self.lifetimes.access_secs(),
            device_token,
        })
    }

    /// Verifies a bearer token for a route: signature, expiry, kind,
    /// revocation (failing closed when the store is down), freshness. Reads
    /// Redis only: the session table is never touched on a token check.
    #[tracing::instrument(
        level = "debug",
        name = "authenticate",
        skip_all,
        fields(?requirement, user_id = tracing::field::Empty)
    )]
    pub async fn authenticate(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthenticateError> {
        let claims = self.tokens.decode(token)?;
        tracing::Span::current().record("user_id", claims.user_id.get());
        // The codec checks expiry too; this guards codecs with leeway.
        if claims.is_expired_at(self.clock.now()) {
            return Err(TokenRejection::Expired.into());
        }
        let kind = match requirement {
            TokenRequirement::Access | TokenRequirement::FreshAccess => TokenKind::Access,
            TokenRequirement::Refresh => TokenKind::Refresh,
        };
        claims.require_kind(kind)?;
        if self.revocations.is_revoked(&claims).await? {
            return Err(TokenRejection::Revoked.into());
        }
        if requirement == TokenRequirement::FreshAccess {
            claims.require_fresh()?;
        }
        Ok(claims)
    }

    /// [`Self::authenticate`] for a route that changes an account: the
    /// token's session must also be live in PostgreSQL, not only unmarked
    /// in Redis. A session ended there whose Redis marks are missing (not
    /// written yet, or lost) is refused all the same, as `Revoked`, and its
    /// marks are written again; so is an expired session, and a session
    /// that is gone or belongs to someone else. Costs one read of the
    /// session store, which ordinary token checks never pay.
    #[tracing::instrument(
        level = "debug",
        name = "authenticate_live",
        skip_all,
        fields(?requirement, user_id = tracing::field::Empty)
    )]
    pub async fn authenticate_live(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthenticateError> {
        let claims = self.authenticate(token, requirement).await?;
        tracing::Span::current().record("user_id", claims.user_id.get());
        let now = self.clock.now();
        match self.sessions.find(claims.session_id.clone()).await? {
            Some(session) if session.user_id == claims.user_id && session.is_live_at(now) => {
                Ok(claims)
            }
            Some(session) if session.user_id == claims.user_id => {
                if session.revoked_at.is_some() {
                    tracing::warn!(
                        session_id = %session.id,
                        "a token of an ended session passed the token check"
                    );
                    self.heal_marks(&session, now).await;
                }
                Err(TokenRejection::Revoked.into())
            }
            _ => Err(TokenRejection::Revoked.into()),
        }
    }

    /// A new, non-fresh access token in the refresh token's session and,
    /// when refresh tokens rotate, the session's next refresh token. The
    /// session store decides, not the Redis marks: a session revoked there
    /// stays dead even if Redis lost its marks.
    #[tracing::instrument(level = "debug", name = "refresh", skip_all, fields(user_id = refresh.user_id.get()))]
    pub async fn refresh(&self, refresh: &TokenClaims) -> Result<RefreshedTokens, RefreshError> {
        let presented = refresh.refresh_generation()?;
        for _ in 0..ROTATION_ATTEMPTS {
            let now = self.clock.now();
            let session = match self.sessions.find(refresh.session_id.clone()).await? {
                // Gone with its user (deleted), or a session of someone else.
                Some(session) if session.user_id == refresh.user_id => session,
                _ => return Err(TokenRejection::Revoked.into()),
            };
            match session.decide_refresh(presented, now, &self.policy) {
                RefreshDecision::Revoked => {
                    self.heal_marks(&session, now).await;
                    return Err(TokenRejection::Revoked.into());
                }
                RefreshDecision::Expired => return Err(TokenRejection::Expired.into()),
                RefreshDecision::Reuse => {
                    tracing::warn!(
                        session_id = %session.id,
                        presented,
                        current = session.generation,
                        "refresh token reuse: revoking the session"
                    );
                    self.revoker
                        .end_one(&session.id, session.user_id, now)
                        .await?;
                    return Err(RefreshError::Reused);
                }
                RefreshDecision::Extend => {
                    self.sessions.touch(session.id.clone(), now).await?;
                    return Ok(RefreshedTokens {
                        access_token: self.access_token(&session)?,
                        refresh_token: None,
                        expires_in: self.lifetimes.access_secs(),
                    });
                }
                RefreshDecision::ReplayCurrent => {
                    self.sessions.touch(session.id.clone(), now).await?;
                    return self.rotated_tokens(&session, session.generation, session.expires_at);
                }
                RefreshDecision::Rotate { to } => {
                    let expires_at = self
                        .policy
                        .refresh_expiry(session.created_at, now)
                        .ok_or_else(overflow)?;
                    let rotated = self
                        .sessions
                        .rotate(session.id.clone(), session.generation, expires_at, now)
                        .await?;
                    if rotated {
                        return self.rotated_tokens(&session, to, expires_at);
                    }
                    // Another refresh rotated it first: read it again.
                }
            }
        }
        Err(RefreshError::Dependency(DependencyError::Unavailable(
            Dependency::SessionStore,
            "the session kept rotating under this refresh".into(),
        )))
    }

    /// Ends the sessions `scope` names. Any refresh token of a live session
    /// will do, a superseded one too: ending the session is the point.
    #[tracing::instrument(
        level = "debug",
        name = "logout",
        skip_all,
        fields(user_id = refresh.user_id.get(), %scope)
    )]
    pub async fn logout(
        &self,
        refresh: &TokenClaims,
        scope: LogoutScope,
    ) -> Result<(), LogoutError> {
        refresh.require_kind(TokenKind::Refresh)?;
        let now = self.clock.now();
        let user = refresh.user_id;
        match scope {
            LogoutScope::Local => {
                match self.revoker.end_one(&refresh.session_id, user, now).await? {
                    Some(ended) if ended.was_live => Ok(()),
                    _ => Err(TokenRejection::Revoked.into()),
                }
            }
            LogoutScope::Others | LogoutScope::Global => {
                let live = self
                    .sessions
                    .find(refresh.session_id.clone())
                    .await?
                    .filter(|session| session.user_id == user);
                match live {
                    Some(session) if session.is_live_at(now) => {}
                    Some(session) => {
                        self.heal_marks(&session, now).await;
                        return Err(TokenRejection::Revoked.into());
                    }
                    None => return Err(TokenRejection::Revoked.into()),
                }
                let keep = (scope == LogoutScope::Others).then_some(&refresh.session_id);
                self.revoker.end_all(user, keep, now).await?;
                Ok(())
            }
        }
    }

    /// A token of an ended session passed the token check, so its Redis
    /// marks were lost: write them again. The answer is `token_revoked`
    /// either way, so a failure here is only logged.
    async fn heal_marks(&self, session: &Session, now: DateTime<Utc>) {
        let ended = crate::ports::EndedSession {
            id: session.id.clone(),
            expires_at: session.expires_at,
            was_live: false,
        };
        if let Err(error) = self.revoker.mark(&[ended], now).await {
            tracing::warn!(
                session_id = %session.id,
                error.chain = %crate::ErrorChain(&error),
                "could not restore the revocation mark of an ended session"
            );
        }
    }

    fn access_token(&self, session: &Session) -> Result<String, TokenEncodeError> {
        self.issue(NewToken {
            user_id: session.user_id,
            session: &session.id,
            kind: TokenKind::Access,
            fresh: false,
            generation: None,
            expires_at: None,
        })
    }

    fn rotated_tokens(
        &self,
        session: &Session,
        generation: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<RefreshedTokens, RefreshError> {
        let refresh_token = self.issue(NewToken {
            user_id: session.user_id,
            session: &session.id,
            kind: TokenKind::Refresh,
            fresh: false,
            generation: Some(generation),
            expires_at: Some(expires_at),
        })?;
        Ok(RefreshedTokens {
            access_token: self.access_token(session)?,
            refresh_token: Some(refresh_token),
            expires_in: self.lifetimes.access_secs(),
        })
    }

    fn issue(&self, token: NewToken<'_>) -> Result<String, TokenEncodeError> {
        issue_token(
            self.tokens.as_ref(),
            &self.lifetimes,
            self.clock.now(),
            token,
        )
    }
}

fn overflow() -> TokenEncodeError {
    TokenEncodeError("the session lifetime overflows the calendar".into())
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
                username: user.username.as_str().to_owned(),
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

#[cfg(test)]
mod tests;
