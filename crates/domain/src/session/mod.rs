//! Login sessions and the rules of refresh-token rotation.
//!
//! A session is one login. Every refresh token carries the session's
//! rotation counter (`gen`); presenting the current one rotates the
//! session, presenting the one just superseded is forgiven for a short
//! while (concurrent tabs, lost responses), and anything older is taken
//! as theft (OAuth 2.0 Security BCP, RFC 9700 section 4.14).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Duration, Utc};

use crate::{SessionId, UserId};

/// How refresh tokens behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Each refresh hands out a new refresh token (`REFRESH_TOKEN_ROTATION`).
    /// Off: v1 behaviour, one refresh token for the whole session.
    pub rotation: bool,
    /// How long the superseded refresh token is still honoured after a
    /// rotation (`REFRESH_REUSE_INTERVAL`).
    pub reuse_interval: Duration,
    /// An idle session dies this long after its last refresh
    /// (`JWT_REFRESH_TOKEN_EXPIRES`).
    pub refresh_lifetime: Duration,
    /// An active session dies this long after its login
    /// (`SESSION_MAX_LIFETIME`).
    pub max_lifetime: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            rotation: true,
            reuse_interval: Duration::seconds(10),
            refresh_lifetime: Duration::seconds(2_592_000),
            max_lifetime: Duration::days(90),
        }
    }
}

impl RefreshPolicy {
    /// When a refresh token issued at `now` for a session that began at
    /// `created_at` expires: the refresh lifetime, capped by the session's
    /// maximum. `None` when the calendar overflows.
    pub fn refresh_expiry(
        &self,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let idle = now.checked_add_signed(self.refresh_lifetime)?;
        let cap = created_at.checked_add_signed(self.max_lifetime)?;
        Some(idle.min(cap))
    }
}

/// A login session as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The current refresh token's `exp`: when the session dies unless it
    /// is refreshed again.
    pub expires_at: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The generation (`gen`) of the current refresh token.
    pub generation: u64,
    /// When the current generation replaced the previous one.
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// How its login was authenticated: every access token it is
    /// refreshed into carries these (`amr`, `aal`).
    pub methods: crate::AuthMethods,
}

/// What a refresh with a token of generation `presented` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The current token: move the session to `to` and hand out its tokens.
    Rotate { to: u64 },
    /// Rotation is off: a new access token, the refresh token stays.
    Extend,
    /// The token superseded moments ago: answer with tokens of the current
    /// generation, changing nothing.
    ReplayCurrent,
    /// An older token, or the previous one too late: revoke the session.
    Reuse,
    /// The session was revoked already.
    Revoked,
    /// The session outlived its refresh or maximum lifetime.
    Expired,
}

impl Session {
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// The rotation rules, in order: a revoked session stays dead, an
    /// expired one is expired, then the generation decides.
    pub fn decide_refresh(
        &self,
        presented: u64,
        now: DateTime<Utc>,
        policy: &RefreshPolicy,
    ) -> RefreshDecision {
        if self.revoked_at.is_some() {
            return RefreshDecision::Revoked;
        }
        let past_max = self
            .created_at
            .checked_add_signed(policy.max_lifetime)
            .is_some_and(|cap| now >= cap);
        if now >= self.expires_at || past_max {
            return RefreshDecision::Expired;
        }
        if presented == self.generation {
            return if policy.rotation {
                match self.generation.checked_add(1) {
                    Some(to) => RefreshDecision::Rotate { to },
                    None => RefreshDecision::Expired,
                }
            } else {
                RefreshDecision::Extend
            };
        }
        let just_superseded = presented.checked_add(1) == Some(self.generation)
            && self
                .rotated_at
                .is_some_and(|rotated| now - rotated <= policy.reuse_interval);
        if policy.rotation && just_superseded {
            RefreshDecision::ReplayCurrent
        } else {
            RefreshDecision::Reuse
        }
    }
}

/// The device a login comes from, as far as a server can tell: the client
/// IP (see the HTTP layer's one client-IP function) and its user agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientDevice {
    ip: Option<IpAddr>,
    user_agent: Option<String>,
}

impl ClientDevice {
    /// Longer user agents are cut: they are shown to the user, not parsed.
    pub const MAX_USER_AGENT_CHARS: usize = 512;

    /// Keeps a printable, bounded user agent; control characters (which
    /// could forge lines in a log or an email) are dropped.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|raw| {
                raw.chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_USER_AGENT_CHARS)
                    .collect::<String>()
                    .trim()
                    .to_owned()
            })
            .filter(|ua| !ua.is_empty());
        Self {
            ip: ip.map(canonical),
            user_agent,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The network a login is recognised by: the IPv4 /24 or IPv6 /64 of
    /// its address (addresses inside one home or office change often).
    pub fn network(&self) -> Option<String> {
        self.ip.map(|ip| match ip {
            IpAddr::V4(v4) => {
                let prefix = u32::from(v4) & 0xffff_ff00;
                format!("{}/24", Ipv4Addr::from(prefix))
            }
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        })
    }
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// The session of the presented token.
    #[default]
    Local,
    /// Every other session of the user; this one stays.
    Others,
    /// Every session of the user.
    Global,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Must be one of: local, others, global.")]
pub struct UnknownLogoutScope;

impl std::str::FromStr for LogoutScope {
    type Err = UnknownLogoutScope;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "local" => Ok(Self::Local),
            "others" => Ok(Self::Others),
            "global" => Ok(Self::Global),
            _ => Err(UnknownLogoutScope),
        }
    }
}

impl fmt::Display for LogoutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogoutScope::Local => "local",
            LogoutScope::Others => "others",
            LogoutScope::Global => "global",
        })
    }
}

#[cfg(test)]
mod tests;
