//! Load on the two steps of a two-factor login: `POST /login` for users
//! with TOTP on (answering `mfa_required`), and `POST /login/mfa` with a
//! TOTP code or a recovery code.
//!
//! `mfa_load BASE_URL USERS CONNECTIONS SECONDS RECOVERY_CODES`
//!
//! 1. Prepares USERS users through the HTTP API only (register, login,
//!    enrol, confirm with a first code), 16 at a time.
//! 2. Phase `login`: CONNECTIONS clients send password logins for SECONDS.
//! 3. Phase `totp`: one `mfa_token` per user, then, just after a 30 s step
//!    starts, one `/login/mfa` per user with that step's code. A step is
//!    accepted once per user, so USERS requests are the whole budget of a
//!    step: the phase is that burst.
//! 4. Phase `recovery` (unless RECOVERY_CODES is 0): RECOVERY_CODES
//!    `mfa_token`s per user, then one `/login/mfa` with a recovery code
//!    each (single-use, no step limit): a longer burst.
//!
//! Prints one line per phase on stdout: `RESULT {"phase", "requests",
//! "seconds", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors"}`;
//! progress and the first error bodies go to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::{TimeStep, TotpSecret};
use serde_json::{Value, json};

type Failure = Box<dyn std::error::Error + Send + Sync>;

const PASSWORD: &str = "benchmark password";
/// Preparation requests in flight: enough to keep both hashing threads
/// busy without queueing long behind the server's hash semaphore.
const PREPARE_IN_FLIGHT: usize = 16;
/// Error bodies printed per phase: the first few say what went wrong.
const SHOWN_ERRORS: usize = 3;
/// An mfa_token lives 300 s (the contract); burst phases must fire well
/// within it.
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);

struct Args {
    base: String,
    users: usize,
    connections: usize,
    seconds: u64,
    recovery_codes: usize,
}

fn args() -> Result<Args, Failure> {
    let mut raw = std::env::args().skip(1);
    let mut next = |name: &str| raw.next().ok_or_else(|| format!("missing {name}"));
    Ok(Args {
        base: next("BASE_URL")?,
        users: next("USERS")?.parse()?,
        connections: next("CONNECTIONS")?.parse()?,
        seconds: next("SECONDS")?.parse()?,
        recovery_codes: next("RECOVERY_CODES")?.parse()?,
    })
}

/// A prepared user: its email, its TOTP secret, its recovery codes.
struct User {
    email: String,
    secret: TotpSecret,
    recovery_codes: Vec<String>,
}

/// Runs `job(i)` for every `i < count` with `in_flight` at a time, each
/// worker taking the next index, and returns the results in index order.
/// The first failure ends the run (preparation must not go on half-done).
async fn pool<T, F, Fut>(count: usize, in_flight: usize, job: F) -> Result<Vec<T>, Failure>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let workers: Vec<_> = (0..in_flight.max(1))
        .map(|_| {
            let next = Arc::clone(&next);
            let job = Arc::clone(&job);
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, Failure>(done);
                    }
                    done.push((i, job(i).await?));
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        all.append(&mut worker.await??);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, value)| value).collect())
}

