use std::collections::HashSet;

use application::ports::{SealedTotpSecret, SecondFactorCrypto, SecondFactorCryptoError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::{MfaChallengeToken, RECOVERY_CODE_COUNT, TotpSecret, UserId};
use resvg::{tiny_skia, usvg};
use secrecy::SecretString;

use super::*;

const ALICE: UserId = UserId::new(7);
const BOB: UserId = UserId::new(8);

fn encoded(fill: u8) -> SecretString {
    SecretString::from(STANDARD.encode([fill; 32]))
}

fn keys(current: u8, previous: Option<u8>) -> MfaEncryptionKeys {
    let previous = previous.map(encoded);
    MfaEncryptionKeys::from_base64(&encoded(current), previous.as_ref()).unwrap()
}

fn crypto(current: u8, previous: Option<u8>) -> CryptoSecondFactor {
    CryptoSecondFactor::new(keys(current, previous), "auth-service").unwrap()
}

fn secret() -> TotpSecret {
    TotpSecret::from_slice(b"12345678901234567890").unwrap()
}

fn assert_does_not_open(result: Result<TotpSecret, SecondFactorCryptoError>) {
    assert!(
        matches!(result, Err(SecondFactorCryptoError::DoesNotOpen)),
        "{result:?}"
    );
}

#[test]
fn a_sealed_secret_opens_for_its_user() {
    let crypto = crypto(1, None);
    let sealed = crypto.seal(ALICE, &secret()).unwrap();
    assert_eq!(sealed.key_id, keys(1, None).current_key_id());
    assert_eq!(sealed.nonce.len(), 12);
    assert!(
        !sealed
            .ciphertext
            .windows(20)
            .any(|w| w == secret().as_bytes())
    );
    assert_eq!(crypto.open(ALICE, &sealed).unwrap(), secret());
}

#[test]
fn a_sealed_secret_copied_to_another_user_does_not_open() {
    let crypto = crypto(1, None);
    let sealed = crypto.seal(ALICE, &secret()).unwrap();
    assert_does_not_open(crypto.open(BOB, &sealed));
}

#[test]
fn an_altered_ciphertext_or_nonce_does_not_open() {
    let crypto = crypto(1, None);
    let sealed = crypto.seal(ALICE, &secret()).unwrap();
    for at in [0, sealed.ciphertext.len() - 1] {
        let mut altered = sealed.clone();
        altered.ciphertext[at] ^= 1;
        assert_does_not_open(crypto.open(ALICE, &altered));
    }
    let mut altered = sealed.clone();
    altered.ciphertext.truncate(20);
    assert_does_not_open(crypto.open(ALICE, &altered));
    let mut altered = sealed.clone();
    altered.nonce[0] ^= 1;
    assert_does_not_open(crypto.open(ALICE, &altered));
    let mut altered = sealed;
    altered.nonce.pop();
    assert_does_not_open(crypto.open(ALICE, &altered));
}

#[test]
fn a_secret_sealed_before_a_rotation_opens_with_the_previous_key() {
    let before = crypto(1, None).seal(ALICE, &secret()).unwrap();
    let rotated = crypto(2, Some(1));
    assert_eq!(rotated.open(ALICE, &before).unwrap(), secret());
    // New seals use the new key, which the old instance cannot open.
    let after = rotated.seal(ALICE, &secret()).unwrap();
    assert_eq!(after.key_id, keys(2, None).current_key_id());
    assert_ne!(after.key_id, before.key_id);
    assert!(matches!(
        crypto(1, None).open(ALICE, &after),
        Err(SecondFactorCryptoError::UnknownKey(id)) if id == after.key_id
    ));
}

#[test]
fn a_secret_sealed_under_a_key_no_longer_held_is_an_unknown_key() {
    let sealed = crypto(1, None).seal(ALICE, &secret()).unwrap();
    let result = crypto(3, Some(2)).open(ALICE, &sealed);
    assert!(
        matches!(&result, Err(SecondFactorCryptoError::UnknownKey(id)) if *id == sealed.key_id),
        "{result:?}"
    );
}

#[test]
fn a_ciphertext_relabelled_with_the_other_held_key_does_not_open() {
    let crypto = crypto(2, Some(1));
    let sealed = crypto.seal(ALICE, &secret()).unwrap();
    let relabelled = SealedTotpSecret {
        key_id: keys(1, None).current_key_id().to_owned(),
        ..sealed
    };
    assert_does_not_open(crypto.open(ALICE, &relabelled));
}

#[test]
fn two_seals_of_one_secret_differ() {
    let crypto = crypto(1, None);
    let a = crypto.seal(ALICE, &secret()).unwrap();
    let b = crypto.seal(ALICE, &secret()).unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_eq!(crypto.open(ALICE, &b).unwrap(), secret());
}

#[test]
fn malformed_keys_are_refused_naming_the_variable_but_not_the_value() {
    let good = encoded(1);
    for bad in [
        String::new(),
        STANDARD.encode([5u8; 31]),
        STANDARD.encode([5u8; 33]),
        "not*base64*at*all*but*44*characters*long*ok".to_owned(),
        hex_of(&[5u8; 32]),
    ] {
        let value = SecretString::from(bad.clone());
        let err = MfaEncryptionKeys::from_base64(&value, None).unwrap_err();
        assert!(matches!(
            err,
            SecondFactorSetupError::MalformedKey {
                variable: "MFA_ENCRYPTION_KEY"
            }
        ));
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("MFA_ENCRYPTION_KEY "), "{shown}");
        assert!(bad.is_empty() || !shown.contains(&bad[..8]), "{shown}");

        let err = MfaEncryptionKeys::from_base64(&good, Some(&value));
        if bad.is_empty() {
            // A blank previous key is the variable left empty: no rotation.
            assert_eq!(err.unwrap().previous_key_id(), None);
            continue;
        }
        let err = err.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("MFA_ENCRYPTION_KEY_PREVIOUS"), "{shown}");
        assert!(!shown.contains(&bad[..8]), "{shown}");
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn key_ids_are_short_hex_and_name_one_key() {
    let keys = keys(1, Some(2));
    let id = keys.current_key_id();
    assert_eq!(id.len(), 16);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(id, self::keys(1, None).current_key_id());
    assert_eq!(
        keys.previous_key_id(),
        Some(self::keys(2, None).current_key_id())
    );
    assert_ne!(keys.previous_key_id(), Some(id));
    // Whitespace around the setting (a trailing newline) is the same key.
    let padded = SecretString::from(format!(" {}\n", STANDARD.encode([1u8; 32])));
    let same = MfaEncryptionKeys::from_base64(&padded, None).unwrap();
    assert_eq!(same.current_key_id(), id);
}

#[test]
fn debug_output_shows_key_ids_and_no_key_material() {
    let key = [0xabu8; 32];
    let keys = MfaEncryptionKeys::from_base64(
        &SecretString::from(STANDARD.encode(key)),
        Some(&SecretString::from(STANDARD.encode(key))),
    )
    .unwrap();
    let id = keys.current_key_id().to_owned();
    let crypto = CryptoSecondFactor::new(keys, "auth-service").unwrap();
    let shown = format!("{crypto:?} {crypto:#?}");
    assert!(shown.contains(&id), "{shown}");
    for material in [
        STANDARD.encode(key),
        STANDARD.encode(key)[..12].to_owned(),
        hex_of(&key),
        "171, 171".to_owned(),
        "0xab".to_owned(),
    ] {
        assert!(!shown.contains(&material), "{shown}");
    }
}

#[test]
fn ten_distinct_recovery_codes_are_handed_out() {
    let crypto = crypto(1, None);
    let codes = crypto.new_recovery_codes();
    assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
    assert_eq!(RECOVERY_CODE_COUNT, 10);
    let shown: HashSet<String> = codes.iter().map(|code| code.display()).collect();
    assert_eq!(shown.len(), RECOVERY_CODE_COUNT);
    let again: HashSet<String> = crypto
        .new_recovery_codes()
        .iter()
        .map(|code| code.display())
        .collect();
    assert!(shown.is_disjoint(&again));
}

#[test]
fn challenge_tokens_are_new_and_43_characters() {
    let crypto = crypto(1, None);
    let tokens: HashSet<String> = (0..50)
        .map(|_| crypto.new_challenge_token().as_str().to_owned())
        .collect();
    assert_eq!(tokens.len(), 50);
    for token in &tokens {
        assert_eq!(token.len(), MfaChallengeToken::CHARS);
        assert_eq!(token.len(), 43);
        assert!(MfaChallengeToken::parse(token).is_some());
    }
}

#[test]
fn totp_secrets_are_new_and_20_bytes() {
    let crypto = crypto(1, None);
    let secrets: HashSet<[u8; 20]> = (0..50)
        .map(|_| *crypto.new_totp_secret().as_bytes())
        .collect();
    assert_eq!(secrets.len(), 50);
    assert!(!secrets.contains(&[0u8; 20]));
}

fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[test]
fn the_otpauth_uri_carries_issuer_account_and_secret() {
    let issuer = "Auth Service";
    let account = "ann+totp@example.com";
    let crypto = CryptoSecondFactor::new(keys(1, None), issuer).unwrap();
    let provisioning = crypto.provisioning(account, &secret()).unwrap();

    assert!(
        provisioning
            .otpauth_uri
            .starts_with("otpauth://totp/Auth%20Service:ann%2Btotp%40example.com?secret="),
        "{}",
        provisioning.otpauth_uri
    );
    let uri = url::Url::parse(&provisioning.otpauth_uri).unwrap();
    assert_eq!(uri.scheme(), "otpauth");
    assert_eq!(uri.host_str(), Some("totp"));
    let label = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .unwrap();
    assert_eq!(label, format!("/{issuer}:{account}"));
    // Encoded, so no app reads `+` as a space or `@` as syntax.
    assert!(uri.path().contains("ann%2Btotp%40example.com"), "{uri}");
    assert!(!provisioning.otpauth_uri.contains(' '));
    assert_eq!(query_value(&uri, "secret"), Some(secret().base32()));
    assert_eq!(query_value(&uri, "issuer").as_deref(), Some(issuer));
    assert_eq!(query_value(&uri, "algorithm").as_deref(), Some("SHA1"));
    assert_eq!(query_value(&uri, "digits").as_deref(), Some("6"));
    assert_eq!(query_value(&uri, "period").as_deref(), Some("30"));
    assert!(!secret().base32().contains('='));
}

#[test]
fn an_account_with_query_syntax_stays_in_the_label() {
    let crypto = crypto(1, None);
    let account = "a&secret=AAAA?x#y%z@example.com";
    let provisioning = crypto.provisioning(account, &secret()).unwrap();
    let uri = url::Url::parse(&provisioning.otpauth_uri).unwrap();
    let label = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .unwrap();
    assert_eq!(label, format!("/auth-service:{account}"));
    assert_eq!(query_value(&uri, "secret"), Some(secret().base32()));
    assert_eq!(uri.fragment(), None);
}

#[test]
fn an_issuer_that_would_break_the_label_is_refused() {
    for bad in ["", "  ", "auth:service", "auth\nservice"] {
        assert!(
            matches!(
                CryptoSecondFactor::new(keys(1, None), bad),
                Err(SecondFactorSetupError::BadIssuer)
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn the_qr_code_is_a_standalone_svg() {
    let svg = crypto(1, None)
        .provisioning("ann@example.com", &secret())
        .unwrap()
        .qr_svg;
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    let lower = svg.to_ascii_lowercase();
    for external in [
        "href",
        "<script",
        "<image",
        "url(",
        "<foreignobject",
        "@import",
    ] {
        assert!(!lower.contains(external), "{external}: {svg}");
    }
    // The only address in it is the SVG namespace.
    assert_eq!(lower.matches("http").count(), 1);
    assert!(lower.contains("xmlns=\"http://www.w3.org/2000/svg\""));
}

/// Draws the SVG as the port returns it, then reads the QR code back.
fn decode_qr_svg(svg: &str) -> String {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    let width = pixmap.width();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(
        width as usize,
        pixmap.height() as usize,
        |x, y| {
            let pixel = pixmap.pixel(x as u32, y as u32).unwrap();
            let luma =
                (u16::from(pixel.red()) + u16::from(pixel.green()) + u16::from(pixel.blue())) / 3;
            u8::try_from(luma).unwrap()
        },
    );
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, content) = grids[0].decode().unwrap();
    content
}

#[test]
fn the_qr_code_decodes_to_the_otpauth_uri() {
    let crypto = CryptoSecondFactor::new(keys(1, None), "Auth Service").unwrap();
    for account in ["ann@example.com", "bob+mfa@example.org"] {
        let secret = crypto.new_totp_secret();
        let provisioning = crypto.provisioning(account, &secret).unwrap();
        assert_eq!(
            decode_qr_svg(&provisioning.qr_svg),
            provisioning.otpauth_uri
        );
    }
}
