//! Opening the session of a login whose every factor was checked, with
//! its new-device alert and its first pair of tokens: the end of a
//! password login and of a second step alike.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{AuditEventKind, AuthMethods, ClientDevice, DeviceToken, SessionId, TokenKind, User};
use uuid::Uuid;

use super::{Authentication, overflow};
use crate::error::DependencyError;
use crate::ports::{NewAuditEvent, NewDeviceAlert, NewSession, OpenedSession, SessionEpoch};
use crate::use_cases::{LoginTokens, NewToken, SessionSettings};
use crate::{Email, EmailJob};

/// A login whose factors all passed.
pub(super) struct VerifiedLogin {
    pub user: User,
    /// The session counter read with the password hash.
    pub epoch: SessionEpoch,
    pub device: ClientDevice,
    /// The device token the client sent, when it was recognised: answered
    /// again; any other client gets a new one.
    pub known_device: Option<DeviceToken>,
    pub methods: AuthMethods,
    pub now: DateTime<Utc>,
}

impl Authentication {
    /// The session and its tokens; `None` when the account was deleted,
    /// or all its sessions ended, since its password was checked: such a
    /// login must leave nothing behind.
    pub(super) async fn open_session(
        &self,
        login: VerifiedLogin,
    ) -> Result<Option<LoginTokens>, DependencyError> {
        let VerifiedLogin {
            user,
            epoch,
            device,
            known_device,
            methods,
            now,
        } = login;
        let session = SessionId::new(Uuid::new_v4().simple().to_string());
        let expires_at = self.policy.refresh_expiry(now, now).ok_or_else(overflow)?;
        let alert = self
            .settings
            .notify_new_device
            .then(|| new_device_alert(&user, &session, &device, now));
        let device_token = known_device.unwrap_or_else(|| self.mail.device_token());
        // Written in the session's transaction: it exists exactly when
        // the session does.
        let audit = NewAuditEvent::by_user(
            AuditEventKind::LoginSucceeded,
            user.id,
            Some(&session),
            Some(&device),
            now,
            serde_json::json!({ "amr": methods.amr() }),
        );
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
                    methods,
                    audit,
                },
                epoch,
                alert,
            )
            .await?;
        match opened {
            OpenedSession::AccountChanged => return Ok(None),
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
            methods,
        })?;
        let refresh = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Refresh,
            fresh: false,
            generation: Some(0),
            expires_at: Some(expires_at),
            methods,
        })?;
        Ok(Some(LoginTokens {
            user_id: user.id,
            access_token: access,
            refresh_token: refresh,
            expires_in: self.lifetimes.access_secs(),
            device_token,
        }))
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
