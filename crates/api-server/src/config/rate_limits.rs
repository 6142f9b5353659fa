//! The rate limit variables (`RATE_LIMITS`, `RATE_LIMIT_*`): one per row
//! of `docs/http-api.md#rate-limit-rules`, `<count>/<window>` such as `30/60s`, with the
//! defaults of `docs/configuration.md#rate-limit-variables`.

use std::time::Duration;

use application::rate_limits::{RateLimit, RateLimitConfig, ThrottlePolicy};

use super::error::{ConfigError, invalid};

/// Windows and waits are whole seconds or more, at most this.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
const MAX_COUNT: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `<count>/<window>`: `30/60s`, `10/1h`, `5/15m` (humantime units).
fn rate(raw: &str) -> Result<RateLimit, String> {
    let expected = || format!("expected <count>/<window> such as 30/60s, got {raw:?}");
    let (count, window) = raw.trim().split_once('/').ok_or_else(expected)?;
    let limit = count.trim().parse::<u32>().map_err(|_| expected())?;
    if !(1..=MAX_COUNT).contains(&limit) {
        return Err(format!("the count must be between 1 and {MAX_COUNT}"));
    }
    Ok(RateLimit::new(limit, duration(window)?))
}

/// A duration of 1 s to 30 days: `900s`, `15m`, `1h`.
fn duration(raw: &str) -> Result<Duration, String> {
    let value = humantime::parse_duration(raw.trim())
        .map_err(|error| format!("{error} in {raw:?} (a duration such as 60s, 15m or 1h)"))?;
    if value < Duration::from_secs(1) || value > MAX_DURATION {
        return Err(format!("{raw:?} is not between 1s and 30 days"));
    }
    Ok(value)
}

/// The rate limit settings, flattened into `Settings`.
#[derive(Debug, Clone, clap::Args)]
pub struct RateLimitSettings {
    /// `off` disables every rate limit (load tests)
    #[arg(long, env = "RATE_LIMITS", value_enum, default_value_t = Switch::On, global = true)]
    rate_limits: Switch,
    /// POST /login per client IP
    #[arg(long, env = "RATE_LIMIT_LOGIN_PER_IP", default_value = "30/60s", value_parser = rate, global = true)]
    rate_limit_login_per_ip: RateLimit,
    /// POST /register per client IP
    #[arg(long, env = "RATE_LIMIT_REGISTER_PER_IP", default_value = "10/60s", value_parser = rate, global = true)]
    rate_limit_register_per_ip: RateLimit,
    /// POST /password/forgot and /verify-email/resend per client IP
    #[arg(long, env = "RATE_LIMIT_EMAIL_REQUESTS_PER_IP", default_value = "5/60s", value_parser = rate, global = true)]
    rate_limit_email_requests_per_ip: RateLimit,
    /// POST /verify-email, /password/reset, /users/me/email/confirm,
    /// /email-change/undo per client IP
    #[arg(long, env = "RATE_LIMIT_SECRET_ATTEMPTS_PER_IP", default_value = "30/600s", value_parser = rate, global = true)]
    rate_limit_secret_attempts_per_ip: RateLimit,
    /// The same routes per client network (IPv4 /24, IPv6 /48)
    #[arg(long, env = "RATE_LIMIT_SECRET_ATTEMPTS_PER_NETWORK", default_value = "100/600s", value_parser = rate, global = true)]
    rate_limit_secret_attempts_per_network: RateLimit,
    /// POST /refresh per client IP
    #[arg(long, env = "RATE_LIMIT_REFRESH_PER_IP", default_value = "300/300s", value_parser = rate, global = true)]
    rate_limit_refresh_per_ip: RateLimit,
    /// Emails a stranger can trigger per recipient; the rest are dropped, never queued
    #[arg(long, env = "RATE_LIMIT_EMAILS_PER_RECIPIENT", default_value = "10/3600s", value_parser = rate, global = true)]
    rate_limit_emails_per_recipient: RateLimit,
    /// Failed logins per account and client network (IPv4 /24, IPv6 /64)
    /// or device token before that pair is throttled, and how long
    /// failures are remembered
    #[arg(long, env = "RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", default_value = "5/900s", value_parser = rate, global = true)]
    rate_limit_failed_logins_per_account: RateLimit,
    /// Failed logins per account from all networks before clients without
    /// a device token are throttled (one more try per window past it)
    #[arg(long, env = "RATE_LIMIT_FAILED_LOGINS_ACCOUNT_WIDE", default_value = "100/3600s", value_parser = rate, global = true)]
    rate_limit_failed_logins_account_wide: RateLimit,
    /// A throttled account's first wait, doubled per further failure
    #[arg(long, env = "RATE_LIMIT_ACCOUNT_THROTTLE_BASE", default_value = "1s", value_parser = duration, global = true)]
    rate_limit_account_throttle_base: Duration,
    /// The longest wait of a throttled account
    #[arg(long, env = "RATE_LIMIT_ACCOUNT_THROTTLE_MAX", default_value = "900s", value_parser = duration, global = true)]
    rate_limit_account_throttle_max: Duration,
    /// POST /users/me/email per user, whatever the answer
    #[arg(long, env = "RATE_LIMIT_EMAIL_CHANGE_PER_USER", default_value = "3/3600s", value_parser = rate, global = true)]
    rate_limit_email_change_per_user: RateLimit,
}

