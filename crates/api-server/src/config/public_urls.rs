//! The defaults of `PUBLIC_APP_URL` and `PUBLIC_API_URL`: this API's own
//! address, so the emailed links open the pages it serves.

use std::net::IpAddr;

/// Which public URLs were left unset, so took [`default_public_url`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultPublicUrls {
    pub app: bool,
    pub api: bool,
}

/// The default of `PUBLIC_APP_URL` and `PUBLIC_API_URL`: this API's own
/// address, `http://{HOST}:{PORT}`, where a browser on this machine
/// reaches it (`127.0.0.1` or `[::1]` for a wildcard `HOST`).
pub fn default_public_url(host: IpAddr, port: u16) -> String {
    let host = match host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    };
    match host {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

/// A variable's value unless it is unset or blank.
pub(super) fn set(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}
