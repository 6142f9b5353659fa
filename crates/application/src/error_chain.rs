//! The one way an error is written into a log line or a stored reason: the
//! error and each of its sources, `outer: cause: root cause`.
//!
//! Log it as `error.chain = %ErrorChain(&error)`. A `&dyn Error` field
//! shows only its top message in JSON logs (`LOG_FORMAT=json`), so the
//! cause that explains the failure would be lost.

use std::error::Error;
use std::fmt;

pub struct ErrorChain<'a>(pub &'a dyn Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("login failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("the user store is unavailable")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn shows_every_cause_in_order() {
        let error = Outer(Middle(std::io::Error::other("connection refused")));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "login failed: the user store is unavailable: connection refused"
        );
        assert_eq!(
            ErrorChain(&std::io::Error::other("alone")).to_string(),
            "alone"
        );
    }
}
