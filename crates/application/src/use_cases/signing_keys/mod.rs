//! Asymmetric signing keys: the operator's commands (generate, import,
//! list, activate, retire, revoke), the first key of an install, and
//! keeping every instance's keys current (`docs/http-api.md#signing-keys`).
//!
//! Every change is decided by the domain's [`KeyRing`] on a snapshot of
//! all keys and written only if no other change overtook that snapshot, so
//! two operators (or two instances at first start) cannot, say, leave two
//! active keys. Instances notice a change by polling the store's version
//! ([`SigningKeys::refresh`]), so a change needs no restart anywhere.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use domain::{
    KeyChange, KeyId, KeyLifecycle, KeyPolicy, KeyRefusal, KeyRing, KeyState, SigningAlgorithm,
};

use crate::ports::{
    Clock, KeyWorkshop, KeyWorkshopError, SigningKeyStore, SigningKeyStoreError, StoredSigningKey,
};

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    Refused(#[from] KeyRefusal),
    #[error("the signing keys changed while this change was decided; run it again")]
    Conflict,
    #[error(
        "no signing key is active: activate one with `api-server keys activate KID` \
         (`api-server keys list` shows them)"
    )]
    NoActiveKey,
    #[error("the signing key store failed")]
    Store(#[source] SigningKeyStoreError),
    #[error(transparent)]
    Workshop(#[from] KeyWorkshopError),
}

impl From<SigningKeyStoreError> for SigningKeyError {
    fn from(error: SigningKeyStoreError) -> Self {
        match error {
            SigningKeyStoreError::Conflict => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

/// What this instance put in use last.
struct InUse {
    /// The store's version it was read at; `None` before the first read.
    version: Option<i64>,
    /// `{"keys": [...]}`: the public JWKs of the published keys.
    jwks: Arc<str>,
}

pub struct SigningKeys {
    store: Arc<dyn SigningKeyStore>,
    workshop: Arc<dyn KeyWorkshop>,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
    in_use: RwLock<InUse>,
}

impl SigningKeys {
    pub fn new(
        store: Arc<dyn SigningKeyStore>,
        workshop: Arc<dyn KeyWorkshop>,
        clock: Arc<dyn Clock>,
        policy: KeyPolicy,
    ) -> Self {
        Self {
            store,
            workshop,
            clock,
            policy,
            in_use: RwLock::new(InUse {
                version: None,
                jwks: Arc::from(r#"{"keys":[]}"#),
            }),
        }
    }

    /// A new standby key: published from now on, signing once activated.
    #[tracing::instrument(level = "info", name = "generate_signing_key", skip(self))]
    pub async fn generate(
        &self,
        algorithm: SigningAlgorithm,
    ) -> Result<KeyLifecycle, SigningKeyError> {
        let kid = self.workshop.new_kid();
        let forged = self.workshop.generate(&kid, algorithm)?;
        self.store_standby(kid, algorithm, forged).await
    }

    /// A key brought from elsewhere (PKCS#8 PEM), as a standby key.
    #[tracing::instrument(level = "info", name = "import_signing_key", skip(self, pem))]
    pub async fn import(
        &self,
        algorithm: SigningAlgorithm,
        pem: &str,
    ) -> Result<KeyLifecycle, SigningKeyError> {
        let kid = self.workshop.new_kid();
        let forged = self.workshop.import(&kid, algorithm, pem)?;
        self.store_standby(kid, algorithm, forged).await
    }

    async fn store_standby(
        &self,
        kid: KeyId,
        algorithm: SigningAlgorithm,
        forged: crate::ports::ForgedKey,
    ) -> Result<KeyLifecycle, SigningKeyError> {
        let lifecycle = KeyLifecycle {
            kid,
            algorithm,
            state: KeyState::Standby,
            published_at: self.clock.now(),
            activated_at: None,
            retired_at: None,
            revoked_at: None,
        };
        self.store
            .insert(StoredSigningKey {
                lifecycle: lifecycle.clone(),
                public_jwk: forged.public_jwk,
                sealed: forged.sealed,
            })
            .await?;
        Ok(lifecycle)
    }

    pub async fn list(&self) -> Result<Vec<KeyLifecycle>, SigningKeyError> {
        Ok(self.ring().await?.keys().to_vec())
    }

    #[tracing::instrument(level = "info", name = "activate_signing_key", skip(self), fields(kid = %kid))]
    pub async fn activate(
        &self,
        kid: &KeyId,
        force: bool,
    ) -> Result<Vec<KeyChange>, SigningKeyError> {
        let changes = self
            .ring()
            .await?
            .activate(kid, self.clock.now(), &self.policy, force)?;
        self.store.apply(changes.clone()).await?;
        Ok(changes)
    }

    #[tracing::instrument(level = "info", name = "retire_signing_key", skip(self), fields(kid = %kid))]
    pub async fn retire(&self, kid: &KeyId) -> Result<KeyChange, SigningKeyError> {
        let change = self.ring().await?.retire(kid, self.clock.now())?;
        self.store.apply(vec![change.clone()]).await?;
        Ok(change)
    }

    #[tracing::instrument(level = "info", name = "revoke_signing_key", skip(self), fields(kid = %kid))]
    pub async fn revoke(&self, kid: &KeyId, force: bool) -> Result<KeyChange, SigningKeyError> {
        let change = self
            .ring()
            .await?
            .revoke(kid, self.clock.now(), &self.policy, force)?;
        self.store.apply(vec![change.clone()]).await?;
        Ok(change)
    }

    /// At an instance's start: an install with no key at all gets one of
    /// `algorithm`, active at once (no verifier can hold a token yet), made
    /// by exactly one of the instances starting together. Then the keys
    /// are put in use. Returns the kid of the key this call made, if any.
    pub async fn start(
        &self,
        algorithm: SigningAlgorithm,
    ) -> Result<Option<KeyId>, SigningKeyError> {
        let mut made = None;
        if self.store.all().await?.is_empty() {
            let kid = self.workshop.new_kid();
            let forged = self.workshop.generate(&kid, algorithm)?;
            let now = self.clock.now();
            let first = StoredSigningKey {
                lifecycle: KeyLifecycle {
                    kid: kid.clone(),
                    algorithm,
                    state: KeyState::Active,
                    published_at: now,
                    activated_at: Some(now),
                    retired_at: None,
                    revoked_at: None,
                },
                public_jwk: forged.public_jwk,
                sealed: forged.sealed,
            };
            if self.store.insert_first(first).await? {
                tracing::info!(kid = %kid, %algorithm, "made and activated the first signing key");
                made = Some(kid);
            }
        }
        // The keys just put in use answer whether one signs: no third read.
        let ring = match self.reload().await? {
            Some(ring) => ring,
            None => self.ring().await?,
        };
        if ring.active().is_none() {
            return Err(SigningKeyError::NoActiveKey);
        }
        Ok(made)
    }

    /// Puts the store's keys in use when they changed since the last call;
    /// whether they had. Instances call it every second or so.
    pub async fn refresh(&self) -> Result<bool, SigningKeyError> {
        Ok(self.reload().await?.is_some())
    }

    /// [`Self::refresh`], giving the keys it put in use, if it did.
    async fn reload(&self) -> Result<Option<KeyRing>, SigningKeyError> {
        // The version first: a change landing between the two reads is
        // seen again at the next call, never missed.
        let version = self.store.version().await?;
        if self.in_use().version == Some(version) {
            return Ok(None);
        }
        let keys = self.store.all().await?;
        self.workshop.put_in_use(&keys)?;
        let published: Vec<&str> = keys
            .iter()
            .filter(|key| key.lifecycle.state.is_published())
            .map(|key| key.public_jwk.as_str())
            .collect();
        let jwks = format!(r#"{{"keys":[{}]}}"#, published.join(","));
        *self.in_use.write().unwrap_or_else(PoisonError::into_inner) = InUse {
            version: Some(version),
            jwks: Arc::from(jwks),
        };
        tracing::info!(
            version,
            published = published.len(),
            "signing keys put in use"
        );
        Ok(Some(KeyRing::new(
            keys.into_iter().map(|key| key.lifecycle).collect(),
        )))
    }

    /// The JWKS document of the keys in use: `{"keys": [...]}`.
    pub fn jwks(&self) -> Arc<str> {
        self.in_use().jwks.clone()
    }

    /// What is in use now. A panic while it was being replaced left either
    /// the old value or the new one whole: both are usable.
    fn in_use(&self) -> RwLockReadGuard<'_, InUse> {
        self.in_use.read().unwrap_or_else(PoisonError::into_inner)
    }

    async fn ring(&self) -> Result<KeyRing, SigningKeyError> {
        let keys = self.store.all().await?;
        Ok(KeyRing::new(
            keys.into_iter().map(|key| key.lifecycle).collect(),
        ))
    }
}

#[cfg(test)]
mod tests;