/// POST `body` and expect `status`; the answer's JSON, or an error naming
/// the step and the body the server gave.
async fn post(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: &Value,
    status: u16,
    step: &str,
) -> Result<Value, Failure> {
    let mut request = http.post(url).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let got = response.status().as_u16();
    let text = response.text().await?;
    if got != status {
        return Err(format!("{step}: {got} {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

fn field(value: &Value, name: &str) -> Result<String, Failure> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} in {value}").into())
}

/// The code an authenticator app shows at `at`, by the server's own type.
fn code(secret: &TotpSecret, at: DateTime<Utc>) -> String {
    secret.code_at(TimeStep::at(at))
}

async fn prepare(http: reqwest::Client, base: Arc<str>, i: usize) -> Result<User, Failure> {
    let email = format!("mfa-{i}@example.com");
    post(
        &http,
        format!("{base}/register"),
        None,
        &json!({"username": format!("mfa{i}"), "email": email, "password": PASSWORD}),
        201,
        "register",
    )
    .await?;
    let login = post(
        &http,
        format!("{base}/login"),
        None,
        &json!({"email": email, "password": PASSWORD}),
        200,
        "login",
    )
    .await?;
    let access = field(&login, "access_token")?;
    let kit = post(
        &http,
        format!("{base}/users/me/mfa/totp"),
        Some(&access),
        &json!({}),
        201,
        "enrol",
    )
    .await?;
    let bytes = totp_rs::Secret::try_from_base32(field(&kit, "secret")?)
        .map_err(|e| format!("enrol: the secret is not base32: {e:?}"))?;
    let secret = TotpSecret::from_slice(bytes.as_bytes()).ok_or("enrol: not a 20-byte secret")?;
    let enabled = post(
        &http,
        format!("{base}/users/me/mfa/totp/verify"),
        Some(&access),
        &json!({"code": code(&secret, Utc::now())}),
        200,
        "confirm",
    )
    .await?;
    let recovery_codes = enabled["recovery_codes"]
        .as_array()
        .ok_or("confirm: no recovery_codes")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    Ok(User {
        email,
        secret,
        recovery_codes,
    })
}

/// One request's outcome: its latency, and its body when it failed.
type Outcome = (Duration, Option<String>);

/// A password login of `user`, which must answer `mfa_required`; the
/// outcome and the mfa_token.
async fn login(http: &reqwest::Client, base: &str, user: &User) -> (Outcome, Option<String>) {
    let started = Instant::now();
    let answer = async {
        let response = http
            .post(format!("{base}/login"))
            .json(&json!({"email": user.email, "password": PASSWORD}))
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok::<_, Failure>((status, text))
    }
    .await;
    let elapsed = started.elapsed();
    match answer {
        Ok((200, text)) => match serde_json::from_str::<Value>(&text) {
            Ok(body) if body["mfa_required"] == json!(true) => {
                let token = body["mfa_token"].as_str().map(str::to_owned);
                ((elapsed, None), token)
            }
            _ => (
                (elapsed, Some(format!("200 without mfa_required: {text}"))),
                None,
            ),
        },
        Ok((status, text)) => ((elapsed, Some(format!("{status} {text}"))), None),
        Err(error) => ((elapsed, Some(format!("transport: {error}"))), None),
    }
}

/// One `/login/mfa`; anything but a 200 carrying an access token is an
/// error.
async fn second_step(http: &reqwest::Client, base: &str, body: &Value) -> Outcome {
    let started = Instant::now();
    let answer = async {
        let response = http
            .post(format!("{base}/login/mfa"))
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok::<_, Failure>((status, text))
    }
    .await;
    let elapsed = started.elapsed();
    match answer {
        Ok((200, text)) if text.contains("\"access_token\"") => (elapsed, None),
        Ok((status, text)) => (elapsed, Some(format!("{status} {text}"))),
        Err(error) => (elapsed, Some(format!("transport: {error}"))),
    }
}

fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Prints the phase's RESULT line and its first error bodies.
fn report(phase: &str, outcomes: Vec<Outcome>, elapsed: Duration) {
    let mut latencies: Vec<Duration> = outcomes.iter().map(|(d, _)| *d).collect();
    latencies.sort_unstable();
    let errors: Vec<&String> = outcomes.iter().filter_map(|(_, e)| e.as_ref()).collect();
    for body in errors.iter().take(SHOWN_ERRORS) {
        eprintln!("{phase}: error: {body}");
    }
    let seconds = elapsed.as_secs_f64();
    println!(
        "RESULT {}",
        json!({
            "phase": phase,
            "requests": latencies.len(),
            "seconds": seconds,
            "rps": latencies.len() as f64 / seconds,
            "p50_ms": percentile_ms(&latencies, 0.50),
            "p90_ms": percentile_ms(&latencies, 0.90),
            "p99_ms": percentile_ms(&latencies, 0.99),
            "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            "errors": errors.len(),
        })
    );
}

/// Phase `login`: `connections` clients, each taking the next user round
/// robin, until `seconds` have passed.
async fn login_phase(
    http: &reqwest::Client,
    base: &Arc<str>,
    users: &Arc<Vec<User>>,
    connections: usize,
    seconds: u64,
) -> Result<(), Failure> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (http, base, users, next) = (
                http.clone(),
                Arc::clone(base),
                Arc::clone(users),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while Instant::now() < deadline {
                    let user = &users[next.fetch_add(1, Ordering::Relaxed) % users.len()];
                    outcomes.push(login(&http, &base, user).await.0);
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.append(&mut client.await?);
    }
    report("login", outcomes, started.elapsed());
    Ok(())
}

/// `per_user` mfa_tokens for every user, job `j` being user `j % users`
/// (so consecutive jobs are different users); hash-bound, `connections`
/// at a time.
async fn challenges(
    http: &reqwest::Client,
    base: &Arc<str>,
    users: &Arc<Vec<User>>,
    per_user: usize,
    connections: usize,
) -> Result<Vec<String>, Failure> {
    let (http, base, users) = (http.clone(), Arc::clone(base), Arc::clone(users));
    let count = users.len() * per_user;
    pool(count, connections, move |j| {
        let (http, base, users) = (http.clone(), Arc::clone(&base), Arc::clone(&users));
        async move {
            let ((_, error), token) = login(&http, &base, &users[j % users.len()]).await;
            match (token, error) {
                (Some(token), _) => Ok(token),
                (None, error) => Err(format!("mfa_token: {}", error.unwrap_or_default()).into()),
            }
        }
    })
    .await
}

/// Fires `bodies` at `/login/mfa` from `connections` clients, each taking
/// the next body, and reports them as `phase`.
async fn burst(
    http: &reqwest::Client,
    base: &Arc<str>,
    phase: &str,
    bodies: Vec<Value>,
    connections: usize,
) -> Result<Duration, Failure> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (http, base, bodies, next) = (
                http.clone(),
                Arc::clone(base),
                Arc::clone(&bodies),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return outcomes;
                    };
                    outcomes.push(second_step(&http, &base, body).await);
                }
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.append(&mut client.await?);
    }
    let elapsed = started.elapsed();
    report(phase, outcomes, elapsed);
    Ok(elapsed)
}

