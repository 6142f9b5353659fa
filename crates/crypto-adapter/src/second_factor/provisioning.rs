//! What an authenticator app is shown to enrol: the `otpauth://` URI of
//! Google's Key Uri Format, and the same URI as a QR code in SVG.

use application::ports::{Provisioning, SecondFactorCryptoError};
use domain::TotpSecret;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::setup_error::SecondFactorSetupError;

/// RFC 3986 leaves only its unreserved characters unencoded; everything
/// else (`:`, `@`, `+`, space, `&`, `=` ...) would be read as syntax in the
/// label or the query, or (`+`) as a space by some apps.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Large enough to scan from a screen; the modules stay whole pixels.
const QR_MIN_PIXELS: u32 = 200;

/// The name an authenticator app files the account under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Issuer(String);

impl Issuer {
    /// Apps split the label at its first colon (literal or encoded) into
    /// issuer and account, so an issuer must not hold one.
    pub(super) fn new(name: &str) -> Result<Self, SecondFactorSetupError> {
        let name = name.trim();
        if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
            return Err(SecondFactorSetupError::BadIssuer);
        }
        Ok(Self(name.to_owned()))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

pub(super) fn provisioning(
    issuer: &Issuer,
    account: &str,
    secret: &TotpSecret,
) -> Result<Provisioning, SecondFactorCryptoError> {
    let otpauth_uri = otpauth_uri(issuer, account, secret);
    let qr_svg = qr_svg(&otpauth_uri)?;
    Ok(Provisioning {
        otpauth_uri,
        qr_svg,
    })
}

/// `otpauth://totp/{issuer}:{account}?secret=...&issuer=...`, with the
/// parameters `domain`'s TOTP uses spelled out for apps that read them.
fn otpauth_uri(issuer: &Issuer, account: &str, secret: &TotpSecret) -> String {
    let issuer = utf8_percent_encode(issuer.as_str(), COMPONENT);
    let account = utf8_percent_encode(account, COMPONENT);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits=6&period=30",
        secret = secret.base32(),
    )
}

/// Medium error correction: a phone photographing a screen needs little,
/// and a lower level keeps the modules larger. A quiet zone, so scanners
/// find the code on any background. The SVG is one rect and one path, no
/// references outside itself.
fn qr_svg(uri: &str) -> Result<String, SecondFactorCryptoError> {
    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .map_err(|err| SecondFactorCryptoError::Failed(Box::new(err)))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS)
        .build())
}
