use std::collections::HashMap;

use chrono::TimeDelta;
use crypto_adapter::JwtAlgorithm;
use secrecy::ExposeSecret;

use super::*;

const BASE: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://postgres:pw@127.0.0.1:5432/auth"),
    ("REDIS_URL", "redis://127.0.0.1:6379"),
    ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    // 32 bytes of base64.
    (
        "MFA_ENCRYPTION_KEY",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ),
];

fn load(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let mut map: HashMap<&str, &str> = BASE.iter().copied().collect();
    map.extend(extra.iter().copied());
    Config::from_lookup(|name| map.get(name).map(|value| (*value).to_owned()))
}

#[test]
fn defaults_follow_the_contract() {
    let config = load(&[]).unwrap();
    assert_eq!(config.lifetimes.access, TimeDelta::seconds(300));
    assert_eq!(config.lifetimes.refresh, TimeDelta::seconds(2_592_000));
    assert_eq!(config.password_policy.min_chars(), 8);
    assert_eq!(config.host.to_string(), "127.0.0.1");
    assert_eq!(config.port, 5000);
    assert_eq!(config.redis_key_prefix, "auth:");
    assert_eq!(config.jwt.algorithm, JwtAlgorithm::Hs256);
    assert_eq!(config.jwt.issuer, "auth-service");
    assert_eq!(config.jwt.audience, "auth-service-clients");
    assert_eq!(
        config.jwt_secret.as_ref().unwrap().expose_secret().len(),
        32
    );
    assert_eq!(config.metrics_addr, None);
    assert_eq!(config.http_workers, None);
    assert!(config.trusted_proxies.is_empty());
    assert_eq!(
        config.sessions,
        SessionSettings {
            rotation: true,
            reuse_interval: TimeDelta::seconds(10),
            max_lifetime: TimeDelta::seconds(7_776_000),
            notify_new_device: true,
            max_per_user: 100,
        }
    );
    assert_eq!(
        config.revocation_cache_size,
        redis_adapter::RevocationCacheSettings::DEFAULT_CAPACITY
    );
    assert_eq!(
        config.revocation_replay.interval,
        std::time::Duration::from_secs(5)
    );
    assert_eq!(
        config.purge,
        PurgeSettings {
            interval: std::time::Duration::from_secs(3_600),
            session_retention: TimeDelta::days(30),
            secret_retention: TimeDelta::days(7),
            batch_size: 1_000,
            audit_retention: TimeDelta::days(365),
        }
    );
    assert_eq!(config.redis_wait_replicas, 0);
}

#[test]
fn the_purge_and_the_relay_are_configurable() {
    let config = load(&[
        ("PURGE_INTERVAL", "60"),
        ("SESSION_RETENTION", "0"),
        ("REDIS_WAIT_REPLICAS", "2"),
    ])
    .unwrap();
    assert_eq!(config.purge.interval, std::time::Duration::from_secs(60));
    assert_eq!(config.purge.session_retention, TimeDelta::zero());
    assert_eq!(config.redis_wait_replicas, 2);
}

#[test]
fn audit_retention_is_a_year_unless_set_within_a_day_and_a_century() {
    assert_eq!(
        load(&[]).unwrap().purge.audit_retention,
        TimeDelta::days(365)
    );
    let config = load(&[("AUDIT_RETENTION", "90d")]).unwrap();
    assert_eq!(config.purge.audit_retention, TimeDelta::days(90));
    for bad in ["12h", "36501d", "a year"] {
        let error = load(&[("AUDIT_RETENTION", bad)]).unwrap_err().to_string();
        assert!(error.contains("AUDIT_RETENTION"), "{bad}: {error}");
    }
}

