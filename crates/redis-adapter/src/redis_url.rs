//! `REDIS_URL`, checked once for every binary.

use std::fmt;
use std::str::FromStr;

/// A Redis URL that passed the checks both binaries apply: it parses, its
/// scheme is `redis` or `rediss`, and it names a host. `Debug` and
/// `Display` hide the password; [`RedisUrl::expose`] gives the raw text
/// for [`crate::connect`].
///
/// Parse it after the command-line parser, not as a clap `value_parser`:
/// clap writes a rejected value into its error message, and this one may
/// carry a password.
///
/// ```
/// use redis_adapter::RedisUrl;
///
/// let url: RedisUrl = "redis://:secret@127.0.0.1:6379/0".parse().unwrap();
/// assert_eq!(url.to_string(), "redis://:***@127.0.0.1:6379/0");
/// let error = "http://:secret@host".parse::<RedisUrl>().unwrap_err();
/// assert!(!error.to_string().contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    raw: String,
    redacted: String,
}

/// Why a Redis URL was refused. No message contains the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisUrlError {
    #[error("it is empty")]
    Empty,
    /// The URL parser's messages never include the input.
    #[error("it is not a URL")]
    Malformed(#[source] url::ParseError),
    #[error("the scheme must be redis:// or rediss://")]
    Scheme,
    #[error("it names no host")]
    NoHost,
}

impl RedisUrl {
    /// The URL as given, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

impl FromStr for RedisUrl {
    type Err = RedisUrlError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(RedisUrlError::Empty);
        }
        let mut parsed = url::Url::parse(raw).map_err(RedisUrlError::Malformed)?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(RedisUrlError::Scheme);
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(RedisUrlError::NoHost);
        }
        if parsed.password().is_some() {
            // Cannot fail: the URL has a host.
            let _ = parsed.set_password(Some("***"));
        }
        Ok(Self {
            raw: raw.to_owned(),
            redacted: parsed.to_string(),
        })
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_and_rediss_urls_with_a_host_are_accepted() {
        for raw in [
            "redis://127.0.0.1:6379",
            "rediss://cache.example.com:6380/2",
        ] {
            let url: RedisUrl = raw.parse().unwrap();
            assert_eq!(url.expose(), raw);
        }
    }

    #[test]
    fn refusals_name_the_problem_without_echoing_the_url() {
        let cases = [
            ("  ", RedisUrlError::Empty),
            ("http://:hunter2@host", RedisUrlError::Scheme),
            ("unix:///tmp/hunter2.sock", RedisUrlError::Scheme),
        ];
        for (raw, expected) in cases {
            let error = raw.parse::<RedisUrl>().unwrap_err();
            assert_eq!(error, expected);
            assert!(!error.to_string().contains("hunter2"));
        }
        let error = "redis//:hunter2@host".parse::<RedisUrl>().unwrap_err();
        assert!(matches!(error, RedisUrlError::Malformed(_)), "{error:?}");
        assert!(
            !application::ErrorChain(&error)
                .to_string()
                .contains("hunter2")
        );
    }

    #[test]
    fn a_url_without_a_host_is_refused() {
        assert_eq!(
            "redis:127.0.0.1".parse::<RedisUrl>().unwrap_err(),
            RedisUrlError::NoHost
        );
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let url: RedisUrl = "redis://user:hunter2@127.0.0.1:6379/0".parse().unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.to_string(), "redis://user:***@127.0.0.1:6379/0");
        assert!(url.expose().contains("hunter2"));
    }
}
