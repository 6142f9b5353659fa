//! Puts N welcome-email jobs on the queue, as the API's outbox relay does.
//!
//! enqueue REDIS_URL PREFIX N

use std::time::Duration;

use application::ports::EmailQueue;
use application::{Email, EmailJob};
use redis_adapter::{RedisEmailQueue, RedisSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: enqueue REDIS_URL PREFIX N")?;
    let prefix = args.next().ok_or("usage: enqueue REDIS_URL PREFIX N")?;
    let n: usize = args
        .next()
        .ok_or("usage: enqueue REDIS_URL PREFIX N")?
        .parse()?;
    let pool = redis_adapter::connect(&url, &RedisSettings::default())?;
    let queue = RedisEmailQueue::new(pool, prefix, Duration::from_secs(10));
    let now = chrono::Utc::now();
    let jobs: Vec<EmailJob> = (0..n)
        .map(|i| {
            EmailJob::new(
                Email::Welcome {
                    to: format!("bench{i}@example.com"),
                    verification_link: String::new(),
                    code: String::new(),
                },
                now,
            )
        })
        .collect();
    for batch in jobs.chunks(500) {
        queue.push(batch.to_vec()).await?;
    }
    Ok(())
}
