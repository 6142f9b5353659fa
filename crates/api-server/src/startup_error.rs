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
    /// The background tasks run on the runtime that builds the server.
    #[error("the API server must be built inside a tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}
