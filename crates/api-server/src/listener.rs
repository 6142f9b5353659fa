//! Binding the server's listeners.

use std::net::{TcpListener, ToSocketAddrs};

use crate::startup_error::StartupError;

/// A listener on `address` and the port it got (`shown` names the
/// address in the error).
pub(crate) fn bind(
    address: impl ToSocketAddrs,
    shown: String,
) -> Result<(TcpListener, u16), StartupError> {
    let bind_error = |source| StartupError::Bind {
        address: shown.clone(),
        source,
    };
    let listener = TcpListener::bind(address).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    Ok((listener, port))
}