#[test]
fn account_emails_are_configurable() {
    let defaults = load(&[]).unwrap().account_emails;
    assert_eq!(
        defaults,
        AccountEmailSettings {
            public_app_url: "http://127.0.0.1:5000".into(),
            verification_ttl: TimeDelta::seconds(86_400),
            password_reset_ttl: TimeDelta::seconds(3_600),
            require_verified_email: false,
        }
    );
    let config = load(&[
        ("PUBLIC_APP_URL", "https://app.example/portal/"),
        ("EMAIL_VERIFICATION_TTL", "600"),
        ("REQUIRE_VERIFIED_EMAIL", "true"),
    ])
    .unwrap()
    .account_emails;
    assert_eq!(config.public_app_url, "https://app.example/portal");
    assert_eq!(config.verification_ttl, TimeDelta::seconds(600));
    assert!(config.require_verified_email);
}

#[test]
fn public_urls_default_to_this_api_so_the_links_open_its_pages() {
    let config = load(&[]).unwrap();
    assert_eq!(
        config.account_emails.public_app_url,
        "http://127.0.0.1:5000"
    );
    assert_eq!(
        config.public_api_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );

    // A wildcard HOST is reached on the loopback address.
    let config = load(&[("HOST", "0.0.0.0"), ("PORT", "8080")]).unwrap();
    assert_eq!(
        config.account_emails.public_app_url,
        "http://127.0.0.1:8080"
    );
    assert_eq!(
        config.public_api_url.as_deref(),
        Some("http://127.0.0.1:8080")
    );
    let config = load(&[("HOST", "::"), ("PORT", "8080"), ("PUBLIC_APP_URL", " ")]).unwrap();
    assert_eq!(config.account_emails.public_app_url, "http://[::1]:8080");
    let config = load(&[("HOST", "10.1.2.3"), ("PORT", "80")]).unwrap();
    // The scheme's own port is left out.
    assert_eq!(config.account_emails.public_app_url, "http://10.1.2.3");

    // PORT=0: the port the server got, once bound; set URLs stay.
    let config = load(&[("PORT", "0")]).unwrap().with_bound_port(41234);
    assert_eq!(
        config.account_emails.public_app_url,
        "http://127.0.0.1:41234"
    );
    assert_eq!(
        config.public_api_url.as_deref(),
        Some("http://127.0.0.1:41234")
    );
    let config = load(&[
        ("PORT", "0"),
        ("PUBLIC_APP_URL", "https://app.example"),
        ("PUBLIC_API_URL", "https://auth.example/"),
    ])
    .unwrap()
    .with_bound_port(41234);
    assert_eq!(config.account_emails.public_app_url, "https://app.example");
    assert_eq!(
        config.public_api_url.as_deref(),
        Some("https://auth.example")
    );
}

#[test]
fn session_behaviour_is_configurable() {
    let config = load(&[
        ("REFRESH_TOKEN_ROTATION", "false"),
        ("REFRESH_REUSE_INTERVAL", "0"),
        ("SESSION_MAX_LIFETIME", "3600"),
        ("NOTIFY_NEW_DEVICE_LOGIN", "off"),
        ("MAX_SESSIONS_PER_USER", "3"),
    ])
    .unwrap();
    assert_eq!(
        config.sessions,
        SessionSettings {
            rotation: false,
            reuse_interval: TimeDelta::zero(),
            max_lifetime: TimeDelta::seconds(3600),
            notify_new_device: false,
            max_per_user: 3,
        }
    );
}

#[test]
fn names_each_missing_variable() {
    for name in ["DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY"] {
        let map: HashMap<&str, &str> = BASE.iter().copied().filter(|(k, _)| *k != name).collect();
        let error = Config::from_lookup(|var| map.get(var).map(|v| (*v).to_owned())).unwrap_err();
        assert_eq!(error, ConfigError::Missing(name));
    }
}

#[test]
fn a_key_prefix_with_a_brace_is_refused() {
    let line = load(&[("REDIS_KEY_PREFIX", "app{1}:")])
        .unwrap_err()
        .to_string();
    assert_eq!(line, "REDIS_KEY_PREFIX is invalid: it must not contain '{'");
    assert_eq!(
        load(&[("REDIS_KEY_PREFIX", "app:")])
            .unwrap()
            .redis_key_prefix,
        "app:"
    );
}

