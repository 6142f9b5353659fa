//! The audit log: who did what to whom, when and from where, kept by the
//! month for `AUDIT_RETENTION` and read newest first, a page at a time.

use std::net::IpAddr;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::{AuditEventKind, ClientDevice, SessionId, UserId};

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// The store did not answer in time or refused the connection.
    #[error("the audit log is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the audit log failed")]
    Unexpected(#[source] BoxError),
}

/// An event before it is stored (the store gives it its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub at: DateTime<Utc>,
    pub kind: AuditEventKind,
    /// Who acted: the user itself for self-service events, the admin for
    /// admin actions, `None` for the service itself (key rotation).
    pub actor: Option<UserId>,
    /// Whom it concerns: what `GET /admin/audit?user_id=` and
    /// `GET /users/me/security-events` match. `None` for a failed login
    /// of an unknown address (whose address is never stored in clear).
    pub subject: Option<UserId>,
    pub session: Option<SessionId>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// What else the kind carries (a login failure's reason, a logout's
    /// scope, the fields an admin changed): a JSON object.
    pub data: serde_json::Value,
}

impl NewAuditEvent {
    /// An event a user caused about itself (a login, its second factor):
    /// the contract makes the user both actor and subject.
    pub fn by_user(
        kind: AuditEventKind,
        user: UserId,
        session: Option<&SessionId>,
        device: Option<&ClientDevice>,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            at,
            kind,
            actor: Some(user),
            subject: Some(user),
            session: session.cloned(),
            ip: device.and_then(ClientDevice::ip),
            user_agent: device.and_then(ClientDevice::user_agent).map(str::to_owned),
            data,
        }
    }
}

impl NewAuditEvent {
    /// An event about a user the same transaction creates (its
    /// registration): the store sets its subject, and its actor when
    /// `actor` is `None` (the user registered itself), to the new user's
    /// id, known only once the row is in.
    pub fn about_new_user(
        kind: AuditEventKind,
        actor: Option<UserId>,
        device: Option<&ClientDevice>,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            at,
            kind,
            actor,
            subject: None,
            session: None,
            ip: device.and_then(ClientDevice::ip),
            user_agent: device.and_then(ClientDevice::user_agent).map(str::to_owned),
            data,
        }
    }

    /// This event about the new user `id` (see [`Self::about_new_user`]).
    pub fn for_new_user(mut self, id: UserId) -> Self {
        self.subject = Some(id);
        self.actor = self.actor.or(Some(id));
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: AuditEventKind,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub session: Option<SessionId>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub data: serde_json::Value,
}

impl AuditEvent {
    /// Where the page that ends with this event stops.
    pub fn cursor(&self) -> AuditCursor {
        AuditCursor {
            at: self.at,
            id: self.id,
        }
    }
}

/// The `(at, id)` of the last event of a page: the next page holds the
/// events strictly older in that order. Ids alone would not do: events
/// are ordered by `at`, and ids come in insertion order, which is not
/// `at`'s order (events are recorded with the time they happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid audit cursor")]
pub struct InvalidAuditCursor;

impl AuditCursor {
    /// The opaque `next_cursor` of the API: base64url of
    /// `"<at in microseconds since the epoch>:<id>"`. Microseconds are all
    /// PostgreSQL keeps, so nothing is lost on the way round.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.timestamp_micros(), self.id))
    }

    /// A cursor this service handed out; anything else (a client's guess,
    /// a truncated copy) is refused rather than read as some position.
    pub fn decode(text: &str) -> Result<Self, InvalidAuditCursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| InvalidAuditCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InvalidAuditCursor)?;
        let (micros, id) = text.split_once(':').ok_or(InvalidAuditCursor)?;
        let is_number = |part: &str| {
            let digits = part.strip_prefix('-').unwrap_or(part);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        };
        // `parse` alone would take a leading `+`: one position, one text.
        if !is_number(micros) || !is_number(id) {
            return Err(InvalidAuditCursor);
        }
        let micros = micros.parse().map_err(|_| InvalidAuditCursor)?;
        let id = id.parse().map_err(|_| InvalidAuditCursor)?;
        let at = DateTime::from_timestamp_micros(micros).ok_or(InvalidAuditCursor)?;
        Ok(Self { at, id })
    }
}

/// One page of events, newest first (`at`, then `id`, descending).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    /// Only events about this user.
    pub subject: Option<UserId>,
    pub kind: Option<AuditEventKind>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The most events on the page (the caller bounds it).
    pub limit: u32,
    /// Continue after the page this cursor ended.
    pub after: Option<AuditCursor>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<AuditCursor>,
}

/// Where audit events are kept: in monthly partitions, so that retention
/// drops whole months instead of deleting rows one by one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Stores the events together (all or none). An event for a month that
    /// has no partition yet gets one made first.
    async fn record(&self, events: Vec<NewAuditEvent>) -> Result<(), AuditLogError>;

    /// One page of the events that match, newest first, keyset-paginated:
    /// events recorded between two pages never shift or repeat one.
    async fn query(&self, query: AuditQuery) -> Result<AuditPage, AuditLogError>;

    /// Makes sure the months of `now` and the two after it have their
    /// partitions (at start-up and from the purge loop), so inserts never
    /// wait on one; harmless when they exist, and when instances race.
    async fn prepare_partitions(&self, now: DateTime<Utc>) -> Result<(), AuditLogError>;

    /// Drops the monthly partitions that end at or before `cutoff` (see
    /// [`domain::audit_purge_cutoff`]), with their events. A month that
    /// `cutoff` falls within is kept whole. Returns the dropped names.
    async fn drop_partitions_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<String>, AuditLogError>;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn cursor(micros: i64, id: i64) -> AuditCursor {
        AuditCursor {
            at: DateTime::from_timestamp_micros(micros).unwrap(),
            id,
        }
    }

    #[test]
    fn a_cursor_round_trips_through_its_url_safe_text() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 10, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        for original in [
            AuditCursor { at, id: 1 },
            AuditCursor { at, id: i64::MAX },
            cursor(-1, 0),
            cursor(0, 42),
        ] {
            let text = original.encode();
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{text}"
            );
            assert_eq!(AuditCursor::decode(&text), Ok(original));
        }
    }

    #[test]
    fn garbage_cursors_are_refused() {
        let encoded = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for text in [
            String::new(),
            "not base64!".to_owned(),
            "MTIzOjQ1=".to_owned(),
            encoded("123"),
            encoded("123:"),
            encoded(":45"),
            encoded("12a:45"),
            encoded("+123:45"),
            encoded("123:45:6"),
            encoded("123: 45"),
            encoded("99999999999999999999:1"),
            encoded(&format!("{}:1", i64::MAX)),
            URL_SAFE_NO_PAD.encode([0xff, b':', b'1']),
        ] {
            assert_eq!(
                AuditCursor::decode(&text),
                Err(InvalidAuditCursor),
                "{text}"
            );
        }
    }
}
