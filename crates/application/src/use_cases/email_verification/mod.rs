//! Proving an email address: the link and code sent at registration (and
//! on request), and what consuming them does.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::{EmailAddress, SecretProof, SecretPurpose, User};

use crate::error::{DependencyError, ResendError, VerifyEmailError};
use crate::ports::{
    Clock, NewSecret, OneTimeSecretStore, OutboxSignal, SecretGenerator, UserRepository,
};
use crate::{Email, EmailJob};

/// How account emails are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEmailSettings {
    /// Links point at the front end: `{public_app_url}/verify-email#token=...`
    /// (`PUBLIC_APP_URL`, no trailing slash).
    pub public_app_url: String,
    /// `EMAIL_VERIFICATION_TTL`
    pub verification_ttl: Duration,
    /// `REQUIRE_VERIFIED_EMAIL`: an unverified account cannot log in.
    pub require_verified_email: bool,
}

impl Default for AccountEmailSettings {
    fn default() -> Self {
        Self {
            public_app_url: "http://127.0.0.1:5000".to_owned(),
            verification_ttl: Duration::seconds(86_400),
            require_verified_email: false,
        }
    }
}

impl AccountEmailSettings {
    /// At most one verification email per account in this time (the welcome
    /// email counts as one).
    pub const RESEND_INTERVAL: Duration = Duration::seconds(60);
}

/// Makes the secrets and the emails that carry them.
#[derive(Clone)]
pub struct SecretMail {
    generator: Arc<dyn SecretGenerator>,
    settings: AccountEmailSettings,
}

impl SecretMail {
    pub fn new(generator: Arc<dyn SecretGenerator>, settings: AccountEmailSettings) -> Self {
        Self {
            generator,
            settings,
        }
    }

    pub fn settings(&self) -> &AccountEmailSettings {
        &self.settings
    }

    fn link(&self, page: &str, token: &str) -> String {
        // The token rides in the fragment: browsers never send it to a
        // server, so it reaches no access log.
        let base = self.settings.public_app_url.trim_end_matches('/');
        format!("{base}/{page}#token={token}")
    }

    /// A verification secret and the email carrying it: the welcome email
    /// at registration, "Confirm your email address" afterwards.
    pub(crate) fn verification(
        &self,
        to: &EmailAddress,
        username: &str,
        now: DateTime<Utc>,
        welcome: bool,
    ) -> (NewSecret, EmailJob) {
        let secret = self.generator.generate();
        let link = self.link("verify-email", secret.token());
        let code = secret.code().to_owned();
        let to = to.as_str().to_owned();
        let username = username.to_owned();
        let email = if welcome {
            Email::Welcome {
                to,
                username,
                verification_link: link,
                code,
            }
        } else {
            Email::VerifyEmail {
                to,
                username,
                link,
                code,
            }
        };
        let expires_at = now
            .checked_add_signed(self.settings.verification_ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        (
            NewSecret {
                purpose: SecretPurpose::VerifyEmail,
                secret,
                created_at: now,
                expires_at,
            },
            EmailJob::new(email, now),
        )
    }
}

/// `POST /verify-email` and `POST /verify-email/resend`.
#[derive(Clone)]
pub struct EmailVerification {
    users: Arc<dyn UserRepository>,
    secrets: Arc<dyn OneTimeSecretStore>,
    mail: SecretMail,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn OutboxSignal>,
}

impl EmailVerification {
    pub fn new(
        users: Arc<dyn UserRepository>,
        secrets: Arc<dyn OneTimeSecretStore>,
        mail: SecretMail,
        clock: Arc<dyn Clock>,
        outbox: Arc<dyn OutboxSignal>,
    ) -> Self {
        Self {
            users,
            secrets,
            mail,
            clock,
            outbox,
        }
    }

    /// Consumes the link or code and marks the address verified. Every
    /// failure (malformed, unknown, expired, used, wrong code, too many
    /// tries) is the one `InvalidOrExpired`.
    #[tracing::instrument(level = "debug", name = "verify_email", skip_all)]
    pub async fn verify(&self, proof: SecretProof) -> Result<User, VerifyEmailError> {
        if !proof.is_well_formed() {
            return Err(VerifyEmailError::InvalidOrExpired);
        }
        self.secrets
            .verify_email(proof, self.clock.now())
            .await?
            .ok_or(VerifyEmailError::InvalidOrExpired)
    }

    /// Sends a new verification email when an unverified account uses this
    /// address and none was sent in the last minute. Answers the same in
    /// every case, so the caller learns nothing about the account.
    #[tracing::instrument(level = "debug", name = "resend_verification", skip_all)]
    pub async fn resend(&self, email: &str) -> Result<(), ResendError> {
        let Ok(address) = EmailAddress::from_storage(email) else {
            return Ok(());
        };
        let user = self.users.find_by_email(&address.normalized()).await?;
        match user {
            Some(user) if !user.email_verified => {
                send_verification(
                    &*self.secrets,
                    &self.mail,
                    &*self.outbox,
                    &user,
                    self.clock.now(),
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Issues a new verification secret for `user` (unless one went out in the
/// last minute) with its email, in one transaction.
pub(crate) async fn send_verification(
    secrets: &dyn OneTimeSecretStore,
    mail: &SecretMail,
    outbox: &dyn OutboxSignal,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), DependencyError> {
    let (secret, email) = mail.verification(&user.email, user.username.as_str(), now, false);
    let sent = secrets
        .issue(
            user.id,
            secret,
            email,
            AccountEmailSettings::RESEND_INTERVAL,
        )
        .await?;
    if sent {
        outbox.job_committed();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