/// Sleeps until one second into the next 30 s step, so that every code
/// computed next is for the step the server sees when the burst arrives
/// (and it still takes them during the following step).
async fn next_step_start() -> DateTime<Utc> {
    let now = Utc::now();
    let step = TimeStep::at(now).get();
    let target = DateTime::<Utc>::from_timestamp((step + 1) * 30 + 1, 0).unwrap_or(now);
    let wait = (target - now).to_std().unwrap_or_default();
    eprintln!("totp: waiting {:.1} s for a fresh step", wait.as_secs_f64());
    tokio::time::sleep(wait).await;
    Utc::now()
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = args()?;
    if args.users == 0 || args.connections == 0 {
        return Err("USERS and CONNECTIONS must be at least 1".into());
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections.max(PREPARE_IN_FLIGHT))
        // Bounded: a stuck server ends the run instead of hanging it (the
        // server itself gives up waiting for a hash slot after 5 s).
        .timeout(Duration::from_secs(30))
        .build()?;
    let base: Arc<str> = Arc::from(args.base.trim_end_matches('/'));

    eprintln!("preparing {} users with TOTP on", args.users);
    let started = Instant::now();
    let users = {
        let (http, base) = (http.clone(), Arc::clone(&base));
        pool(args.users, PREPARE_IN_FLIGHT, move |i| {
            prepare(http.clone(), Arc::clone(&base), i)
        })
        .await?
    };
    eprintln!(
        "prepared {} users in {:.1} s",
        users.len(),
        started.elapsed().as_secs_f64()
    );
    let users = Arc::new(users);

    eprintln!("login: {} clients for {} s", args.connections, args.seconds);
    login_phase(&http, &base, &users, args.connections, args.seconds).await?;

    eprintln!("totp: one mfa_token per user");
    let tokens = challenges(&http, &base, &users, 1, args.connections).await?;
    let at = next_step_start().await;
    // Computed at once, after the wait: a few ms for HMAC-SHA1 per user.
    let bodies = users
        .iter()
        .zip(&tokens)
        .map(|(user, token)| json!({"mfa_token": token, "code": code(&user.secret, at)}))
        .collect();
    let took = burst(&http, &base, "totp", bodies, args.connections).await?;
    if took > Duration::from_secs(29) {
        eprintln!("totp: the burst took more than a step; later codes may have been refused");
    }

    let per_user = args.recovery_codes.min(
        users
            .iter()
            .map(|u| u.recovery_codes.len())
            .min()
            .unwrap_or(0),
    );
    if per_user > 0 {
        eprintln!("recovery: {per_user} mfa_tokens per user");
        let fetched = Instant::now();
        let tokens = challenges(&http, &base, &users, per_user, args.connections).await?;
        if fetched.elapsed() > CHALLENGE_LIFETIME / 2 {
            eprintln!("recovery: the first mfa_tokens are close to expiring; use fewer users");
        }
        let bodies = tokens
            .iter()
            .enumerate()
            .map(|(j, token)| {
                let user = &users[j % users.len()];
                json!({"mfa_token": token, "recovery_code": user.recovery_codes[j / users.len()]})
            })
            .collect();
        burst(&http, &base, "recovery", bodies, args.connections).await?;
    }
    Ok(())
}
