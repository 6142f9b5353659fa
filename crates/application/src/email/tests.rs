//! Tests of the email job format: its JSON stays stable, and its Debug
//! output hides secrets.

use super::*;

#[test]
fn json_format_is_stable() {
    let job = EmailJob {
        id: Uuid::nil(),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        email: Email::Welcome {
            to: "ada@example.io".into(),
            verification_link: "https://app.example/verify-email#token=t".into(),
            code: "012345".into(),
        },
    };
    let json: serde_json::Value = serde_json::from_str(&job.to_json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000000",
            "created_at": "1970-01-01T00:00:00Z",
            "kind": "welcome",
            "to": "ada@example.io",
            "verification_link": "https://app.example/verify-email#token=t",
            "code": "012345",
        })
    );
    assert_eq!(EmailJob::from_json(&job.to_json()).unwrap(), job);
    assert_eq!(job.email.kind(), "welcome");
    assert_eq!(job.email.recipient(), "ada@example.io");
}

#[test]
fn a_welcome_job_queued_before_verification_existed_still_reads() {
    let raw = r#"{"id":"00000000-0000-0000-0000-000000000000","created_at":"1970-01-01T00:00:00Z","kind":"welcome","to":"a@b.io","username":"ada"}"#;
    let job = EmailJob::from_json(raw).unwrap();
    assert!(matches!(
        job.email,
        Email::Welcome { ref verification_link, ref code, .. }
            if verification_link.is_empty() && code.is_empty()
    ));
}

#[test]
fn only_emails_a_stranger_can_trigger_are_capped() {
    let capped: Vec<&str> = Email::samples()
        .iter()
        .filter(|email| email.stranger_can_trigger())
        .map(Email::kind)
        .collect();
    assert_eq!(
        capped,
        [
            "welcome",
            "verify_email",
            "password_reset",
            "confirm_email_change"
        ]
    );
}

#[test]
fn debug_hides_every_link_and_code() {
    for email in Email::samples() {
        let job = EmailJob::new(email, DateTime::<Utc>::UNIX_EPOCH);
        let debug = format!("{job:?}");
        // The codes are quoted: a session id may hold the same digits.
        for secret in ["token=", "\"123456\""] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains(job.email.recipient()), "{debug}");
    }
    let old = Email::Welcome {
        to: "a@b.io".into(),
        verification_link: String::new(),
        code: String::new(),
    };
    assert_eq!(
        format!("{old:?}"),
        r#"Welcome { to: "a@b.io", verification_link: "", code: "" }"#
    );
}

#[test]
fn unknown_kinds_are_rejected() {
    let raw = r#"{"id":"00000000-0000-0000-0000-000000000000","created_at":"1970-01-01T00:00:00Z","kind":"spam","to":"a@b.io"}"#;
    assert!(EmailJob::from_json(raw).is_err());
}
