//! The adapters, built from the checked configuration: the queue on
//! Redis and the mailer (Mailgun, or files in development mode).

use std::sync::Arc;

use anyhow::Context;
use application::delivery::Mailer;
use mailgun_adapter::MailgunMailer;
use redis_adapter::{EmailStreamSettings, RedisDeliveryQueue, RedisSettings};
use worker::FileMailer;

use crate::config::{MailerConfig, QueueConfig};

/// The queue under a consumer name of this process's own.
pub fn queue(config: &QueueConfig) -> anyhow::Result<RedisDeliveryQueue> {
    let pool = redis_adapter::connect(config.redis_url.expose(), &RedisSettings::default())
        .context("REDIS_URL is malformed")?;
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
