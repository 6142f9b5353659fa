//! The emails that carry one-time secrets (verification, password reset,
//! email change) and the notices that go with them: what they say, where
//! their links point, how long their secrets live.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use domain::{EmailAddress, Password, PasswordPolicy, SecretPurpose, User};

use crate::ports::{NewSecret, NewUndo, SecretGenerator};
use crate::{Email, EmailJob};

/// How account emails are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEmailSettings {
    /// Links point at the front end: `{public_app_url}/verify-email#token=...`
    /// (`PUBLIC_APP_URL`, no trailing slash).
    pub public_app_url: String,
    /// `EMAIL_VERIFICATION_TTL`; an email-change secret lives as long (it
    /// proves an address, as a verification does).
    pub verification_ttl: Duration,
    /// `PASSWORD_RESET_TTL`
    pub password_reset_ttl: Duration,
    /// `REQUIRE_VERIFIED_EMAIL`: an unverified account cannot log in.
    pub require_verified_email: bool,
}

impl Default for AccountEmailSettings {
    fn default() -> Self {
        Self {
            public_app_url: "http://127.0.0.1:5000".to_owned(),
            verification_ttl: Duration::seconds(86_400),
            password_reset_ttl: Duration::seconds(3_600),
            require_verified_email: false,
        }
    }
}

impl AccountEmailSettings {
    /// At most one verification email per account in this time (the welcome
    /// email counts as one).
    pub const RESEND_INTERVAL: Duration = Duration::seconds(60);
    /// At most one password-reset email per account in this time.
    pub const RESET_INTERVAL: Duration = Duration::seconds(60);
    /// How long the owner can undo a change of email address from the old
    /// address: long enough to notice an intruder's change after a holiday.
    pub const UNDO_EMAIL_CHANGE_TTL: Duration = Duration::days(7);
    /// How long the set-password link of an invitation (an account an
    /// admin made without a password) works.
    pub const INVITATION_TTL: Duration = Duration::days(7);
}

/// An email-change secret, the confirmation for the new address (`None`
/// when another account holds it: nothing may tell the requester so) and
/// the notice for the old one, which carries the undo link of `undo`.
#[derive(Debug)]
pub(crate) struct EmailChangeMail {
    pub secret: NewSecret,
    pub undo: NewUndo,
    pub emails: Vec<EmailJob>,
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

    /// A new device token, from the same randomness as every secret.
    pub fn device_token(&self) -> domain::DeviceToken {
        domain::DeviceToken::from_secret(&self.generator.generate())
    }

    fn link(&self, page: &str, token: &str) -> String {
        // The token rides in the fragment: browsers never send it to a
        // server, so it reaches no access log.
        let base = self.settings.public_app_url.trim_end_matches('/');
        format!("{base}/{page}#token={token}")
    }

    /// A new secret for `purpose`, living `ttl` from `now`; its link to
    /// `page` and its code.
    fn secret(
        &self,
        purpose: SecretPurpose,
        ttl: Duration,
        page: &str,
        now: DateTime<Utc>,
    ) -> (NewSecret, String, String) {
        let secret = self.generator.generate();
        let link = self.link(page, secret.token());
        let code = secret.code().to_owned();
        let expires_at = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let secret = NewSecret {
            purpose,
            secret,
            created_at: now,
            expires_at,
            new_email: None,
        };
        (secret, link, code)
    }

    /// A verification secret and the email carrying it: the welcome email
    /// at registration, "Confirm your email address" afterwards.
    pub(crate) fn verification(
        &self,
        to: &EmailAddress,
        now: DateTime<Utc>,
        welcome: bool,
    ) -> (NewSecret, EmailJob) {
        let (secret, link, code) = self.secret(
            SecretPurpose::VerifyEmail,
            self.settings.verification_ttl,
            "verify-email",
            now,
        );
        let to = to.as_str().to_owned();
        let email = if welcome {
            Email::Welcome {
                to,
                verification_link: link,
                code,
            }
        } else {
            Email::VerifyEmail { to, link, code }
        };
        (secret, EmailJob::new(email, now))
    }

    /// A password-reset secret and "Reset your password".
    pub(crate) fn password_reset(&self, user: &User, now: DateTime<Utc>) -> (NewSecret, EmailJob) {
        let (secret, link, code) = self.secret(
            SecretPurpose::ResetPassword,
            self.settings.password_reset_ttl,
            "reset-password",
            now,
        );
        let email = Email::PasswordReset {
            to: user.email.as_str().to_owned(),
            link,
            code,
        };
        (secret, EmailJob::new(email, now))
    }

    /// The invitation of an account an admin made without a password: a
    /// password-reset secret living [`AccountEmailSettings::INVITATION_TTL`]
    /// and "You are invited", whose link opens the reset page.
    pub(crate) fn invitation(
        &self,
        to: &EmailAddress,
        now: DateTime<Utc>,
    ) -> (NewSecret, EmailJob) {
        let (secret, link, code) = self.secret(
            SecretPurpose::ResetPassword,
            AccountEmailSettings::INVITATION_TTL,
            "reset-password",
            now,
        );
        let email = Email::Invitation {
            to: to.as_str().to_owned(),
            link,
            code,
        };
        (secret, EmailJob::new(email, now))
    }

    /// A password nobody knows (32 random bytes, then forgotten): what an
    /// account without a password is stored with, so that a login against
    /// it costs the same Argon2 work as any other and always fails.
    pub(crate) fn unusable_password(&self) -> Option<Password> {
        let secret = self.generator.generate();
        Password::parse(secret.token(), PasswordPolicy::default()).ok()
    }

    /// An email-change secret for moving `user` to `new_email`, with
    /// "Confirm your new email address" (unless `new_address_taken`) and
    /// "Your email address is changing" for the current address, which
    /// carries an undo link living [`AccountEmailSettings::UNDO_EMAIL_CHANGE_TTL`].
    pub(crate) fn email_change(
        &self,
        user: &User,
        new_email: &EmailAddress,
        new_address_taken: bool,
        now: DateTime<Utc>,
    ) -> EmailChangeMail {
        let (mut secret, link, code) = self.secret(
            SecretPurpose::ChangeEmail,
            self.settings.verification_ttl,
            "confirm-email-change",
            now,
        );
        secret.new_email = Some(new_email.as_str().to_owned());
        let undo_secret = self.generator.generate();
        let undo_link = self.link("undo-email-change", undo_secret.token());
        let undo = NewUndo {
            secret: undo_secret,
            old_email: user.email.as_str().to_owned(),
            created_at: now,
            expires_at: now
                .checked_add_signed(AccountEmailSettings::UNDO_EMAIL_CHANGE_TTL)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        let mut emails = Vec::with_capacity(2);
        if !new_address_taken {
            emails.push(EmailJob::new(
                Email::ConfirmEmailChange {
                    to: new_email.as_str().to_owned(),
                    new_email: new_email.as_str().to_owned(),
                    link,
                    code,
                },
                now,
            ));
        }
        emails.push(EmailJob::new(
            Email::EmailChanging {
                to: user.email.as_str().to_owned(),
                new_email: new_email.as_str().to_owned(),
                undo_link,
            },
            now,
        ));
        EmailChangeMail {
            secret,
            undo,
            emails,
        }
    }
}

/// "Your password was changed", to the account's address.
pub(crate) fn password_changed(user: &User, now: DateTime<Utc>) -> EmailJob {
    EmailJob::new(
        Email::PasswordChanged {
            to: user.email.as_str().to_owned(),
            changed_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        now,
    )
}
