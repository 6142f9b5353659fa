use clap::Parser;

use super::*;
use crate::cli::Cli;

const REDIS: [&str; 2] = ["--redis-url", "redis://127.0.0.1:6379"];

fn settings(args: &[&str]) -> Settings {
    let mut argv = vec!["email-worker"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().settings
}

/// `args` after a valid `REDIS_URL`.
fn load(args: &[&str]) -> Result<Config, ConfigError> {
    let mut all = REDIS.to_vec();
    all.extend_from_slice(args);
    Config::load(&settings(&all))
}

#[test]
fn redis_url_problems_are_named_without_echoing_the_url() {
    for raw in ["redis//:secret@host", "http://:secret@host"] {
        let error = QueueConfig::load(&settings(&["--redis-url", raw])).unwrap_err();
        let error = error.to_string();
        assert!(error.starts_with("REDIS_URL is malformed"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
    let ok = QueueConfig::load(&settings(&["--redis-url", "redis://:pw@127.0.0.1:6379/0"]));
    assert_eq!(
        ok.unwrap().redis.urls()[0].expose(),
        "redis://:pw@127.0.0.1:6379/0"
    );
}

#[test]
fn a_missing_redis_url_is_named_first() {
    let error = Config::load(&settings(&[
        "--redis-url",
        " ",
        "--mailgun-api-key",
        "key-1",
    ]))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "REDIS_URL is required (e.g. redis://127.0.0.1:6379)"
    );
}

#[test]
fn an_empty_api_key_means_development_mode() {
    let config = load(&["--mailgun-api-key", "  "]).unwrap();
    assert!(matches!(config.mailer, MailerConfig::Files { .. }));
    let config = load(&[
        "--mailgun-api-key",
        "key-1",
        "--mailgun-domain",
        "mg.example",
    ])
    .unwrap();
    assert!(matches!(config.mailer, MailerConfig::Mailgun(_)));
}

#[test]
fn an_api_key_needs_a_domain() {
    let mut settings = settings(&REDIS);
    settings.mailgun_api_key = Some(SecretString::from("key-1"));
    settings.mailgun_domain = None;
    let error = Config::load(&settings).unwrap_err().to_string();
    assert_eq!(
        error,
        "MAILGUN_DOMAIN is required when MAILGUN_API_KEY is set"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    let mailgun = [
        "--mailgun-api-key",
        "key-1",
        "--mailgun-domain",
        "mg.example",
    ];
    let error =
        load(&[&mailgun[..], &["--mailgun-base-url", "ftp://mailgun"]].concat()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "MAILGUN_BASE_URL is malformed: it must be an http(s) URL"
    );
    let error = load(&[&mailgun[..], &["--mailgun-base-url", "not a url"]].concat()).unwrap_err();
    assert!(matches!(error, ConfigError::MailgunBaseUrl(_)), "{error}");
}

#[test]
fn the_mailgun_timeout_ends_before_a_takeover() {
    let config = load(&[
        "--mailgun-api-key",
        "key-1",
        "--mailgun-domain",
        "mg.example",
        "--email-visibility-timeout-secs",
        "4",
    ])
    .unwrap();
    let MailerConfig::Mailgun(mailgun) = config.mailer else {
        panic!("development mode with an API key");
    };
    assert!(mailgun.timeout <= Duration::from_secs(2), "{mailgun:?}");
    assert_eq!(config.runner.claim_interval, Duration::from_secs(1));
}

#[test]
fn the_defaults_are_the_retry_policy_defaults() {
    assert_eq!(load(&[]).unwrap().retry, RetryPolicy::default());
}

#[test]
fn the_largest_accepted_values_keep_the_policy_finite() {
    let config = load(&[
        "--email-backoff-base-ms",
        "3600000",
        "--email-backoff-max-secs",
        "86400",
        "--email-max-attempts",
        "1000",
    ])
    .unwrap();
    let policy = config.retry;
    assert_eq!(policy.backoff_ceiling(1000), Duration::from_secs(86_400));
    assert!(policy.min_total_wait() < Duration::from_secs(1000 * 86_400));
}

#[test]
fn the_runner_follows_its_variables() {
    let config = load(&[
        "--worker-concurrency",
        "3",
        "--email-visibility-timeout-secs",
        "60",
        "--email-shutdown-grace-secs",
        "7",
    ])
    .unwrap();
    assert_eq!(config.runner.concurrency, 3);
    assert_eq!(config.runner.claim_interval, Duration::from_secs(15));
    assert_eq!(config.runner.shutdown_grace, Duration::from_secs(7));
    assert_eq!(config.queue.visibility_timeout, Duration::from_secs(60));
}

#[test]
fn debug_of_the_config_hides_the_api_key_and_the_redis_password() {
    let config = Config::load(&settings(&[
        "--redis-url",
        "redis://:hunter2@127.0.0.1:6379/0",
        "--mailgun-api-key",
        "key-0123456789abcdef",
        "--mailgun-domain",
        "mg.example",
    ]))
    .unwrap();
    let debug = format!("{config:?}");
    for secret in ["hunter2", "key-0123456789abcdef"] {
        assert!(!debug.contains(secret), "{secret}: {debug}");
    }
    assert!(debug.contains("mg.example"), "{debug}");
}

#[test]
fn a_key_prefix_with_a_brace_is_refused() {
    let error = load(&["--redis-key-prefix", "a{b}:"]).unwrap_err();
    assert_eq!(error, ConfigError::RedisKeyPrefix);
    assert!(error.to_string().starts_with("REDIS_KEY_PREFIX is invalid"));
    assert_eq!(
        load(&["--redis-key-prefix", "a}b:"])
            .unwrap()
            .queue
            .key_prefix,
        "a}b:"
    );
}

#[test]
fn cluster_nodes_pool_size_and_ca_cert_are_read() {
    let queue = QueueConfig::load(&settings(&[
        "--redis-cluster-nodes",
        "127.0.0.1:7000,127.0.0.1:7001",
        "--redis-pool-size",
        "3",
    ]))
    .unwrap();
    assert!(queue.redis.is_cluster());
    assert_eq!(queue.redis_pool_size, 3);
    let error = load(&["--redis-ca-cert", "/nonexistent/ca.pem"]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("REDIS_CA_CERT is invalid: cannot read"),
        "{error}"
    );
    let error = QueueConfig::load(&settings(&["--redis-cluster-nodes", "http://x:1"])).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("REDIS_CLUSTER_NODES is malformed")
    );
}
