//! The email job format shared by the API (producer) and the worker
//! (consumer). It is serialised as JSON into the outbox table and the queue,
//! so changes must stay readable by workers that are still running.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One email to send, identified for its whole life (outbox, queue,
/// delivery record, dead letters) by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailJob {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub email: Email,
}

/// What to send. Adding an email kind means a variant here (with its
/// `kind` name and a sample) and a template pair under `templates/email/`
/// named after that `kind`; the text one starts with a `Subject:` line.
///
/// Its `Debug` hides every link and code: each one is a live secret that
/// takes over an account or an address until it expires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Email {
    /// "Successfully signed up", with the verification link and code.
    /// Jobs queued before verification existed have neither.
    ///
    /// No email carries text a requester chose (no username): anyone can
    /// sign up with a stranger's address and then ask for a reset, change
    /// the password or the address, or log in, and must not be able to
    /// write to that stranger through us. A job of an older version still
    /// reads (its `username` is ignored).
    Welcome {
        to: String,
        #[serde(default)]
        verification_link: String,
        #[serde(default)]
        code: String,
    },
    /// "Confirm your email address": a new verification link and code.
    VerifyEmail {
        to: String,
        link: String,
        code: String,
    },
    /// A login from a device the account has not used lately.
    NewDeviceLogin {
        to: String,
        /// RFC 3339, UTC.
        signed_in_at: String,
        /// Empty when unknown.
        ip: String,
        /// Empty when none was sent.
        user_agent: String,
        session_id: String,
    },
    /// "Reset your password": the reset link and code.
    PasswordReset {
        to: String,
        link: String,
        code: String,
    },
    /// "You are invited": an admin made an account for this address
    /// without a password; the link (a password-reset secret that lives
    /// 7 days) sets one. No text an admin typed (no username).
    Invitation {
        to: String,
        link: String,
        code: String,
    },
    /// "Your password was changed", after a reset or a change.
    PasswordChanged {
        to: String,
        /// RFC 3339, UTC.
        changed_at: String,
    },
    /// "Confirm your new email address", sent to the new address.
    ConfirmEmailChange {
        to: String,
        new_email: String,
        link: String,
        code: String,
    },
    /// "Your email address is changing", sent to the old address, with
    /// the link that undoes the change. Jobs queued before undo links
    /// existed have none.
    EmailChanging {
        to: String,
        new_email: String,
        #[serde(default)]
        undo_link: String,
    },
    /// "Two-factor authentication was turned on".
    MfaEnabled {
        to: String,
        /// RFC 3339, UTC.
        enabled_at: String,
    },
    /// "Two-factor authentication was turned off".
    MfaDisabled {
        to: String,
        /// RFC 3339, UTC.
        disabled_at: String,
    },
    /// "A recovery code was used", with how many are left.
    RecoveryCodeUsed {
        to: String,
        /// RFC 3339, UTC.
        used_at: String,
        remaining: u32,
    },
    /// "New recovery codes were made": the old ones no longer work.
    RecoveryCodesReplaced {
        to: String,
        /// RFC 3339, UTC.
        replaced_at: String,
    },
}

