//! Why a configuration was refused: the message names the variable.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// A flag or variable clap itself refused (a number out of range, say);
    /// the text is clap's first line, which names the variable.
    #[error("{0}")]
    Rejected(String),
    /// Past what the calendar can hold once added to now.
    #[error("{variable}: {seconds} seconds is too long a token lifetime")]
    TokenLifetime {
        variable: &'static str,
        seconds: i64,
    },
}

pub(super) fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

impl From<clap::Error> for ConfigError {
    fn from(error: clap::Error) -> Self {
        let text = error.to_string();
        let first = text.lines().next().unwrap_or_default();
        ConfigError::Rejected(first.trim_start_matches("error: ").to_owned())
    }
}
