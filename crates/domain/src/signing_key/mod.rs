//! Asymmetric signing keys and the rules of their lifecycle.
//!
//! A key is published (in the JWKS) before it signs, and keeps verifying
//! after it stops signing, so a verifier that caches the JWKS never meets
//! a `kid` it has not seen, and a token never outlives its key:
//!
//! ```text
//! standby --activate--> active --(another is activated)--> retired --revoke--> revoked
//!    \--------------------------retire------------------------^
//! ```
//!
//! - `standby`: published, does not sign.
//! - `active`: the one key that signs; activating another retires it.
//! - `retired`: published, verifies, does not sign.
//! - `revoked`: not published; its tokens are refused.
//!
//! The refusals protect callers from the two unsafe steps: signing with a
//! key verifiers may not have fetched yet (activation sooner than the JWKS
//! cache time after publication), and withdrawing a key while tokens it
//! signed may still be in use (revocation sooner than the access-token
//! lifetime plus the JWKS cache time after it stopped signing). `--force`
//! overrides both, for a key that leaked.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

/// The asymmetric algorithms a key can sign with (HMAC keys are not
/// stored keys: they come from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, at least 2048-bit keys.
    Rs256,
}

impl SigningAlgorithm {
    pub const ALL: [Self; 3] = [Self::Es256, Self::EdDsa, Self::Rs256];

    /// The JOSE name (`alg`), as RFC 7518 and RFC 8037 spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing algorithm {0:?}: expected ES256, EdDSA or RS256")]
pub struct UnknownSigningAlgorithm(pub String);

impl FromStr for SigningAlgorithm {
    type Err = UnknownSigningAlgorithm;

    /// Exactly the JOSE names: `alg` is case-sensitive (RFC 7515 4.1.1).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == text)
            .ok_or_else(|| UnknownSigningAlgorithm(text.to_owned()))
    }
}

/// A key's id (`kid`): 1 to 64 characters of the URL-safe base64 alphabet,
/// so it goes into a JWT header, a JWKS and a command line unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'")]
pub struct InvalidKeyId;

impl KeyId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, InvalidKeyId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if text.is_empty() || text.len() > Self::MAX_LEN || !text.chars().all(allowed) {
            return Err(InvalidKeyId);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    Standby,
    Active,
    Retired,
    Revoked,
}

impl KeyState {
    pub const ALL: [Self; 4] = [Self::Standby, Self::Active, Self::Retired, Self::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standby => "standby",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }

    /// Whether the key is in the JWKS (and so verifies: a key another
    /// instance has just activated may still be `standby` here).
    pub fn is_published(self) -> bool {
        self != Self::Revoked
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key state {0:?}")]
pub struct UnknownKeyState(pub String);

impl FromStr for KeyState {
    type Err = UnknownKeyState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownKeyState(text.to_owned()))
    }
}

/// What the lifecycle knows of a key: no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLifecycle {
    pub kid: KeyId,
    pub algorithm: SigningAlgorithm,
    pub state: KeyState,
    /// When it entered the JWKS (made or imported).
    pub published_at: DateTime<Utc>,
    /// When it last became the signing key.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it last stopped signing (or was retired from standby).
    pub retired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The times the refusals are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long verifiers may cache the JWKS (`JWKS_MAX_AGE`).
    pub jwks_max_age: Duration,
    /// How long an access token lives (`JWT_ACCESS_TOKEN_EXPIRES`).
    pub access_token_lifetime: Duration,
}

/// Why a lifecycle step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    #[error("no key {0}")]
    UnknownKey(KeyId),
    #[error("key {0} is already active")]
    AlreadyActive(KeyId),
    #[error("key {0} is revoked; a revoked key never comes back")]
    Revoked(KeyId),
    #[error(
        "key {kid} was published {published_secs} s ago; verifiers may cache the JWKS for \
         {wait_secs} s, so activate it after {ready_at} (or use --force)"
    )]
    NotPublishedLongEnough {
        kid: KeyId,
        published_secs: i64,
        wait_secs: i64,
        ready_at: DateTime<Utc>,
    },
    #[error("key {0} is the active key and cannot be retired: activate another key first")]
    RetiringActive(KeyId),
    #[error("key {0} is already retired")]
    AlreadyRetired(KeyId),
    #[error("key {0} is the active key and cannot be revoked: activate another key first")]
    RevokingActive(KeyId),
    #[error(
        "key {kid} stopped signing {retired_secs} s ago; tokens it signed may be in use for \
         {wait_secs} s, so revoke it after {ready_at} (or use --force)"
    )]
    StillVerifying {
        kid: KeyId,
        retired_secs: i64,
        wait_secs: i64,
        ready_at: DateTime<Utc>,
    },
}

/// One state change the store must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub kid: KeyId,
    pub from: KeyState,
    pub to: KeyState,
    pub at: DateTime<Utc>,
}

