//! [`SigningKeyStore`] on the `signing_keys` table.

use application::ports::{
    NewAuditEvent, SealedPrivateKey, SigningKeyStore, SigningKeyStoreError, StoredSigningKey,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{AuditEventKind, KeyChange, KeyId, KeyLifecycle, KeyState};

use crate::audit_log::record_in;
use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};

const ALL: &str = "\
SELECT kid, algorithm, state, public_jwk, nonce, ciphertext, published_at, activated_at, \
       retired_at, revoked_at \
FROM signing_keys ORDER BY published_at, kid";

const VERSION: &str = "SELECT coalesce(max(changed_seq), 0) AS version FROM signing_keys";

const INSERT: &str = "\
INSERT INTO signing_keys (kid, algorithm, state, public_jwk, nonce, ciphertext, published_at, \
                          activated_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The first key of an install: only into an empty table, and the
/// one-active index settles a race between instances.
const INSERT_FIRST: &str = "\
INSERT INTO signing_keys (kid, algorithm, state, public_jwk, nonce, ciphertext, published_at, \
                          activated_at) \
SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
WHERE NOT EXISTS (SELECT 1 FROM signing_keys) \
ON CONFLICT DO NOTHING";

/// One lifecycle step, only from the state it was decided on.
const CHANGE: &str = "\
UPDATE signing_keys SET state = $3, \
    activated_at = CASE WHEN $3 = 'active' THEN $4 ELSE activated_at END, \
    retired_at = CASE WHEN $3 = 'retired' THEN $4 ELSE retired_at END, \
    revoked_at = CASE WHEN $3 = 'revoked' THEN $4 ELSE revoked_at END, \
    changed_seq = nextval('signing_key_changes') \
WHERE kid = $1 AND state = $2 \
RETURNING algorithm";

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    kid: String,
    #[diesel(sql_type = Text)]
    algorithm: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Text)]
    public_jwk: String,
    #[diesel(sql_type = Bytea)]
    nonce: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    ciphertext: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    published_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    activated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    retired_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct AlgorithmRow {
    #[diesel(sql_type = Text)]
    algorithm: String,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// A row the table's checks let in but this code cannot read.
#[derive(Debug, thiserror::Error)]
#[error("signing key {kid:?} has an unreadable {field}")]
struct CorruptKey {
    kid: String,
    field: &'static str,
}

impl KeyRow {
    fn into_key(self) -> Result<StoredSigningKey, CorruptKey> {
        let corrupt = |field| CorruptKey {
            kid: self.kid.clone(),
            field,
        };
        let lifecycle = KeyLifecycle {
            kid: KeyId::parse(&self.kid).map_err(|_| corrupt("kid"))?,
            algorithm: self.algorithm.parse().map_err(|_| corrupt("algorithm"))?,
            state: self.state.parse().map_err(|_| corrupt("state"))?,
            published_at: self.published_at,
            activated_at: self.activated_at,
            retired_at: self.retired_at,
            revoked_at: self.revoked_at,
        };
        Ok(StoredSigningKey {
            lifecycle,
            public_jwk: self.public_jwk,
            sealed: SealedPrivateKey {
                nonce: self.nonce,
                ciphertext: self.ciphertext,
            },
        })
    }
}

fn store_error(failure: Failure) -> SigningKeyStoreError {
    match failure {
        Failure::Unavailable(_) => SigningKeyStoreError::Unavailable(failure.into()),
        Failure::UniqueViolation(Some(ref name)) if name == "signing_keys_pkey" => {
            SigningKeyStoreError::DuplicateKid
        }
        // Two active keys: a concurrent activation got there first.
        Failure::UniqueViolation(Some(ref name)) if name == "signing_keys_one_active" => {
            SigningKeyStoreError::Conflict
        }
        _ => SigningKeyStoreError::Unexpected(failure.into()),
    }
}

/// Why a transaction of changes stopped.
enum Stop {
    Conflict,
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for Stop {
    fn from(error: diesel::result::Error) -> Self {
        Self::Query(error)
    }
}

#[derive(Clone)]
pub struct PgSigningKeyStore {
    db: Db,
}

impl PgSigningKeyStore {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }

    /// Inserts `key` by `statement` and, in the same transaction when a
    /// row went in, its `keys.generated` (and `keys.activated` for a key
    /// born active: the first key of an install).
    async fn insert_with(
        &self,
        statement: &'static str,
        key: StoredSigningKey,
    ) -> Result<usize, SigningKeyStoreError> {
        let lifecycle = key.lifecycle;
        let mut events = vec![key_event(
            AuditEventKind::KeysGenerated,
            &lifecycle.kid,
            lifecycle.algorithm.as_str(),
            lifecycle.published_at,
        )];
        if let Some(at) = lifecycle.activated_at {
            events.push(key_event(
                AuditEventKind::KeysActivated,
                &lifecycle.kid,
                lifecycle.algorithm.as_str(),
                at,
            ));
        }
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let transaction = conn.transaction(async move |conn| {
            let inserted = diesel::sql_query(statement)
                .bind::<Text, _>(lifecycle.kid.as_str().to_owned())
                .bind::<Text, _>(lifecycle.algorithm.as_str())
                .bind::<Text, _>(lifecycle.state.as_str())
                .bind::<Text, _>(key.public_jwk)
                .bind::<Bytea, _>(key.sealed.nonce)
                .bind::<Bytea, _>(key.sealed.ciphertext)
                .bind::<Timestamptz, _>(lifecycle.published_at)
                .bind::<Nullable<Timestamptz>, _>(lifecycle.activated_at)
                .execute(conn)
                .await?;
            if inserted == 1 {
                record_in(conn, &events).await?;
            }
            Ok::<_, diesel::result::Error>(inserted)
        });
        self.db.bounded(transaction).await.map_err(store_error)
    }
}

/// The audit event of a key's step: no actor (the `keys` commands and the
/// service itself), no subject (no user); `kid` and `algorithm` in data.
fn key_event(
    kind: AuditEventKind,
    kid: &KeyId,
    algorithm: &str,
    at: DateTime<Utc>,
) -> NewAuditEvent {
    NewAuditEvent {
        at,
        kind,
        actor: None,
        subject: None,
        session: None,
        ip: None,
        user_agent: None,
        data: serde_json::json!({ "kid": kid.as_str(), "algorithm": algorithm }),
    }
}

/// The kind of the event of a step into `to`.
fn step_kind(to: KeyState) -> Option<AuditEventKind> {
    match to {
        KeyState::Active => Some(AuditEventKind::KeysActivated),
        KeyState::Retired => Some(AuditEventKind::KeysRetired),
        KeyState::Revoked => Some(AuditEventKind::KeysRevoked),
        KeyState::Standby => None,
    }
}

#[async_trait]
impl SigningKeyStore for PgSigningKeyStore {
    #[tracing::instrument(level = "debug", name = "postgres.signing_keys", skip_all)]
    async fn all(&self) -> Result<Vec<StoredSigningKey>, SigningKeyStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let rows = self
            .db
            .bounded(diesel::sql_query(ALL).load::<KeyRow>(&mut conn))
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|row| {
                row.into_key()
                    .map_err(|error| SigningKeyStoreError::Unexpected(Box::new(error)))
            })
            .collect()
    }

    async fn version(&self) -> Result<i64, SigningKeyStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let row = self
            .db
            .bounded(diesel::sql_query(VERSION).get_result::<VersionRow>(&mut conn))
            .await
            .map_err(store_error)?;
        Ok(row.version)
    }

    #[tracing::instrument(level = "debug", name = "postgres.insert_signing_key", skip_all)]
    async fn insert(&self, key: StoredSigningKey) -> Result<(), SigningKeyStoreError> {
        self.insert_with(INSERT, key).await.map(|_| ())
    }

    #[tracing::instrument(level = "debug", name = "postgres.insert_first_signing_key", skip_all)]
    async fn insert_first(&self, key: StoredSigningKey) -> Result<bool, SigningKeyStoreError> {
        Ok(self.insert_with(INSERT_FIRST, key).await? == 1)
    }

    #[tracing::instrument(level = "debug", name = "postgres.change_signing_keys", skip_all)]
    async fn apply(&self, changes: Vec<KeyChange>) -> Result<(), SigningKeyStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let outcome = self
            .db
            .bounded(async {
                Ok(conn
                    .transaction::<_, Stop, _>(async |conn| {
                        // In order: the retirement of the active key comes
                        // before the activation that replaces it.
                        for change in &changes {
                            let updated = diesel::sql_query(CHANGE)
                                .bind::<Text, _>(change.kid.as_str().to_owned())
                                .bind::<Text, _>(change.from.as_str())
                                .bind::<Text, _>(change.to.as_str())
                                .bind::<Timestamptz, _>(change.at)
                                .get_result::<AlgorithmRow>(conn)
                                .await
                                .optional()?;
                            let Some(row) = updated else {
                                return Err(Stop::Conflict);
                            };
                            if let Some(kind) = step_kind(change.to) {
                                let event = key_event(kind, &change.kid, &row.algorithm, change.at);
                                record_in(conn, std::slice::from_ref(&event)).await?;
                            }
                        }
                        Ok(())
                    })
                    .await)
            })
            .await
            .map_err(store_error)?;
        match outcome {
            Ok(()) => Ok(()),
            Err(Stop::Conflict) => Err(SigningKeyStoreError::Conflict),
            Err(Stop::Query(error)) => Err(store_error(Failure::from(error))),
        }
    }
}
