//! The audit log's vocabulary: what kinds of event it records, why a login
//! failed, and how long events are kept. The names are the contract's
//! (`type` in `GET /admin/audit`) and the database's CHECK lists the same
//! ones, so a name here is never renamed: stored events keep it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

/// The `type` of an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEventKind {
    UserRegistered,
    LoginSucceeded,
    /// With a [`LoginFailure`] reason in its data.
    LoginFailed,
    SessionReuseDetected,
    SessionRevoked,
    /// With the logout's scope in its data.
    LoggedOut,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeUndone,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodeUsed,
    UserDeleted,
    AdminUserCreated,
    AdminUserUpdated,
    AdminUserBanned,
    AdminUserUnbanned,
    AdminSessionsRevoked,
    AdminMfaReset,
    KeysGenerated,
    KeysActivated,
    KeysRetired,
    KeysRevoked,
}

impl AuditEventKind {
    pub const ALL: [Self; 27] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::SessionReuseDetected,
        Self::SessionRevoked,
        Self::LoggedOut,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailChangeUndone,
        Self::EmailVerified,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodeUsed,
        Self::UserDeleted,
        Self::AdminUserCreated,
        Self::AdminUserUpdated,
        Self::AdminUserBanned,
        Self::AdminUserUnbanned,
        Self::AdminSessionsRevoked,
        Self::AdminMfaReset,
        Self::KeysGenerated,
        Self::KeysActivated,
        Self::KeysRetired,
        Self::KeysRevoked,
    ];

    /// The contract's dotted name, as stored and as filtered on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::LoginSucceeded => "user.login_succeeded",
            Self::LoginFailed => "user.login_failed",
            Self::SessionReuseDetected => "session.reuse_detected",
            Self::SessionRevoked => "session.revoked",
            Self::LoggedOut => "user.logged_out",
            Self::PasswordResetRequested => "user.password_reset_requested",
            Self::PasswordReset => "user.password_reset",
            Self::PasswordChanged => "user.password_changed",
            Self::EmailChangeRequested => "user.email_change_requested",
            Self::EmailChanged => "user.email_changed",
            Self::EmailChangeUndone => "user.email_change_undone",
            Self::EmailVerified => "user.email_verified",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::RecoveryCodeUsed => "mfa.recovery_code_used",
            Self::UserDeleted => "user.deleted",
            Self::AdminUserCreated => "admin.user_created",
            Self::AdminUserUpdated => "admin.user_updated",
            Self::AdminUserBanned => "admin.user_banned",
            Self::AdminUserUnbanned => "admin.user_unbanned",
            Self::AdminSessionsRevoked => "admin.sessions_revoked",
            Self::AdminMfaReset => "admin.mfa_reset",
            Self::KeysGenerated => "keys.generated",
            Self::KeysActivated => "keys.activated",
            Self::KeysRetired => "keys.retired",
            Self::KeysRevoked => "keys.revoked",
        }
    }
}

impl fmt::Display for AuditEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit event type {0:?}")]
pub struct UnknownAuditEventKind(pub String);

impl FromStr for AuditEventKind {
    type Err = UnknownAuditEventKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownAuditEventKind(text.to_owned()))
    }
}

/// Why a login failed: the `reason` of a `user.login_failed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginFailure {
    /// Unknown address or wrong password (the event has no subject when
    /// the address is unknown).
    InvalidCredentials,
    Throttled,
    MfaFailed,
    Banned,
    Unverified,
}

impl LoginFailure {
    pub const ALL: [Self; 5] = [
        Self::InvalidCredentials,
        Self::Throttled,
        Self::MfaFailed,
        Self::Banned,
        Self::Unverified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled => "throttled",
            Self::MfaFailed => "mfa_failed",
            Self::Banned => "banned",
            Self::Unverified => "unverified",
        }
    }
}

impl fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown login failure reason {0:?}")]
pub struct UnknownLoginFailure(pub String);

impl FromStr for LoginFailure {
    type Err = UnknownLoginFailure;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| UnknownLoginFailure(text.to_owned()))
    }
}

/// How a failed login of an unknown address names it in its event: the
/// hex SHA-256 of the address as typed, trimmed and lower-cased, so that
/// repeated guesses at one address can be told apart without the log
/// ever holding an address nobody registered (often someone's typo).
pub fn address_digest(address: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(address.trim().to_lowercase().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `AUDIT_RETENTION`'s default.
pub const DEFAULT_AUDIT_RETENTION: TimeDelta = TimeDelta::days(365);

/// The instant before which events may be purged: `retention` before
/// `now`. The purge drops only whole months that end by then, so an event
/// is kept at least `retention` and at most a month longer. A retention
/// too large to subtract keeps everything (the earliest instant).
pub fn audit_purge_cutoff(now: DateTime<Utc>, retention: TimeDelta) -> DateTime<Utc> {
    now.checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_event_kind_round_trips_through_its_name() {
        for kind in AuditEventKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditEventKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn event_kind_names_are_unique_and_dotted() {
        let names: HashSet<_> = AuditEventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), AuditEventKind::ALL.len());
        for name in names {
            let (area, what) = name.split_once('.').expect("a dotted name");
            assert!(
                ["user", "session", "mfa", "admin", "keys"].contains(&area),
                "{name}"
            );
            assert!(
                !what.is_empty() && what.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
    }

    /// The contract's list ("v3: admin API and audit log"), copied as
    /// written: a kind missing from `ALL` or misspelt fails here.
    #[test]
    fn the_kinds_are_exactly_the_contracts() {
        let contract = "user.registered user.login_succeeded user.login_failed \
            session.reuse_detected session.revoked user.logged_out \
            user.password_reset_requested user.password_reset user.password_changed \
            user.email_change_requested user.email_changed user.email_change_undone \
            user.email_verified mfa.enabled mfa.disabled mfa.recovery_code_used \
            user.deleted admin.user_created admin.user_updated admin.user_banned \
            admin.user_unbanned admin.sessions_revoked admin.mfa_reset keys.generated \
            keys.activated keys.retired keys.revoked";
        let names: Vec<_> = AuditEventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, contract.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn unknown_event_kinds_are_refused() {
        for text in ["", "user", "USER.REGISTERED", "user.registered ", "keys.*"] {
            assert_eq!(
                text.parse::<AuditEventKind>(),
                Err(UnknownAuditEventKind(text.to_owned()))
            );
        }
    }

    #[test]
    fn every_login_failure_round_trips_and_names_are_unique() {
        let names: HashSet<_> = LoginFailure::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), LoginFailure::ALL.len());
        for reason in LoginFailure::ALL {
            assert_eq!(reason.as_str().parse::<LoginFailure>(), Ok(reason));
        }
        assert!("wrong_password".parse::<LoginFailure>().is_err());
    }

    #[test]
    fn address_digests_are_lowercase_hex_sha256_of_the_normalised_address() {
        // SHA-256("abc"), the FIPS 180-2 example.
        assert!(address_digest(" ABC ").starts_with("ba7816bf"));
        assert_eq!(address_digest("abc").len(), 64);
        assert!(!address_digest("a@example.com").contains('@'));
    }

    #[test]
    fn the_purge_cutoff_is_the_retention_before_now() {
        let now = Utc.with_ymd_and_hms(2027, 3, 15, 12, 0, 0).unwrap();
        assert_eq!(
            audit_purge_cutoff(now, DEFAULT_AUDIT_RETENTION),
            Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
        );
        assert_eq!(
            audit_purge_cutoff(now, TimeDelta::MAX),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