/// Every key of an install, as one consistent snapshot: the lifecycle
/// steps are decided here and written by the store in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyRing {
    keys: Vec<KeyLifecycle>,
}

impl KeyRing {
    pub fn new(keys: Vec<KeyLifecycle>) -> Self {
        Self { keys }
    }

    pub fn keys(&self) -> &[KeyLifecycle] {
        &self.keys
    }

    pub fn get(&self, kid: &KeyId) -> Option<&KeyLifecycle> {
        self.keys.iter().find(|key| &key.kid == kid)
    }

    /// The key that signs, if any. Should a store ever hold two, the one
    /// activated last signs (the others still verify).
    pub fn active(&self) -> Option<&KeyLifecycle> {
        self.keys
            .iter()
            .filter(|key| key.state == KeyState::Active)
            .max_by_key(|key| key.activated_at)
    }

    /// The keys of the JWKS: standby, active and retired.
    pub fn published(&self) -> impl Iterator<Item = &KeyLifecycle> {
        self.keys.iter().filter(|key| key.state.is_published())
    }

    /// Makes `kid` the signing key; the active key, if any, is retired.
    /// A retired key may be activated again (a rollback): it is published.
    pub fn activate(
        &self,
        kid: &KeyId,
        now: DateTime<Utc>,
        policy: &KeyPolicy,
        force: bool,
    ) -> Result<Vec<KeyChange>, KeyRefusal> {
        let key = self.existing(kid)?;
        match key.state {
            KeyState::Active => return Err(KeyRefusal::AlreadyActive(kid.clone())),
            KeyState::Revoked => return Err(KeyRefusal::Revoked(kid.clone())),
            KeyState::Standby | KeyState::Retired => {}
        }
        let ready_at = key.published_at + policy.jwks_max_age;
        if now < ready_at && !force {
            return Err(KeyRefusal::NotPublishedLongEnough {
                kid: kid.clone(),
                published_secs: (now - key.published_at).num_seconds(),
                wait_secs: policy.jwks_max_age.num_seconds(),
                ready_at,
            });
        }
        let mut changes: Vec<KeyChange> = self
            .keys
            .iter()
            .filter(|other| other.state == KeyState::Active)
            .map(|other| change(other, KeyState::Retired, now))
            .collect();
        changes.push(change(key, KeyState::Active, now));
        Ok(changes)
    }

    /// Withdraws a standby key from signing for good, keeping it published
    /// until it is revoked.
    pub fn retire(&self, kid: &KeyId, now: DateTime<Utc>) -> Result<KeyChange, KeyRefusal> {
        let key = self.existing(kid)?;
        match key.state {
            KeyState::Standby => Ok(change(key, KeyState::Retired, now)),
            KeyState::Active => Err(KeyRefusal::RetiringActive(kid.clone())),
            KeyState::Retired => Err(KeyRefusal::AlreadyRetired(kid.clone())),
            KeyState::Revoked => Err(KeyRefusal::Revoked(kid.clone())),
        }
    }

    /// Takes a key out of the JWKS; its tokens are refused from then on. A
    /// standby key never signed, so it goes at once.
    pub fn revoke(
        &self,
        kid: &KeyId,
        now: DateTime<Utc>,
        policy: &KeyPolicy,
        force: bool,
    ) -> Result<KeyChange, KeyRefusal> {
        let key = self.existing(kid)?;
        match key.state {
            KeyState::Standby => return Ok(change(key, KeyState::Revoked, now)),
            KeyState::Active => return Err(KeyRefusal::RevokingActive(kid.clone())),
            KeyState::Revoked => return Err(KeyRefusal::Revoked(kid.clone())),
            KeyState::Retired => {}
        }
        // A key retired from standby never signed; one that was active
        // signed until it was retired. Either way `retired_at` is when the
        // last token it could have signed was issued.
        let retired_at = key.retired_at.unwrap_or(key.published_at);
        let wait = policy.access_token_lifetime + policy.jwks_max_age;
        let ready_at = retired_at + wait;
        if now < ready_at && !force && key.activated_at.is_some() {
            return Err(KeyRefusal::StillVerifying {
                kid: kid.clone(),
                retired_secs: (now - retired_at).num_seconds(),
                wait_secs: wait.num_seconds(),
                ready_at,
            });
        }
        Ok(change(key, KeyState::Revoked, now))
    }

    fn existing(&self, kid: &KeyId) -> Result<&KeyLifecycle, KeyRefusal> {
        self.get(kid)
            .ok_or_else(|| KeyRefusal::UnknownKey(kid.clone()))
    }
}

fn change(key: &KeyLifecycle, to: KeyState, at: DateTime<Utc>) -> KeyChange {
    KeyChange {
        kid: key.kid.clone(),
        from: key.state,
        to,
        at,
    }
}

#[cfg(test)]
mod tests;