impl RateLimitSettings {
    /// The checked limits; `None` with `RATE_LIMITS=off`.
    pub fn load(&self) -> Result<Option<RateLimitConfig>, ConfigError> {
        if self.rate_limits == Switch::Off {
            return Ok(None);
        }
        if self.rate_limit_account_throttle_base > self.rate_limit_account_throttle_max {
            return Err(invalid(
                "RATE_LIMIT_ACCOUNT_THROTTLE_MAX",
                "is shorter than RATE_LIMIT_ACCOUNT_THROTTLE_BASE",
            ));
        }
        let failed = self.rate_limit_failed_logins_per_account;
        Ok(Some(RateLimitConfig {
            login_per_ip: self.rate_limit_login_per_ip,
            register_per_ip: self.rate_limit_register_per_ip,
            email_requests_per_ip: self.rate_limit_email_requests_per_ip,
            secret_attempts_per_ip: self.rate_limit_secret_attempts_per_ip,
            secret_attempts_per_network: self.rate_limit_secret_attempts_per_network,
            refresh_per_ip: self.rate_limit_refresh_per_ip,
            emails_per_recipient: self.rate_limit_emails_per_recipient,
            failed_logins: ThrottlePolicy {
                threshold: failed.limit,
                window: failed.period,
                base: self.rate_limit_account_throttle_base,
                max: self.rate_limit_account_throttle_max,
            },
            failed_logins_per_account: ThrottlePolicy::budget(
                self.rate_limit_failed_logins_account_wide,
            ),
            email_change_per_user: self.rate_limit_email_change_per_user,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::Config;

    const BASE: &[(&str, &str)] = &[
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auth"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        (
            "MFA_ENCRYPTION_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
    ];

    const VARIABLES: [&str; 13] = [
        "RATE_LIMITS",
        "RATE_LIMIT_LOGIN_PER_IP",
        "RATE_LIMIT_REGISTER_PER_IP",
        "RATE_LIMIT_EMAIL_REQUESTS_PER_IP",
        "RATE_LIMIT_SECRET_ATTEMPTS_PER_IP",
        "RATE_LIMIT_SECRET_ATTEMPTS_PER_NETWORK",
        "RATE_LIMIT_REFRESH_PER_IP",
        "RATE_LIMIT_EMAILS_PER_RECIPIENT",
        "RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT",
        "RATE_LIMIT_ACCOUNT_THROTTLE_BASE",
        "RATE_LIMIT_ACCOUNT_THROTTLE_MAX",
        "RATE_LIMIT_EMAIL_CHANGE_PER_USER",
        "RATE_LIMIT_FAILED_LOGINS_ACCOUNT_WIDE",
    ];

    fn load(
        extra: &[(&'static str, &'static str)],
    ) -> Result<Option<RateLimitConfig>, ConfigError> {
        let mut map: HashMap<&str, &str> = BASE.iter().copied().collect();
        map.extend(extra.iter().copied());
        Config::from_lookup(|name| map.get(name).map(|value| (*value).to_owned()))
            .map(|config| config.rate_limits)
    }

    #[test]
    fn defaults_are_the_contract_table() {
        assert_eq!(load(&[]).unwrap(), Some(RateLimitConfig::default()));
    }

    #[test]
    fn off_disables_every_limit() {
        assert_eq!(load(&[("RATE_LIMITS", "off")]).unwrap(), None);
        assert!(load(&[("RATE_LIMITS", "on")]).unwrap().is_some());
    }

    #[test]
    fn reads_every_variable() {
        let config = load(&[
            ("RATE_LIMIT_LOGIN_PER_IP", "3/1m"),
            ("RATE_LIMIT_REGISTER_PER_IP", "1/10s"),
            ("RATE_LIMIT_EMAIL_REQUESTS_PER_IP", "2/2m"),
            ("RATE_LIMIT_SECRET_ATTEMPTS_PER_IP", "40/15m"),
            ("RATE_LIMIT_SECRET_ATTEMPTS_PER_NETWORK", "200/20m"),
            ("RATE_LIMIT_REFRESH_PER_IP", "1000/1h"),
            ("RATE_LIMIT_EMAILS_PER_RECIPIENT", "3/1day"),
            ("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "10/30m"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "2s"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_MAX", "1h"),
            ("RATE_LIMIT_EMAIL_CHANGE_PER_USER", "5/2h"),
            ("RATE_LIMIT_FAILED_LOGINS_ACCOUNT_WIDE", "50/2h"),
        ])
        .unwrap()
        .unwrap();
        let per = RateLimit::per_secs;
        assert_eq!(config.login_per_ip, per(3, 60));
        assert_eq!(config.register_per_ip, per(1, 10));
        assert_eq!(config.email_requests_per_ip, per(2, 120));
        assert_eq!(config.secret_attempts_per_ip, per(40, 900));
        assert_eq!(config.secret_attempts_per_network, per(200, 1200));
        assert_eq!(config.refresh_per_ip, per(1000, 3600));
        assert_eq!(config.emails_per_recipient, per(3, 86_400));
        assert_eq!(config.email_change_per_user, per(5, 7200));
        assert_eq!(
            config.failed_logins,
            ThrottlePolicy {
                threshold: 10,
                window: Duration::from_secs(1800),
                base: Duration::from_secs(2),
                max: Duration::from_secs(3600),
            }
        );
        assert_eq!(
            config.failed_logins_per_account,
            ThrottlePolicy::budget(per(50, 7200))
        );
    }

    #[test]
    fn a_malformed_value_stops_the_start_with_one_line_naming_it() {
        let rates = [
            "30",
            "30/60",
            "0/60s",
            "30/0s",
            "30/500ms",
            "x/60s",
            "-1/60s",
            "30/forever",
            "30/31days",
            "2000000/60s",
            "",
        ];
        for name in VARIABLES[1..9].iter().chain(&VARIABLES[11..]) {
            for value in rates.iter().filter(|value| !value.is_empty()) {
                let error = load(&[(name, value)]).unwrap_err().to_string();
                assert!(error.contains(name), "{name}={value}: {error}");
                assert!(!error.contains('\n'), "one line: {error}");
            }
        }
        for (name, value) in [
            ("RATE_LIMITS", "maybe"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "0s"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "soon"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_MAX", "5/60s"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_MAX", "1000d"),
        ] {
            let error = load(&[(name, value)]).unwrap_err().to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn the_throttle_cannot_end_below_where_it_starts() {
        let error = load(&[
            ("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "10m"),
            ("RATE_LIMIT_ACCOUNT_THROTTLE_MAX", "1m"),
        ])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("RATE_LIMIT_ACCOUNT_THROTTLE_MAX is invalid"),
            "{error}"
        );
        // Off means off: the other values are not checked further.
        assert!(
            load(&[
                ("RATE_LIMITS", "off"),
                ("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "10m"),
                ("RATE_LIMIT_ACCOUNT_THROTTLE_MAX", "1m"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn env_example_lists_every_variable() {
        let example = include_str!("../../../../.env.example");
        for name in VARIABLES {
            assert!(example.contains(&format!("{name}=")), "{name}");
        }
    }
}
