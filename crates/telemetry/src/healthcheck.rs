use std::net::SocketAddr;
use std::time::Duration;

/// How long a `healthcheck` command waits for the answer.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{url} did not answer")]
    NoAnswer {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    NotReady {
        url: String,
        status: reqwest::StatusCode,
    },
}

/// `http://<address><path>`, where a listener on every interface
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn loopback_url(address: SocketAddr, path: &str) -> String {
    let host = match address {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => "127.0.0.1".to_owned(),
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => "[::1]".to_owned(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    format!("http://{host}:{}{path}", address.port())
}

/// `Ok` when `url` answers a 2xx within two seconds: what a container
/// health check runs.
pub async fn healthcheck(url: &str) -> Result<(), HealthcheckError> {
    let no_answer = |source| HealthcheckError::NoAnswer {
        url: url.to_owned(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(no_answer)?;
    let status = client.get(url).send().await.map_err(no_answer)?.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(HealthcheckError::NotReady {
            url: url.to_owned(),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        let url = |raw: &str| loopback_url(raw.parse().unwrap(), "/health/ready");
        assert_eq!(url("0.0.0.0:5000"), "http://127.0.0.1:5000/health/ready");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80/health/ready");
        assert_eq!(url("[::]:9100"), "http://[::1]:9100/health/ready");
    }

    #[tokio::test]
    async fn a_closed_port_is_no_answer() {
        let error = healthcheck("http://127.0.0.1:1/health/ready")
            .await
            .unwrap_err();
        assert!(
            matches!(error, HealthcheckError::NoAnswer { .. }),
            "{error}"
        );
    }
}
