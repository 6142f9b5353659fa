use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::UserId;

/// RFC 6238, appendix B: the SHA-1 seed.
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_slice(b"12345678901234567890").unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

#[test]
fn codes_match_the_rfc_6238_sha1_test_vectors() {
    // (time, 8-digit value of the RFC's table): a 6-digit code is the same
    // truncation mod 10^6, i.e. its last six digits.
    for (time, rfc) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        let step = TimeStep::at(at(time));
        assert_eq!(rfc_secret().code_at(step), rfc[2..], "T = {time}");
    }
}

#[test]
fn steps_are_thirty_seconds_from_the_epoch() {
    assert_eq!(TimeStep::at(at(59)), TimeStep::new(1));
    assert_eq!(TimeStep::at(at(60)), TimeStep::new(2));
    assert_eq!(TimeStep::at(at(1_111_111_109)).get(), 37_037_036);
}

#[test]
fn the_step_before_and_after_now_are_accepted_and_no_further() {
    let secret = rfc_secret();
    let now = at(1_111_111_111);
    let current = TimeStep::at(now);
    for offset in [-1, 0, 1] {
        let step = TimeStep::new(current.get() + offset);
        let code = TotpCode::parse(&secret.code_at(step)).unwrap();
        assert_eq!(secret.matching_step(&code, now), Some(step), "{offset}");
    }
    for offset in [-2, 2] {
        let step = TimeStep::new(current.get() + offset);
        let code = TotpCode::parse(&secret.code_at(step)).unwrap();
        assert_eq!(secret.matching_step(&code, now), None, "{offset}");
    }
    let wrong = TotpCode::parse("000000").unwrap();
    assert_eq!(secret.matching_step(&wrong, now), None);
}

#[test]
fn a_step_is_taken_once_and_never_one_before_it() {
    let step = TimeStep::new(100);
    assert!(step.follows(None));
    assert!(step.follows(Some(TimeStep::new(99))));
    assert!(!step.follows(Some(step)));
    assert!(!step.follows(Some(TimeStep::new(101))));
}

#[test]
fn codes_are_six_digits_and_spaces_are_dropped() {
    assert_eq!(TotpCode::parse("123 456").unwrap().as_str(), "123456");
    for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345"] {
        assert_eq!(TotpCode::parse(bad), Err(InvalidTotpCode), "{bad:?}");
    }
}

#[test]
fn secrets_are_shown_in_base32_without_padding() {
    // RFC 4648 section 10: BASE32("foobar") = "MZXW6YTBOI======".
    let mut bytes = [0u8; 20];
    bytes[..6].copy_from_slice(b"foobar");
    let shown = TotpSecret::from_bytes(bytes).base32();
    assert!(shown.starts_with("MZXW6YTBOI"), "{shown}");
    assert_eq!(shown.len(), 32);
    assert!(!format!("{:?}", rfc_secret()).contains("1234"));
}

#[test]
fn recovery_codes_are_16_characters_shown_in_groups_of_four() {
    let code = RecoveryCode::from_entropy(u128::MAX);
    let shown = code.display();
    assert_eq!(shown.len(), 19);
    assert_eq!(shown.matches('-').count(), 3);
    assert!(
        shown
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        RecoveryCode::from_entropy(0).display(),
        "aaaa-aaaa-aaaa-aaaa"
    );
    assert_ne!(RecoveryCode::from_entropy(1), RecoveryCode::from_entropy(2));
}

#[test]
fn recovery_codes_are_taken_back_ignoring_case_spaces_and_hyphens() {
    let code = RecoveryCode::from_entropy(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let shown = code.display();
    for typed in [
        shown.clone(),
        shown.to_uppercase(),
        shown.replace('-', ""),
        shown.replace('-', " "),
        format!(" {} ", shown.replace('-', " - ")),
    ] {
        assert_eq!(RecoveryCode::parse(&typed), Ok(code.clone()), "{typed:?}");
    }
    for bad in [
        "",
        "abcd-efgh-ijkl",
        "abcd-efgh-ijkl-mnop-q",
        "abcd_efgh_ijkl_mnop",
        "äbcd-efgh-ijkl-mnop",
    ] {
        assert_eq!(
            RecoveryCode::parse(bad),
            Err(InvalidRecoveryCode),
            "{bad:?}"
        );
    }
}

#[test]
fn recovery_code_digests_are_salted_by_user() {
    let code = RecoveryCode::from_entropy(42);
    assert_ne!(code.digest(UserId::new(1)), code.digest(UserId::new(2)));
    assert_eq!(code.digest(UserId::new(1)), code.digest(UserId::new(1)));
    assert!(!format!("{code:?}").contains(&code.display()));
}

#[test]
fn a_second_factor_gives_aal2_and_its_amr() {
    assert_eq!(AuthMethods::Password.level(), AssuranceLevel::Aal1);
    assert_eq!(AuthMethods::PasswordAndTotp.level(), AssuranceLevel::Aal2);
    assert_eq!(
        AuthMethods::PasswordAndRecoveryCode.level(),
        AssuranceLevel::Aal2
    );
    assert_eq!(AuthMethods::PasswordAndTotp.amr(), ["pwd", "otp"]);
    assert_eq!(AuthMethods::PasswordAndRecoveryCode.amr(), ["pwd", "rc"]);
    assert_eq!(AssuranceLevel::Aal2.as_str(), "aal2");
    for methods in AuthMethods::ALL {
        assert_eq!(methods.as_str().parse::<AuthMethods>(), Ok(methods));
        assert_eq!(AuthMethods::from_amr(methods.amr()), Some(methods));
    }
    assert_eq!(AuthMethods::from_amr(&["otp", "pwd"]), None);
    assert!("pwd+sms".parse::<AuthMethods>().is_err());
}

#[test]
fn challenge_tokens_are_43_characters_and_nothing_else_parses() {
    let token = MfaChallengeToken::from_entropy([9; 32]);
    assert_eq!(token.as_str().len(), MfaChallengeToken::CHARS);
    assert_eq!(
        MfaChallengeToken::parse(token.as_str()),
        Some(token.clone())
    );
    assert_eq!(MfaChallengeToken::parse(&token.as_str()[1..]), None);
    assert_eq!(
        MfaChallengeToken::parse(&format!("{}=", &token.as_str()[1..])),
        None
    );
    assert_eq!(
        token.digest(),
        MfaChallengeToken::from_entropy([9; 32]).digest()
    );
    assert!(!format!("{token:?}").contains(token.as_str()));
}
