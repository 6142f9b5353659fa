//! The adapters, built from the checked configuration: the queue on
//! Redis and the mailer (Mailgun, or files in development mode).

use std::sync::Arc;

use anyhow::Context;
use application::delivery::Mailer;
use mailgun_adapter::MailgunMailer;
use redis_adapter::{EmailStreamSettings, RedisDeliveryQueue, RedisSettings};
use worker::FileMailer;

use crate::config::{MailerConfig, QueueConfig};

/// The queue under a consumer name of this process's own. A `rediss://`
/// server whose certificate does not verify stops the worker here, with
/// one line naming the variables.
pub async fn queue(config: &QueueConfig) -> anyhow::Result<RedisDeliveryQueue> {
    let redis = &config.redis;
    if let Err(error) = redis.check_tls(std::time::Duration::from_secs(2)).await {
        let variables = if redis.has_private_ca() {
            format!("{}, REDIS_CA_CERT", redis.variable())
        } else {
            format!(
                "{} (no REDIS_CA_CERT: the system's roots)",
                redis.variable()
            )
        };
        return Err(anyhow::Error::new(error).context(format!(
            "{variables}: Redis's TLS certificate does not verify"
        )));
    }
    let settings = RedisSettings {
        max_connections: config.redis_pool_size,
        ..RedisSettings::default()
    };
    let pool = redis_adapter::connect_endpoint(redis, &settings)
        .with_context(|| format!("{} is malformed", redis.variable()))?;
    let mut settings = EmailStreamSettings::new(worker::consumer_name());
    settings.visibility_timeout = config.visibility_timeout;
    settings.dead_letter_retention = config.dead_letter_retention;
    settings.dead_letter_max = config.dead_letter_max;
    Ok(RedisDeliveryQueue::new(
        pool,
        config.key_prefix.clone(),
        settings,
    ))
}

/// The Mailgun mailer, or the file mailer in development mode; logs
/// which as the worker's first line.
pub fn mailer(config: &MailerConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    match config {
        MailerConfig::Files { dir, from } => {
            tracing::warn!(
                outbox_dir = %dir,
                "development mode: MAILGUN_API_KEY is not set, so emails are written to {} instead of being sent",
                dir
            );
            Ok(Arc::new(FileMailer::new(dir, from)))
        }
        MailerConfig::Mailgun(config) => {
            let mailer =
                MailgunMailer::new(config.clone()).context("cannot set up the Mailgun client")?;
            tracing::info!(
                endpoint = mailer.endpoint(),
                "sending emails through Mailgun"
            );
            Ok(Arc::new(mailer))
        }
    }
}
