//! Brute-force protection of accounts that nobody can turn against their
//! owner. Failed password checks are counted per pair (account, client):
//! - a client that sends back a device token an earlier login of the
//!   account handed out is counted on its own, and only there;
//! - any other client is counted per network (IPv4 /24, IPv6 /64), and
//!   also against an account-wide budget (by default 100 failures an hour
//!   from all networks) that only such clients are held to.
//!
//! After `threshold` failures of a pair it waits, exponentially, never
//! locked for good; whether or not the account exists, the same rules
//! apply. The account's part of every counter name carries its session
//! epoch, which a password reset moves on: a reset starts every count of
//! the account afresh without finding and deleting them.
//!
//! Around every password check ([`super::Authentication::login`],
//! [`super::PasswordChange`]):
//!
//! ```ignore
//! let attempt = login_attempts.begin(subject).await?;      // 429 while throttled
//! let result = check_the_password().await;
//! attempt.record(outcome_of(&result)).await;
//! ```

use std::sync::Arc;

use domain::DeviceToken;

use crate::error::LoginError;
use crate::error_chain::ErrorChain;
use crate::ports::{AttemptDecision, RateLimiter, SessionEpoch};
use crate::rate_limits::{RateLimited, Rule, ThrottlePolicy, email_subject};

/// The two throttles of failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottles {
    /// Per (account, network) and per (account, device token).
    pub per_client: ThrottlePolicy,
    /// Per account, for clients without a device token.
    pub per_account: ThrottlePolicy,
}

/// Throttles accounts after failed password checks.
#[derive(Clone)]
pub struct LoginAttempts {
    /// `None`: rate limits are off.
    guard: Option<(Arc<dyn RateLimiter>, LoginThrottles)>,
}

/// Where a password check comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptClient {
    /// A device token of this account, recognised by the store.
    /// Named by the token's digest.
    KnownDevice([u8; 32]),
    /// Anyone else, by network (`None`: the address is unknown).
    Network(Option<String>),
}

/// Whose failures a password check counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptSubject {
    /// The account's counter name: its address's normal form (as typed,
    /// when it is no address), and the epoch when the account exists.
    account: String,
    client: AttemptClient,
}

impl AttemptSubject {
    /// `email` as typed; `epoch` of the account when it exists.
    pub fn new(email: &str, epoch: Option<SessionEpoch>, client: AttemptClient) -> Self {
        let address = email_subject(email);
        let account = match epoch {
            Some(SessionEpoch(epoch)) => format!("{address}#{epoch}"),
            None => address,
        };
        Self { account, client }
    }

    /// The counter of this client's failures against the account.
    fn pair(&self) -> String {
        match &self.client {
            AttemptClient::KnownDevice(digest) => {
                format!(
                    "{}|device:{}",
                    self.account,
                    DeviceToken::counter_name_of(digest)
                )
            }
            AttemptClient::Network(Some(network)) => format!("{}|net:{network}", self.account),
            AttemptClient::Network(None) => format!("{}|net:unknown", self.account),
        }
    }

    /// The account-wide counter, or `None` for a known device.
    fn account_wide(&self) -> Option<String> {
        match self.client {
            AttemptClient::KnownDevice(_) => None,
            AttemptClient::Network(_) => Some(format!("{}|all", self.account)),
        }
    }
}

/// How a password check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The password was right: the client's failures are forgotten.
    Succeeded,
    /// The password was wrong (or the account unknown): one failure.
    Failed,
    /// No password was judged (a dependency failed): not counted.
    Inconclusive,
}

impl AttemptOutcome {
    /// What a login's result says about the password.
    pub fn of_login<T>(result: &Result<T, LoginError>) -> Self {
        match result {
            // An unverified account's right password is still right.
            // So is a banned account's: the guess was right, and the ban
            // answers it.
            Ok(_) | Err(LoginError::EmailNotVerified | LoginError::Banned) => {
                AttemptOutcome::Succeeded
            }
            Err(LoginError::InvalidCredentials) => AttemptOutcome::Failed,
            Err(LoginError::Dependency(_) | LoginError::Throttled(_)) => {
                AttemptOutcome::Inconclusive
            }
        }
    }
}

