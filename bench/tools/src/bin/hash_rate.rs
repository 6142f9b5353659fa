//! Raw Argon2id hash rate with the server's parameters (the crate's
//! defaults: m=19456 KiB, t=2, p=1), single-threaded and on every core,
//! each thread reusing its working memory as the server's hasher does.
//!
//! cargo run --release -p bench-tools --bin hash_rate -- [seconds]

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

fn rate(threads: usize, window: Duration) -> f64 {
    let started = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let params = Params::default();
                    let mut memory = vec![Block::default(); params.block_count()];
                    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
                    let mut done = 0;
                    while started.elapsed() < window {
                        if argon
                            .hash_password_into_with_memory(
                                b"benchmark password",
                                b"sixteen byte salt",
                                &mut out,
                                &mut memory,
                            )
                            .is_ok()
                        {
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    counts.iter().sum::<usize>() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let window = Duration::from_secs(seconds);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("hash_rate_single={:.1}", rate(1, window));
    println!("hash_rate_all={:.1}", rate(cores, window));
    println!("cores={cores}");
}
