//! What the second factor's cryptography cannot start with.

/// A setting the second factor's cryptography cannot start with. Never
/// carries the value: it may be a key.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorSetupError {
    #[error(
        "{variable} must be 32 bytes in standard base64 (44 characters); the value given is not"
    )]
    MalformedKey { variable: &'static str },
    #[error(
        "the TOTP issuer must be a non-empty name without a colon or control characters \
         (apps split the label at the colon)"
    )]
    BadIssuer,
}
