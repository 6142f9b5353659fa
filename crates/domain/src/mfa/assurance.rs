//! How a session was authenticated: the methods (`amr`, RFC 8176) and
//! the assurance level they reach (`aal`, NIST SP 800-63B). A session
//! keeps its methods for its whole life, so a refresh carries them on.

use std::fmt;
use std::str::FromStr;

/// `aal` of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AssuranceLevel {
    /// A password alone.
    Aal1,
    /// A password and a second factor.
    Aal2,
}

impl AssuranceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AssuranceLevel::Aal1 => "aal1",
            AssuranceLevel::Aal2 => "aal2",
        }
    }
}

/// The methods a login used, in the order they were used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethods {
    /// `["pwd"]`.
    #[default]
    Password,
    /// `["pwd", "otp"]`: a code from the authenticator app.
    PasswordAndTotp,
    /// `["pwd", "rc"]`: one of the recovery codes.
    PasswordAndRecoveryCode,
}

impl AuthMethods {
    pub const ALL: [AuthMethods; 3] = [
        AuthMethods::Password,
        AuthMethods::PasswordAndTotp,
        AuthMethods::PasswordAndRecoveryCode,
    ];

    pub fn level(self) -> AssuranceLevel {
        match self {
            AuthMethods::Password => AssuranceLevel::Aal1,
            AuthMethods::PasswordAndTotp | AuthMethods::PasswordAndRecoveryCode => {
                AssuranceLevel::Aal2
            }
        }
    }

    /// The `amr` claim: RFC 8176 method names.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethods::Password => &["pwd"],
            AuthMethods::PasswordAndTotp => &["pwd", "otp"],
            AuthMethods::PasswordAndRecoveryCode => &["pwd", "rc"],
        }
    }

    /// The methods an `amr` claim names, if it is one of ours.
    pub fn from_amr<S: AsRef<str>>(amr: &[S]) -> Option<Self> {
        Self::ALL.into_iter().find(|methods| {
            methods.amr().len() == amr.len()
                && methods.amr().iter().zip(amr).all(|(a, b)| *a == b.as_ref())
        })
    }

    /// The stored name (sessions keep it).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethods::Password => "pwd",
            AuthMethods::PasswordAndTotp => "pwd+otp",
            AuthMethods::PasswordAndRecoveryCode => "pwd+rc",
        }
    }
}

impl fmt::Display for AuthMethods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown authentication methods {0:?}")]
pub struct UnknownAuthMethods(pub String);

impl FromStr for AuthMethods {
    type Err = UnknownAuthMethods;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|methods| methods.as_str() == text)
            .ok_or_else(|| UnknownAuthMethods(text.to_owned()))
    }
}