/// A password check under way. It counts as a failure from the start (so
/// parallel guesses cannot all pass before the first one fails) until
/// [`Attempt::record`] says otherwise; dropped unrecorded, it stays one.
#[must_use = "record the outcome, or the attempt counts as a failure"]
pub struct Attempt<'a> {
    attempts: &'a LoginAttempts,
    /// The client's counter, when the attempt was counted there.
    pair: Option<String>,
    /// The account-wide counter, when the attempt was counted there.
    account_wide: Option<String>,
}

impl LoginAttempts {
    pub fn new(limiter: Arc<dyn RateLimiter>, throttles: LoginThrottles) -> Self {
        Self {
            guard: Some((limiter, throttles)),
        }
    }

    /// No throttling at all (`RATE_LIMITS=off`).
    pub fn off() -> Self {
        Self { guard: None }
    }

    /// Before checking a password: refused while the client's pair (or,
    /// for a client without a device token, the whole account) is
    /// throttled, else counted.
    #[tracing::instrument(level = "debug", name = "login_attempts.begin", skip_all)]
    pub async fn begin(&self, subject: AttemptSubject) -> Result<Attempt<'_>, RateLimited> {
        let Some((limiter, throttles)) = &self.guard else {
            return Ok(self.uncounted());
        };
        let mut attempt = self.uncounted();
        if let Some(account_wide) = subject.account_wide() {
            match limiter
                .begin_attempt(&account_wide, throttles.per_account)
                .await
            {
                Ok(AttemptDecision::Allowed) => attempt.account_wide = Some(account_wide),
                Ok(AttemptDecision::Throttled { retry_after }) => {
                    return Err(RateLimited {
                        rule: Rule::FailedLoginsPerAccount,
                        quota: throttles.per_account.as_quota(),
                        retry_after,
                    });
                }
                Err(error) => uncountable(&error),
            }
        }
        let pair = subject.pair();
        match limiter.begin_attempt(&pair, throttles.per_client).await {
            Ok(AttemptDecision::Allowed) => attempt.pair = Some(pair),
            Ok(AttemptDecision::Throttled { retry_after }) => {
                // Refused before any password check: not a failure of the
                // account as a whole either.
                attempt.record(AttemptOutcome::Inconclusive).await;
                return Err(RateLimited {
                    rule: Rule::FailedLogins,
                    quota: throttles.per_client.as_quota(),
                    retry_after,
                });
            }
            Err(error) => uncountable(&error),
        }
        Ok(attempt)
    }

    fn uncounted(&self) -> Attempt<'_> {
        Attempt {
            attempts: self,
            pair: None,
            account_wide: None,
        }
    }
}

/// Only a limiter without a fallback fails; a login that nothing could
/// count is let through rather than refused.
fn uncountable(error: &crate::ports::RateLimitError) {
    tracing::error!(
        error.chain = %ErrorChain(error),
        "failed logins cannot be counted"
    );
}

impl Attempt<'_> {
    /// Settles the attempt: a success clears the client's failures (and
    /// takes back its count on the account, which only failures fill); an
    /// inconclusive check takes every count back.
    #[tracing::instrument(level = "debug", name = "login_attempts.record", skip(self))]
    pub async fn record(self, outcome: AttemptOutcome) {
        let Some((limiter, _)) = &self.attempts.guard else {
            return;
        };
        if outcome == AttemptOutcome::Failed {
            return;
        }
        if let Some(pair) = &self.pair {
            let settled = match outcome {
                AttemptOutcome::Succeeded => limiter.clear_failures(pair).await,
                _ => limiter.forgive_attempt(pair).await,
            };
            if let Err(error) = settled {
                unsettled(&error, outcome);
            }
        }
        if let Some(account_wide) = &self.account_wide
            && let Err(error) = limiter.forgive_attempt(account_wide).await
        {
            unsettled(&error, outcome);
        }
    }
}

fn unsettled(error: &crate::ports::RateLimitError, outcome: AttemptOutcome) {
    tracing::warn!(
        error.chain = %ErrorChain(error),
        ?outcome,
        "could not settle a login attempt"
    );
}

#[cfg(test)]
mod tests;