#[test]
fn an_empty_value_counts_as_unset() {
    assert_eq!(
        load(&[("JWT_SECRET_KEY", "")]).unwrap_err(),
        ConfigError::Missing("JWT_SECRET_KEY")
    );
    assert_eq!(load(&[("PORT", "")]).unwrap().port, 5000);
}

#[test]
fn refuses_a_short_secret_without_printing_it() {
    let line = load(&[("JWT_SECRET_KEY", "short-secret")])
        .unwrap_err()
        .to_string();
    assert!(line.starts_with("JWT_SECRET_KEY is invalid"), "{line}");
    assert!(!line.contains("short-secret"));
}

#[test]
fn refuses_a_key_of_fewer_than_ten_distinct_characters_without_printing_it() {
    for key in ["k".repeat(64), "ab".repeat(32), "012345678".repeat(8)] {
        let key: &'static str = Box::leak(key.into_boxed_str());
        let line = load(&[("JWT_SECRET_KEY", key)]).unwrap_err().to_string();
        assert!(line.starts_with("JWT_SECRET_KEY is invalid"), "{line}");
        assert!(line.contains("10 distinct characters"), "{line}");
        assert!(!line.contains(key), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
    // Ten distinct characters are enough.
    assert!(load(&[("JWT_SECRET_KEY", "0123456789".repeat(4).leak())]).is_ok());
}

#[test]
fn the_key_must_be_as_long_as_the_hash_output() {
    let key48 = "0123456789abcdef".repeat(3);
    let key48: &'static str = Box::leak(key48.into_boxed_str());
    for (algorithm, ok_key, short_key) in [
        (
            "HS384",
            key48,
            "0123456789abcdef0123456789abcdef0123456789abcde",
        ),
        (
            "HS512",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            key48,
        ),
    ] {
        let error =
            load(&[("JWT_ALGORITHM", algorithm), ("JWT_SECRET_KEY", short_key)]).unwrap_err();
        assert!(
            error.to_string().starts_with("JWT_SECRET_KEY is invalid"),
            "{error}"
        );
        assert!(load(&[("JWT_ALGORITHM", algorithm), ("JWT_SECRET_KEY", ok_key)]).is_ok());
    }
}

#[test]
fn refuses_the_sample_key_of_env_example() {
    let example = include_str!("../../../../.env.example");
    assert!(
        example.contains(&format!("JWT_SECRET_KEY={SAMPLE_JWT_SECRET_KEY}")),
        ".env.example ships the key this check refuses"
    );
    let line = load(&[("JWT_SECRET_KEY", SAMPLE_JWT_SECRET_KEY)])
        .unwrap_err()
        .to_string();
    assert!(line.starts_with("JWT_SECRET_KEY is invalid"), "{line}");
    assert!(!line.contains(SAMPLE_JWT_SECRET_KEY));
}

#[test]
fn env_example_signs_with_es256_under_a_sample_sealing_key_that_is_refused() {
    let example = include_str!("../../../../.env.example");
    assert!(example.contains("\nJWT_ALGORITHM=ES256\n"), "{example}");
    assert!(
        example.contains(&format!(
            "SIGNING_KEYS_ENCRYPTION_KEY={SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY}"
        )),
        ".env.example ships the sealing key this check refuses"
    );
    let line = load(&[
        ("JWT_ALGORITHM", "ES256"),
        (
            "SIGNING_KEYS_ENCRYPTION_KEY",
            SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY,
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        line.starts_with("SIGNING_KEYS_ENCRYPTION_KEY is invalid: is the public sample"),
        "{line}"
    );
    assert!(!line.contains(SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY));
}

#[test]
fn refuses_malformed_urls_without_printing_them() {
    let error = load(&[("DATABASE_URL", "postgres//user:hunter2@x")]).unwrap_err();
    assert!(error.to_string().starts_with("DATABASE_URL is invalid"));
    assert!(!error.to_string().contains("hunter2"));
    let error = load(&[("REDIS_URL", "http://127.0.0.1:6379")]).unwrap_err();
    assert!(error.to_string().starts_with("REDIS_URL is invalid"));
}

#[test]
fn debug_hides_the_database_password() {
    let config = load(&[]).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains(":pw@"), "{debug}");
    assert!(debug.contains("127.0.0.1:5432/auth"), "{debug}");
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
}

#[test]
fn debug_of_the_database_config_hides_the_password() {
    let map: HashMap<&str, &str> = BASE.iter().copied().collect();
    let settings =
        Settings::from_lookup(|name| map.get(name).map(|value| (*value).to_owned())).unwrap();
    let debug = format!("{:?}", DatabaseConfig::load(&settings).unwrap());
    assert!(!debug.contains(":pw@"), "{debug}");
    assert!(
        debug.contains("postgres:********@127.0.0.1:5432/auth"),
        "{debug}"
    );
}

#[test]
fn debug_of_the_config_hides_the_redis_password() {
    let config = load(&[("REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0")]).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("127.0.0.1:6379"), "{debug}");
}

#[test]
fn debug_of_the_settings_hides_every_secret() {
    let map: HashMap<&str, &str> = BASE
        .iter()
        .copied()
        .chain([("REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0")])
        .collect();
    let settings =
        Settings::from_lookup(|name| map.get(name).map(|value| (*value).to_owned())).unwrap();
    let debug = format!("{settings:?}");
    for secret in ["0123456789abcdef", ":pw@", "hunter2"] {
        assert!(!debug.contains(secret), "{secret}: {debug}");
    }
    // The rest is still there to read.
    assert!(debug.contains("redis_key_prefix: \"auth:\""), "{debug}");
}

#[test]
fn refuses_bad_numbers_naming_the_variable() {
    for (name, value) in [
        ("PORT", "70000"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "-1"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "0"),
        ("JWT_REFRESH_TOKEN_EXPIRES", "soon"),
        ("JWT_REFRESH_TOKEN_EXPIRES", "18446744073709551615"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "315360001"),
        ("PASSWORD_MIN_LENGTH", "0"),
        ("PASSWORD_MIN_LENGTH", "129"),
        ("HTTP_WORKERS", "0"),
        ("HOST", "localhost:5000"),
        ("METRICS_ADDR", "nowhere"),
        ("JWT_ALGORITHM", "none"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
        ("REFRESH_TOKEN_ROTATION", "maybe"),
        ("REFRESH_REUSE_INTERVAL", "-1"),
        ("REFRESH_REUSE_INTERVAL", "3601"),
        ("SESSION_MAX_LIFETIME", "0"),
        ("SESSION_MAX_LIFETIME", "315360001"),
        ("NOTIFY_NEW_DEVICE_LOGIN", "2"),
        ("PUBLIC_APP_URL", "ftp://app.example"),
        ("PUBLIC_APP_URL", "not a url"),
        ("PUBLIC_APP_URL", "https://app.example/?next=1"),
        ("EMAIL_VERIFICATION_TTL", "59"),
        ("REQUIRE_VERIFIED_EMAIL", "yes please"),
        ("PURGE_INTERVAL", "0"),
        ("PURGE_INTERVAL", "604801"),
        ("PURGE_INTERVAL", "hourly"),
        ("SESSION_RETENTION", "-1"),
        ("SESSION_RETENTION", "315360001"),
        ("MAX_SESSIONS_PER_USER", "0"),
        ("MAX_SESSIONS_PER_USER", "10001"),
        ("REDIS_WAIT_REPLICAS", "-1"),
        ("REDIS_WAIT_REPLICAS", "65"),
    ] {
        let error = load(&[(name, value)]).unwrap_err();
        let line = error.to_string();
        assert!(line.contains(name), "{name}={value}: {line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}

#[test]
fn issuer_and_audience_are_configurable() {
    let config = load(&[
        ("JWT_ISSUER", "https://auth.example.com"),
        ("JWT_AUDIENCE", "api"),
    ])
    .unwrap();
    assert_eq!(config.jwt.issuer, "https://auth.example.com");
    assert_eq!(config.jwt.audience, "api");
    // Authenticator apps show the issuer's host: a label has no colon.
    assert_eq!(config.second_factor.issuer, "auth.example.com");
}

#[test]
fn reads_the_optional_listeners() {
    let config = load(&[
        ("METRICS_ADDR", "127.0.0.1:9000"),
        ("HTTP_WORKERS", "3"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1"),
    ])
    .unwrap();
    assert!(config.trusted_proxies.contains("10.2.3.4".parse().unwrap()));
    assert!(config.cors_allowed_origins.is_empty(), "none unless listed");
    assert_eq!(config.metrics_addr, Some("127.0.0.1:9000".parse().unwrap()));
    assert_eq!(config.http_workers, Some(3));
}

#[test]
fn redis_cluster_nodes_replace_redis_url() {
    let config = load(&[("REDIS_CLUSTER_NODES", "10.0.0.1:7000, 10.0.0.2:7001")]).unwrap();
    assert!(config.redis.is_cluster());
    assert_eq!(
        config.redis.to_string(),
        "redis://10.0.0.1:7000,redis://10.0.0.2:7001"
    );
    assert!(!load(&[]).unwrap().redis.is_cluster());
    let line = load(&[("REDIS_CLUSTER_NODES", "a:1,http://:hunter2@b:2")])
        .unwrap_err()
        .to_string();
    assert!(
        line.starts_with("REDIS_CLUSTER_NODES is invalid: node 2"),
        "{line}"
    );
    assert!(!line.contains("hunter2"));
}

#[test]
fn redis_pool_size_and_ca_cert_are_checked() {
    assert_eq!(load(&[]).unwrap().redis_pool_size, 32);
    assert_eq!(
        load(&[("REDIS_POOL_SIZE", "4")]).unwrap().redis_pool_size,
        4
    );
    let line = load(&[("REDIS_POOL_SIZE", "0")]).unwrap_err().to_string();
    assert!(line.contains("REDIS_POOL_SIZE"), "{line}");
    let line = load(&[("REDIS_CA_CERT", "/nonexistent/ca.pem")])
        .unwrap_err()
        .to_string();
    assert!(
        line.starts_with("REDIS_CA_CERT is invalid: cannot read"),
        "{line}"
    );
    let file = std::env::temp_dir().join(format!("not-a-ca-{}.pem", std::process::id()));
    std::fs::write(&file, "no certificate here").unwrap();
    let path: &'static str = file.to_str().unwrap().to_owned().leak();
    let line = load(&[("REDIS_CA_CERT", path)]).unwrap_err().to_string();
    std::fs::remove_file(&file).unwrap();
    assert!(line.starts_with("REDIS_CA_CERT is invalid"), "{line}");
    assert!(line.contains("no certificate"), "{line}");
}

#[test]
fn database_pool_settings_default_and_parse() {
    let config = load(&[]).unwrap();
    assert_eq!(config.pg.max_connections, 16);
    assert_eq!(config.pg.pooler, postgres_adapter::Pooler::Session);

    let settings = Settings::from_lookup(|name| {
        let value = match name {
            "DATABASE_URL" => "postgres://u:pw@pgbouncer:6432/auth",
            "DATABASE_MIGRATION_URL" => "postgres://u:pw@db:5432/auth",
            "DATABASE_POOLER" => "transaction",
            "DATABASE_POOL_SIZE" => "4",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap();
    let database = DatabaseConfig::load(&settings).unwrap();
    assert_eq!(database.pg.max_connections, 4);
    assert_eq!(database.pg.pooler, postgres_adapter::Pooler::Transaction);
    assert_eq!(&**database.migration_url(), "postgres://u:pw@db:5432/auth");
    let debug = format!("{database:?}");
    assert!(!debug.contains("pw@"), "{debug}");
}

#[test]
fn database_settings_are_refused_naming_the_variable() {
    for (name, value) in [
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_POOLER", "statement"),
        ("DATABASE_MIGRATION_URL", "mysql://u:hunter2@db/auth"),
    ] {
        let error = load(&[(name, value)]).unwrap_err().to_string();
        assert!(error.contains(name), "{name}: {error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}

#[test]
fn database_tls_parameters_are_checked_at_start() {
    for (url, says) in [
        (
            "postgres://u:hunter2@db/auth?sslmode=verify-full",
            "need sslrootcert",
        ),
        (
            "postgres://u:hunter2@db/auth?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "/nonexistent/ca.pem",
        ),
        ("postgres://u:hunter2@db/auth?sslmode=sometimes", "sslmode"),
    ] {
        let error = load(&[("DATABASE_URL", url)]).unwrap_err().to_string();
        assert!(error.starts_with("DATABASE_URL is invalid"), "{error}");
        assert!(error.contains(says), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
    // libpq's `require` without a root certificate: nothing to read.
    assert!(load(&[("DATABASE_URL", "postgres://u@db/auth?sslmode=require")]).is_ok());
}

#[test]
fn the_second_factor_needs_its_sealing_key_and_refuses_bad_ones_by_name() {
    let missing = Config::from_lookup(|name| {
        BASE.iter()
            .find(|(key, _)| *key == name && name != "MFA_ENCRYPTION_KEY")
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(missing.contains("MFA_ENCRYPTION_KEY"), "{missing}");
    for (vars, named) in [
        (
            vec![("MFA_ENCRYPTION_KEY", SAMPLE_MFA_ENCRYPTION_KEY)],
            "MFA_ENCRYPTION_KEY is invalid: is the public sample",
        ),
        (
            vec![("MFA_ENCRYPTION_KEY", "c2hvcnQ=")],
            "MFA_ENCRYPTION_KEY is invalid",
        ),
        (
            vec![("MFA_ENCRYPTION_KEY_PREVIOUS", "not base64!")],
            "MFA_ENCRYPTION_KEY_PREVIOUS is invalid",
        ),
        (vec![("MFA_ISSUER", "Acme: Auth")], "MFA_ISSUER is invalid"),
    ] {
        let error = load(&vars).unwrap_err().to_string();
        assert!(error.starts_with(named), "{error}");
        assert!(!error.contains("c2hvcnQ") && !error.contains(SAMPLE_MFA_ENCRYPTION_KEY));
    }
    let example = include_str!("../../../../.env.example");
    assert!(
        example.contains(&format!("MFA_ENCRYPTION_KEY={SAMPLE_MFA_ENCRYPTION_KEY}")),
        ".env.example ships the sealing key this check refuses"
    );
    let config = load(&[("MFA_ISSUER", "Acme Auth")]).unwrap();
    assert_eq!(config.second_factor.issuer, "Acme Auth");
    // By default apps show the token issuer.
    assert_eq!(load(&[]).unwrap().second_factor.issuer, "auth-service");
}

#[test]
fn cors_origins_are_exact_and_a_wildcard_is_refused_naming_the_variable() {
    let config = load(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com, http://localhost:3000",
    )])
    .unwrap();
    assert_eq!(
        config.cors_allowed_origins.iter().collect::<Vec<_>>(),
        ["https://app.example.com", "http://localhost:3000"]
    );
    let line = load(&[("CORS_ALLOWED_ORIGINS", "https://a.example, *")])
        .unwrap_err()
        .to_string();
    assert!(line.contains("CORS_ALLOWED_ORIGINS"), "{line}");
    assert!(line.contains("`*` is refused"), "{line}");
}