impl Email {
    /// The template name and log label of this kind of email.
    pub fn kind(&self) -> &'static str {
        match self {
            Email::Welcome { .. } => "welcome",
            Email::VerifyEmail { .. } => "verify_email",
            Email::NewDeviceLogin { .. } => "new_device_login",
            Email::PasswordReset { .. } => "password_reset",
            Email::Invitation { .. } => "invitation",
            Email::PasswordChanged { .. } => "password_changed",
            Email::ConfirmEmailChange { .. } => "confirm_email_change",
            Email::EmailChanging { .. } => "email_changing",
            Email::MfaEnabled { .. } => "mfa_enabled",
            Email::MfaDisabled { .. } => "mfa_disabled",
            Email::RecoveryCodeUsed { .. } => "recovery_code_used",
            Email::RecoveryCodesReplaced { .. } => "recovery_codes_replaced",
        }
    }

    /// Whether someone who does not hold the account can make us send this
    /// email (by registering, asking for a resend or a reset, or naming the
    /// address as an account's new one). Only these count against the
    /// per-recipient cap, which exists to stop mail bombing through us; a
    /// security notice (new sign-in, password changed, address changing)
    /// always goes out, since silencing it is what an intruder would want.
    /// No wildcard: a new kind has to decide.
    pub fn stranger_can_trigger(&self) -> bool {
        match self {
            Email::Welcome { .. }
            | Email::VerifyEmail { .. }
            | Email::PasswordReset { .. }
            | Email::ConfirmEmailChange { .. } => true,
            // Only an admin makes one.
            Email::Invitation { .. }
            | Email::NewDeviceLogin { .. }
            | Email::PasswordChanged { .. }
            | Email::EmailChanging { .. }
            | Email::MfaEnabled { .. }
            | Email::MfaDisabled { .. }
            | Email::RecoveryCodeUsed { .. }
            | Email::RecoveryCodesReplaced { .. } => false,
        }
    }

    /// One example of every kind, for checking templates at start-up.
    /// The match makes a new variant fail to compile until it has one.
    pub fn samples() -> Vec<Email> {
        let welcome = Email::Welcome {
            to: "someone@example.com".into(),
            verification_link: "http://127.0.0.1:5000/verify-email#token=t".into(),
            code: "123456".into(),
        };
        let verify_email = Email::VerifyEmail {
            to: "someone@example.com".into(),
            link: "http://127.0.0.1:5000/verify-email#token=t".into(),
            code: "123456".into(),
        };
        let new_device_login = Email::NewDeviceLogin {
            to: "someone@example.com".into(),
            signed_in_at: "2026-01-02T03:04:05Z".into(),
            ip: "203.0.113.7".into(),
            user_agent: "Mozilla/5.0".into(),
            session_id: "0123456789abcdef0123456789abcdef".into(),
        };
        let password_reset = Email::PasswordReset {
            to: "someone@example.com".into(),
            link: "http://127.0.0.1:5000/reset-password#token=t".into(),
            code: "123456".into(),
        };
        let invitation = Email::Invitation {
            to: "someone@example.com".into(),
            link: "http://127.0.0.1:5000/reset-password#token=t".into(),
            code: "123456".into(),
        };
        let password_changed = Email::PasswordChanged {
            to: "someone@example.com".into(),
            changed_at: "2026-01-02T03:04:05Z".into(),
        };
        let confirm_email_change = Email::ConfirmEmailChange {
            to: "new@example.com".into(),
            new_email: "new@example.com".into(),
            link: "http://127.0.0.1:5000/confirm-email-change#token=t".into(),
            code: "123456".into(),
        };
        let email_changing = Email::EmailChanging {
            to: "someone@example.com".into(),
            new_email: "new@example.com".into(),
            undo_link: "http://127.0.0.1:5000/undo-email-change#token=t".into(),
        };
        let at = "2026-01-02T03:04:05Z".to_owned();
        let mfa_enabled = Email::MfaEnabled {
            to: "someone@example.com".into(),
            enabled_at: at.clone(),
        };
        let mfa_disabled = Email::MfaDisabled {
            to: "someone@example.com".into(),
            disabled_at: at.clone(),
        };
        let recovery_code_used = Email::RecoveryCodeUsed {
            to: "someone@example.com".into(),
            used_at: at.clone(),
            remaining: 9,
        };
        let recovery_codes_replaced = Email::RecoveryCodesReplaced {
            to: "someone@example.com".into(),
            replaced_at: at,
        };
        let all = vec![
            welcome,
            verify_email,
            new_device_login,
            password_reset,
            invitation,
            password_changed,
            confirm_email_change,
            email_changing,
            mfa_enabled,
            mfa_disabled,
            recovery_code_used,
            recovery_codes_replaced,
        ];
        for sample in &all {
            match sample {
                Email::Welcome { .. }
                | Email::VerifyEmail { .. }
                | Email::NewDeviceLogin { .. }
                | Email::PasswordReset { .. }
                | Email::Invitation { .. }
                | Email::PasswordChanged { .. }
                | Email::ConfirmEmailChange { .. }
                | Email::EmailChanging { .. }
                | Email::MfaEnabled { .. }
                | Email::MfaDisabled { .. }
                | Email::RecoveryCodeUsed { .. }
                | Email::RecoveryCodesReplaced { .. } => {}
            }
        }
        all
    }

    pub fn recipient(&self) -> &str {
        match self {
            Email::Welcome { to, .. }
            | Email::VerifyEmail { to, .. }
            | Email::NewDeviceLogin { to, .. }
            | Email::PasswordReset { to, .. }
            | Email::Invitation { to, .. }
            | Email::PasswordChanged { to, .. }
            | Email::ConfirmEmailChange { to, .. }
            | Email::EmailChanging { to, .. }
            | Email::MfaEnabled { to, .. }
            | Email::MfaDisabled { to, .. }
            | Email::RecoveryCodeUsed { to, .. }
            | Email::RecoveryCodesReplaced { to, .. } => to,
        }
    }
}

impl EmailJob {
    pub fn new(email: Email, created_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::new_v4(),
            created_at,
            email,
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings, a UUID and a timestamp always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("EmailJob is plain data"))
    }

    pub fn from_json(raw: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

// `Debug` of `Email`, which hides every link and code.
mod debug;
#[cfg(test)]
mod tests;
