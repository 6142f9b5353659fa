//! Load on `POST /refresh` where every connection keeps its own session and
//! presents the refresh token it was last given (a rotating client), so a
//! rotation benchmark never trips reuse detection.
//!
//! `refresh_load BASE_URL EMAIL PASSWORD CONNECTIONS SECONDS`
//! prints one JSON line: `{"rps", "p50_ms", "p99_ms", "errors", "requests"}`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    base: String,
    email: String,
    password: String,
    connections: usize,
    seconds: u64,
}

fn args() -> Result<Args, Failure> {
    let mut raw = std::env::args().skip(1);
    let mut next = |name: &str| raw.next().ok_or_else(|| format!("missing {name}"));
    Ok(Args {
        base: next("BASE_URL")?,
        email: next("EMAIL")?,
        password: next("PASSWORD")?,
        connections: next("CONNECTIONS")?.parse()?,
        seconds: next("SECONDS")?.parse()?,
    })
}

/// One client: logs in once, then refreshes until `deadline`, keeping the
/// newest refresh token. Returns each request's latency and the errors.
async fn client(
    http: reqwest::Client,
    base: String,
    credentials: Value,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize), Failure> {
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&credentials)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut refresh = login["refresh_token"]
        .as_str()
        .ok_or("no refresh token")?
        .to_owned();
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = http
            .post(format!("{base}/refresh"))
            .bearer_auth(&refresh)
            .send()
            .await?;
        let ok = response.status().is_success();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        latencies.push(started.elapsed());
        if !ok {
            errors += 1;
            continue;
        }
        if let Some(next) = body["refresh_token"].as_str() {
            next.clone_into(&mut refresh);
        }
    }
    Ok((latencies, errors))
}

fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = args()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let credentials = json!({"email": args.email, "password": args.password});
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let clients: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(client(
                http.clone(),
                args.base.clone(),
                credentials.clone(),
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for client in clients {
        let (mut own, own_errors) = client.await??;
        latencies.append(&mut own);
        errors += own_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    println!(
        "{}",
        json!({
            "rps": latencies.len() as f64 / elapsed,
            "p50_ms": percentile_ms(&latencies, 0.50),
            "p99_ms": percentile_ms(&latencies, 0.99),
            "errors": errors,
            "requests": latencies.len(),
        })
    );
    Ok(())
}
