use actix_web::dev::Payload;
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpRequest};
use domain::ClientDevice;
use paperclip::actix::OperationModifier;
use paperclip::v2::schema::Apiv2Schema;

use crate::client_ip::ClientIp;
use crate::error::ApiError;

/// The device a request comes from: the client IP (the one client-IP
/// function, [`ClientIp::of`]) and the `User-Agent` header.
#[derive(Debug, Clone)]
pub struct Device(pub ClientDevice);

impl Device {
    pub fn of(request: &HttpRequest) -> Self {
        let ip = ClientIp::of(request).map(|ClientIp(ip)| ip);
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok());
        Self(ClientDevice::new(ip, user_agent))
    }
}

impl FromRequest for Device {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self::of(request)))
    }
}

/// Nothing to document: it reads the connection and a standard header.
impl Apiv2Schema for Device {}
impl OperationModifier for Device {}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn reads_the_peer_and_a_printable_user_agent() {
        let request = TestRequest::default()
            .peer_addr("198.51.100.4:5000".parse().unwrap())
            .insert_header((USER_AGENT, "curl/8.0"))
            .to_http_request();
        let Device(device) = Device::of(&request);
        assert_eq!(device.ip(), Some("198.51.100.4".parse().unwrap()));
        assert_eq!(device.user_agent(), Some("curl/8.0"));
    }

    #[test]
    fn ignores_forwarded_for_from_an_untrusted_peer() {
        let request = TestRequest::default()
            .peer_addr("198.51.100.4:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.9"))
            .to_http_request();
        assert_eq!(
            Device::of(&request).0.ip(),
            Some("198.51.100.4".parse().unwrap())
        );
    }
}
