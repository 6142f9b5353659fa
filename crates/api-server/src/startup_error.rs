//! Why the API server could not start: each names the dependency or the
//! variable at fault.

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Postgres(#[from] postgres_adapter::PgError),
    #[error("Redis: {0}")]
    Redis(#[from] redis_adapter::RedisError),
    /// A certificate that does not verify: named by the variables that
    /// choose the server and the CA.
    #[error("{variables}: Redis's TLS certificate does not verify")]
    RedisTls {
        variables: String,
        #[source]
        source: redis_adapter::TlsError,
    },
    /// Names the variable itself (`JWT_SECRET_KEY`, `JWT_ISSUER`, ...).
    #[error(transparent)]
    Jwt(#[from] crypto_adapter::JwtKeyError),
    #[error(transparent)]
    Hasher(#[from] application::ports::HashError),
    /// HMAC signing without `JWT_SECRET_KEY`: the configuration rules it out.
    #[error("JWT_SECRET_KEY is required but not set")]
    NoSigningKey,
    #[error("SIGNING_KEYS_ENCRYPTION_KEY")]
    EncryptionKey(#[source] crypto_adapter::VaultError),
    /// MFA_ENCRYPTION_KEY, MFA_ENCRYPTION_KEY_PREVIOUS or MFA_ISSUER
    /// (checked with the configuration; named by the error).
    #[error(transparent)]
    SecondFactor(#[from] crypto_adapter::SecondFactorSetupError),
    /// The signing keys could not be set up (the store down, no active
    /// key, a key that does not open): the message says which.
    #[error("signing keys")]
    SigningKeys(#[source] application::SigningKeyError),
    /// The background tasks run on the runtime that builds the server.
    #[error("the API server must be built inside a tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}
