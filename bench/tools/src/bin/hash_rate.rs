//! Raw Argon2id hash rate with the server's parameters, single-threaded
//! and on every core, for the benchmark harness (`bench/run.sh`).
//!
//! cargo run --release -p bench-tools --bin hash_rate -- [seconds]

use std::time::{Duration, Instant};

use application::ports::PasswordHasher;
use domain::{Password, PasswordPolicy};
use http_api::crypto::{Argon2Hasher, HasherSettings};

fn rate(threads: usize, window: Duration, stored: &domain::PasswordHash) -> f64 {
    let started = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    use argon2::password_hash::PasswordVerifier;
                    use argon2::password_hash::phc::PasswordHash;
                    let parsed = PasswordHash::new(stored.as_str()).expect("valid PHC string");
                    let mut done = 0;
                    while started.elapsed() < window {
                        let _ =
                            argon2::Argon2::default().verify_password(b"wrong password", &parsed);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    counts.iter().sum::<usize>() as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let window = Duration::from_secs(seconds);
    let hasher = Argon2Hasher::new(HasherSettings::default()).expect("hasher");
    let password =
        Password::parse("benchmark password", PasswordPolicy::default()).expect("policy");
    let stored = hasher.hash(password).await.expect("hash");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let single = rate(1, window, &stored);
    let all = rate(cores, window, &stored);
    println!("hash_rate_single={single:.1}");
    println!("hash_rate_all={all:.1}");
    println!("cores={cores}");
}
