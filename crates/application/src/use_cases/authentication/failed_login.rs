//! `user.login_failed`: a failed login changes nothing, so there is no
//! transaction to write its event in; it goes through the audit log on
//! its own, and a log that fails never fails the login's answer.

use domain::{AuditEventKind, ClientDevice, LoginFailure, UserId, address_digest};
use serde_json::json;

use super::Authentication;
use crate::error_chain::ErrorChain;
use crate::ports::NewAuditEvent;

/// Whose login failed.
pub(super) enum FailedAccount<'a> {
    Known(UserId),
    /// No account has this address (or it is malformed): the event has no
    /// subject and names the address only by its digest, as an address
    /// nobody registered is often someone's typo of their own.
    Unknown {
        address: &'a str,
    },
}

impl Authentication {
    /// Records the failure; a failure to record is logged and dropped.
    /// The store bounds its own time (`PgSettings`' statement timeout),
    /// so a slow log delays the answer at most that long.
    pub(super) async fn record_failed_login(
        &self,
        account: FailedAccount<'_>,
        device: &ClientDevice,
        reason: LoginFailure,
    ) {
        let now = self.clock.now();
        let event = match account {
            FailedAccount::Known(user) => NewAuditEvent::by_user(
                AuditEventKind::LoginFailed,
                user,
                None,
                Some(device),
                now,
                json!({ "reason": reason.as_str() }),
            ),
            FailedAccount::Unknown { address } => NewAuditEvent {
                at: now,
                kind: AuditEventKind::LoginFailed,
                actor: None,
                subject: None,
                session: None,
                ip: device.ip(),
                user_agent: device.user_agent().map(str::to_owned),
                data: json!({
                    "reason": reason.as_str(),
                    "email_sha256": address_digest(address),
                }),
            },
        };
        if let Err(error) = self.audit.record(vec![event]).await {
            tracing::warn!(
                error.chain = %ErrorChain(&error),
                reason = reason.as_str(),
                "a failed login was not written to the audit log"
            );
        }
    }
}
