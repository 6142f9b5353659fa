use std::sync::Once;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How log lines are written to stderr (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` filters (default `info`),
/// and a line is written when a span closes, so each HTTP request leaves
/// one line carrying its fields and latency. Use-case and adapter spans
/// are at `debug`: free and silent by default, each with its own timing
/// line under `RUST_LOG=debug`. Call once, first thing.
pub fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(colours(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").is_some(),
        ))
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    if let Err(error) = installed {
        eprintln!("warning: logs not set up: {error}");
    }
}

/// Colour codes only for a person at a terminal: a log redirected to a
/// file or a collector gets plain text, and `NO_COLOR` (no-color.org)
/// turns them off everywhere.
fn colours(stderr_is_terminal: bool, no_color: bool) -> bool {
    stderr_is_terminal && !no_color
}

/// Logs in tests, only when `TEST_LOG` is set (`TEST_LOG=1 cargo test`):
/// quiet by default, everything at hand when a test fails. Safe to call
/// from every test; the first call wins.
pub fn init_test_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter =
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
            // The test harness captures output written through its writer.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn colours_only_at_a_terminal_and_never_with_no_color() {
        assert!(colours(true, false));
        assert!(!colours(false, false), "redirected to a file");
        assert!(!colours(true, true), "NO_COLOR");
        assert!(!colours(false, true));
    }

    #[test]
    fn formats_parse_case_insensitively() {
        assert_eq!(LogFormat::from_str("json", true), Ok(LogFormat::Json));
        assert_eq!(LogFormat::from_str("TEXT", true), Ok(LogFormat::Text));
        assert!(LogFormat::from_str("xml", true).is_err());
    }
}
