//! Where Redis is: one server (`REDIS_URL`) or a Redis Cluster
//! (`REDIS_CLUSTER_NODES`), and the private CA its TLS certificates are
//! checked against (`REDIS_CA_CERT`), if any.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::TlsCertificates;
use tokio::net::TcpStream;

use crate::redis_url::{RedisUrl, RedisUrlError};
use crate::tls::{self, TlsError, client_config, server_name};

/// Where Redis is and how its certificates are checked. `Debug` and
/// `Display` hide passwords.
#[derive(Clone)]
pub struct RedisEndpoint {
    target: Target,
    /// PEM: the CA that signs the servers' certificates, instead of the
    /// system's roots.
    ca_cert: Option<Arc<[u8]>>,
}

#[derive(Clone)]
enum Target {
    Single(RedisUrl),
    /// The nodes the client first asks for the cluster's layout; it finds
    /// the others itself.
    Cluster(Vec<RedisUrl>),
}

/// Why `REDIS_CLUSTER_NODES` was refused. No message contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterNodesError {
    #[error("it names no node")]
    Empty,
    /// The reason is in the message: it is this error's whole story.
    #[error("node {position}: {reason}")]
    Node {
        position: usize,
        reason: RedisUrlError,
    },
}

impl RedisEndpoint {
    pub fn single(url: RedisUrl) -> Self {
        Self {
            target: Target::Single(url),
            ca_cert: None,
        }
    }

    pub fn cluster(nodes: Vec<RedisUrl>) -> Self {
        Self {
            target: Target::Cluster(nodes),
            ca_cert: None,
        }
    }

    /// `host:port,host:port,...`; an entry may also be a whole
    /// `redis://` or `rediss://` URL (for a password or TLS).
    pub fn parse_cluster_nodes(raw: &str) -> Result<Vec<RedisUrl>, ClusterNodesError> {
        let nodes = raw
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .enumerate()
            .map(|(index, node)| {
                let url = if node.contains("://") {
                    node.to_owned()
                } else {
                    format!("redis://{node}")
                };
                url.parse().map_err(|reason| ClusterNodesError::Node {
                    position: index + 1,
                    reason,
                })
            })
            .collect::<Result<Vec<RedisUrl>, _>>()?;
        if nodes.is_empty() {
            return Err(ClusterNodesError::Empty);
        }
        Ok(nodes)
    }

    /// Checks TLS certificates against this CA (PEM) instead of the
    /// system's roots. Refused unless it holds at least one certificate.
    pub fn with_ca_cert(mut self, pem: Vec<u8>) -> Result<Self, TlsError> {
        tls::root_store(Some(&pem))?;
        self.ca_cert = Some(pem.into());
        Ok(self)
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// Every URL: the server's, or the cluster's seed nodes.
    pub fn urls(&self) -> &[RedisUrl] {
        match &self.target {
            Target::Single(url) => std::slice::from_ref(url),
            Target::Cluster(nodes) => nodes,
        }
    }

    /// The variable that names this endpoint, for messages.
    pub fn variable(&self) -> &'static str {
        match self.target {
            Target::Single(_) => "REDIS_URL",
            Target::Cluster(_) => "REDIS_CLUSTER_NODES",
        }
    }

    /// Whether certificates are checked against `REDIS_CA_CERT`.
    pub fn has_private_ca(&self) -> bool {
        self.ca_cert.is_some()
    }

    pub(crate) fn ca_cert(&self) -> Option<&[u8]> {
        self.ca_cert.as_deref()
    }

    /// What the redis crate needs to check certificates against the
    /// private CA; `None`: the system's roots.
    pub(crate) fn certificates(&self) -> Option<TlsCertificates> {
        self.ca_cert.as_ref().map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.to_vec()),
        })
    }
}

impl RedisEndpoint {
    /// For each `rediss://` URL: when its server accepts a connection
    /// within `timeout`, runs a TLS handshake with it. An error means a
    /// certificate that does not verify (or a server that speaks no TLS):
    /// the binary should stop. A server that cannot be reached is no error
    /// here: the service starts and reports not-ready until it answers.
    pub async fn check_tls(&self, timeout: Duration) -> Result<(), TlsError> {
        let mut config = None;
        for url in self.urls() {
            let Ok(parsed) = url::Url::parse(url.expose()) else {
                continue;
            };
            if parsed.scheme() != "rediss" {
                continue;
            }
            let host = parsed.host_str().unwrap_or_default().to_owned();
            let port = parsed.port().unwrap_or(6379);
            let config = match &config {
                Some(config) => Arc::clone(config),
                None => config.insert(client_config(self.ca_cert())?).clone(),
            };
            let connect =
                TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port));
            let Ok(Ok(socket)) = tokio::time::timeout(timeout, connect).await else {
                tracing::warn!(%url, "Redis does not answer yet; its TLS certificate is checked on first use");
                continue;
            };
            let connector = tokio_rustls::TlsConnector::from(config);
            let handshake = connector.connect(server_name(&host)?, socket);
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(_)) => {}
                Ok(Err(source))
                    if source
                        .get_ref()
                        .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    return Err(TlsError::Handshake {
                        address: format!("{host}:{port}"),
                        source,
                    });
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(%url, "Redis did not complete a TLS handshake; checked again on first use");
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, url) in self.urls().iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(url, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEndpoint")
            .field("variable", &self.variable())
            .field("urls", &self.to_string())
            .field("private_ca", &self.ca_cert.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    #[test]
    fn cluster_nodes_are_host_port_pairs_or_urls() {
        let nodes =
            RedisEndpoint::parse_cluster_nodes(" 10.0.0.1:7000, redis://:pw@10.0.0.2:7001 ,")
                .unwrap();
        let raw: Vec<&str> = nodes.iter().map(RedisUrl::expose).collect();
        assert_eq!(raw, ["redis://10.0.0.1:7000", "redis://:pw@10.0.0.2:7001"]);
        let endpoint = RedisEndpoint::cluster(nodes);
        assert!(endpoint.is_cluster());
        assert_eq!(endpoint.variable(), "REDIS_CLUSTER_NODES");
        assert!(!format!("{endpoint:?}").contains("pw"));
    }

    #[test]
    fn cluster_node_problems_are_named_by_position() {
        assert_eq!(
            RedisEndpoint::parse_cluster_nodes(" , "),
            Err(ClusterNodesError::Empty)
        );
        let error = RedisEndpoint::parse_cluster_nodes("a:1,http://:secret@b:2").unwrap_err();
        assert_eq!(
            error.to_string(),
            "node 2: the scheme must be redis:// or rediss://"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let url: RedisUrl = "rediss://127.0.0.1:6380".parse().unwrap();
        let endpoint = RedisEndpoint::single(url);
        assert!(
            endpoint
                .clone()
                .with_ca_cert(b"not a pem".to_vec())
                .is_err()
        );
        assert_eq!(endpoint.variable(), "REDIS_URL");
    }
}
