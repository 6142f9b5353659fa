use domain::{TokenClaims, TokenRejection};

use super::BoxError;

#[derive(Debug, thiserror::Error)]
#[error("could not sign the token")]
pub struct TokenEncodeError(#[source] pub BoxError);

/// Signs claims into a bearer token and verifies them back. Pure
/// computation: no I/O, so not async.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenCodec: Send + Sync {
    fn encode(&self, claims: &TokenClaims) -> Result<String, TokenEncodeError>;

    /// Verifies signature, algorithm and time claims. Fails only with
    /// [`TokenRejection::Invalid`] or [`TokenRejection::Expired`].
    fn decode(&self, token: &str) -> Result<TokenClaims, TokenRejection>;
}
