//! The `Debug` of [`Email`]: every link and code is a live secret, so a
//! log line shows only whether there is one.

use std::fmt;

use super::Email;

/// A secret in a `Debug` line: whether there is one, never what it is.
struct Hidden<'a>(&'a str);

impl fmt::Debug for Hidden<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"********\"")
        }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Email::Welcome {
                to,
                verification_link,
                code,
            } => f
                .debug_struct("Welcome")
                .field("to", to)
                .field("verification_link", &Hidden(verification_link))
                .field("code", &Hidden(code))
                .finish(),
            Email::VerifyEmail { to, link, code } => f
                .debug_struct("VerifyEmail")
                .field("to", to)
                .field("link", &Hidden(link))
                .field("code", &Hidden(code))
                .finish(),
            Email::NewDeviceLogin {
                to,
                signed_in_at,
                ip,
                user_agent,
                session_id,
            } => f
                .debug_struct("NewDeviceLogin")
                .field("to", to)
                .field("signed_in_at", signed_in_at)
                .field("ip", ip)
                .field("user_agent", user_agent)
                .field("session_id", session_id)
                .finish(),
            Email::PasswordReset { to, link, code } => f
                .debug_struct("PasswordReset")
                .field("to", to)
                .field("link", &Hidden(link))
                .field("code", &Hidden(code))
                .finish(),
            Email::Invitation { to, link, code } => f
                .debug_struct("Invitation")
                .field("to", to)
                .field("link", &Hidden(link))
                .field("code", &Hidden(code))
                .finish(),
            Email::PasswordChanged { to, changed_at } => f
                .debug_struct("PasswordChanged")
                .field("to", to)
                .field("changed_at", changed_at)
                .finish(),
            Email::ConfirmEmailChange {
                to,
                new_email,
                link,
                code,
            } => f
                .debug_struct("ConfirmEmailChange")
                .field("to", to)
                .field("new_email", new_email)
                .field("link", &Hidden(link))
                .field("code", &Hidden(code))
                .finish(),
            Email::EmailChanging {
                to,
                new_email,
                undo_link,
            } => f
                .debug_struct("EmailChanging")
                .field("to", to)
                .field("new_email", new_email)
                .field("undo_link", &Hidden(undo_link))
                .finish(),
            Email::MfaEnabled { to, enabled_at } => f
                .debug_struct("MfaEnabled")
                .field("to", to)
                .field("enabled_at", enabled_at)
                .finish(),
            Email::MfaDisabled { to, disabled_at } => f
                .debug_struct("MfaDisabled")
                .field("to", to)
                .field("disabled_at", disabled_at)
                .finish(),
            Email::RecoveryCodeUsed {
                to,
                used_at,
                remaining,
            } => f
                .debug_struct("RecoveryCodeUsed")
                .field("to", to)
                .field("used_at", used_at)
                .field("remaining", remaining)
                .finish(),
            Email::RecoveryCodesReplaced { to, replaced_at } => f
                .debug_struct("RecoveryCodesReplaced")
                .field("to", to)
                .field("replaced_at", replaced_at)
                .finish(),
        }
    }
}
