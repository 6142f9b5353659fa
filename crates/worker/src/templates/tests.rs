//! Tests of the Tera renderer against the repository's own templates.

use super::*;
use uuid::Uuid;

/// A job of `email`, made now.
fn job(email: Email) -> EmailJob {
    EmailJob::new(email, chrono::Utc::now())
}

/// The repository's own templates.
fn repo_templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

fn welcome() -> Email {
    Email::Welcome {
        to: "ada@example.io".into(),
        verification_link: String::new(),
        code: String::new(),
    }
}

#[test]
fn renders_the_welcome_email() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let job = job(welcome());
    let email = renderer.render(&job).unwrap();
    assert_eq!(email.job_id, job.id);
    assert_eq!(email.created_at, job.created_at);
    assert_eq!(email.kind, "welcome");
    assert_eq!(email.to, "ada@example.io");
    assert_eq!(email.subject, "Successfully signed up");
    assert!(email.text.starts_with("Hello,"), "{}", email.text);
    assert!(email.html.contains("<p>Hello,</p>"), "{}", email.html);
}

/// A job as an older API wrote it, with the username the requester
/// chose; `fields` are the kind's own.
fn old_job(kind: &str, fields: &str) -> Email {
    let raw = format!(
        r#"{{"id":"00000000-0000-0000-0000-000000000000","created_at":"1970-01-01T00:00:00Z","kind":"{kind}","to":"victim@example.io","username":"Call +1 555 0100 now",{fields}}}"#
    );
    application::EmailJob::from_json(&raw).unwrap().email
}

#[test]
fn emails_to_unproven_addresses_carry_no_username() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    for email in [
        old_job("welcome", r#""verification_link":"l","code":"123456""#),
        old_job("verify_email", r#""link":"l","code":"123456""#),
        old_job(
            "confirm_email_change",
            r#""new_email":"victim@example.io","link":"l","code":"123456""#,
        ),
    ] {
        let rendered = renderer.render(&job(email.clone())).unwrap();
        for part in [&rendered.subject, &rendered.text, &rendered.html] {
            assert!(!part.contains("555 0100"), "{}: {part}", email.kind());
        }
    }
}

#[test]
fn the_new_sign_in_notice_quotes_at_most_200_characters_of_the_user_agent() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let shown = "M".repeat(200);
    let email = renderer
        .render(&job(Email::NewDeviceLogin {
            to: "ada@example.io".into(),
            signed_in_at: "2026-11-26T16:00:00Z".into(),
            ip: String::new(),
            user_agent: format!("{shown}Please call +1 555 0100"),
            session_id: "s".into(),
        }))
        .unwrap();
    for part in [&email.text, &email.html] {
        assert!(part.contains(&format!("“{shown}”")), "{part}");
        assert!(!part.contains("555 0100"), "{part}");
    }
}

/// An account can be registered on a stranger's address; every email to
/// it (a reset, a changed password, an address change, a sign-in) then goes
/// to that stranger, so none may carry the text its registrant chose.
#[test]
fn account_notices_carry_no_username_either() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    for email in [
        old_job("password_reset", r#""link":"l","code":"123456""#),
        old_job("password_changed", r#""changed_at":"2026-11-26T16:00:00Z""#),
        old_job(
            "email_changing",
            r#""new_email":"new@example.io","undo_link":"u""#,
        ),
        old_job(
            "new_device_login",
            r#""signed_in_at":"t","ip":"","user_agent":"","session_id":"s""#,
        ),
    ] {
        let rendered = renderer.render(&job(email.clone())).unwrap();
        for part in [&rendered.subject, &rendered.text, &rendered.html] {
            assert!(!part.contains("555 0100"), "{}: {part}", email.kind());
        }
        assert!(rendered.text.contains("Hello,"), "{}", rendered.text);
    }
}

#[test]
fn renders_the_new_device_email_with_its_details_escaped_in_html() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let email = renderer
        .render(&job(Email::NewDeviceLogin {
            to: "ada@example.io".into(),
            signed_in_at: "2026-11-26T16:00:00Z".into(),
            ip: "203.0.113.7".into(),
            user_agent: "<b>Evil</b>".into(),
            session_id: "0123456789abcdef0123456789abcdef".into(),
        }))
        .unwrap();
    assert_eq!(email.subject, "New sign-in to your account");
    assert_eq!(email.kind, "new_device_login");
    for part in [&email.text, &email.html] {
        assert!(part.contains("2026-11-26T16:00:00Z"), "{part}");
        assert!(part.contains("203.0.113.7"), "{part}");
        assert!(
            part.contains("/users/me/sessions/0123456789abcdef0123456789abcdef"),
            "how to revoke it: {part}"
        );
    }
    assert!(email.text.contains("Browser or app: “<b>Evil</b>”"));
    assert!(!email.html.contains("<b>Evil</b>"), "{}", email.html);
    assert!(
        email.html.contains("&lt;b&gt;Evil&lt;&#x2F;b&gt;")
            || email.html.contains("&lt;b&gt;Evil&lt;/b&gt;"),
        "{}",
        email.html
    );

    // Unknown IP and user agent read as such.
    let email = renderer
        .render(&job(Email::NewDeviceLogin {
            to: "ada@example.io".into(),
            signed_in_at: "t".into(),
            ip: String::new(),
            user_agent: String::new(),
            session_id: "s".into(),
        }))
        .unwrap();
    assert!(email.text.contains("IP address: unknown"), "{}", email.text);
}

#[test]
fn verification_emails_carry_the_link_and_the_code_line() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let link = "https://app.example/verify-email#token=abc-_DEF";
    let welcome = renderer
        .render(&job(Email::Welcome {
            to: "ada@example.io".into(),
            verification_link: link.into(),
            code: "012345".into(),
        }))
        .unwrap();
    assert_eq!(welcome.subject, "Successfully signed up");
    assert!(welcome.text.contains(link), "{}", welcome.text);
    assert!(welcome.text.lines().any(|line| line == "Code: 012345"));
    assert!(welcome.html.contains("012345"));
    let confirm = renderer
        .render(&job(Email::VerifyEmail {
            to: "ada@example.io".into(),
            link: link.into(),
            code: "999999".into(),
        }))
        .unwrap();
    assert_eq!(confirm.subject, "Confirm your email address");
    assert!(confirm.text.contains(link));
    assert!(confirm.text.lines().any(|line| line == "Code: 999999"));
    // A welcome job queued before verification existed has neither.
    let old = renderer.render(&job(welcome_without_link())).unwrap();
    assert!(!old.text.contains("Code:"), "{}", old.text);
}

fn welcome_without_link() -> Email {
    Email::Welcome {
        to: "ada@example.io".into(),
        verification_link: String::new(),
        code: String::new(),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worker-templates-{name}-{}", Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("email")).unwrap();
    dir
}

#[test]
fn a_missing_part_fails_at_load() {
    let dir = temp_dir("missing");
    std::fs::write(dir.join("email/welcome.txt"), "Subject: Hi\n\nHello").unwrap();
    let error = TeraRenderer::load(&dir).err().unwrap();
    assert!(
        matches!(&error, TemplateError::Missing { name, .. } if name == "welcome.html"),
        "{error}"
    );
}

#[test]
fn a_missing_directory_fails_at_load() {
    let error = TeraRenderer::load("/nonexistent/templates").err().unwrap();
    assert!(matches!(
        error,
        TemplateError::Missing { .. } | TemplateError::Load { .. }
    ));
}

#[test]
fn a_template_that_does_not_parse_fails_at_load() {
    let dir = temp_dir("syntax");
    std::fs::write(dir.join("email/welcome.txt"), "Subject: Hi\n\n{{ to").unwrap();
    std::fs::write(dir.join("email/welcome.html"), "<p>{{ to }}</p>").unwrap();
    assert!(TeraRenderer::load(&dir).is_err());
}

#[test]
fn a_template_using_an_unknown_variable_fails_at_load() {
    let dir = temp_dir("undefined");
    std::fs::write(
        dir.join("email/welcome.txt"),
        "Subject: Hi\n\n{{ nickname }}",
    )
    .unwrap();
    std::fs::write(dir.join("email/welcome.html"), "<p>{{ to }}</p>").unwrap();
    let error = TeraRenderer::load(&dir).err().unwrap();
    assert!(matches!(error, TemplateError::Broken(_)), "{error}");
}

#[test]
fn a_text_template_without_subject_fails_at_load() {
    let dir = temp_dir("subject");
    std::fs::write(dir.join("email/welcome.txt"), "Hello {{ to }}").unwrap();
    std::fs::write(dir.join("email/welcome.html"), "<p>{{ to }}</p>").unwrap();
    let error = TeraRenderer::load(&dir).err().unwrap();
    let chain = application::ErrorChain(&error).to_string();
    assert!(chain.contains("Subject"), "{chain}");
}

#[test]
fn subject_line_parsing() {
    assert_eq!(
        split_subject("Subject: Hi there\r\n\r\nBody\n"),
        Some(("Hi there".into(), "Body\n".into()))
    );
    assert_eq!(split_subject("Subject:   \n\nBody"), None);
    assert_eq!(split_subject("Body"), None);
}

#[test]
fn the_email_changing_notice_carries_the_undo_link() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let undo = "https://app.example/undo-email-change#token=abc-_DEF";
    let changing = |undo_link: &str| Email::EmailChanging {
        to: "ada@example.io".into(),
        new_email: "intruder@example.io".into(),
        undo_link: undo_link.into(),
    };
    let notice = renderer.render(&job(changing(undo))).unwrap();
    assert_eq!(notice.subject, "Your email address is changing");
    assert!(
        notice.text.lines().any(|line| line == undo),
        "{}",
        notice.text
    );
    assert!(
        notice.html.contains(&format!("href=\"{undo}\"")),
        "{}",
        notice.html
    );
    // A job queued before undo links existed still renders, without one.
    let old = renderer.render(&job(changing(""))).unwrap();
    assert!(!old.text.contains("undo-email-change"), "{}", old.text);
    assert!(!old.html.contains("href"), "{}", old.html);
}

#[test]
fn the_second_factor_emails_say_what_happened_when_and_what_to_do() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let at = "2026-12-04T22:00:00Z";
    let cases = [
        (
            Email::MfaEnabled {
                to: "ada@example.io".into(),
                enabled_at: at.into(),
            },
            "Two-factor authentication was turned on",
            "recovery codes",
        ),
        (
            Email::MfaDisabled {
                to: "ada@example.io".into(),
                disabled_at: at.into(),
            },
            "Two-factor authentication was turned off",
            "no longer work",
        ),
        (
            Email::RecoveryCodeUsed {
                to: "ada@example.io".into(),
                used_at: at.into(),
                remaining: 9,
            },
            "A recovery code was used",
            "9 codes are left",
        ),
        (
            Email::RecoveryCodesReplaced {
                to: "ada@example.io".into(),
                replaced_at: at.into(),
            },
            "New recovery codes were made",
            "no longer work",
        ),
    ];
    for (email, subject, says) in cases {
        let rendered = renderer.render(&job(email.clone())).unwrap();
        let kind = email.kind();
        assert_eq!(rendered.subject, subject, "{kind}");
        assert_eq!(rendered.to, "ada@example.io");
        for part in [&rendered.text, &rendered.html] {
            // As a reader sees it: HTML folds line breaks into spaces.
            let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(part.contains(at), "{kind}: the time in {part}");
            assert!(part.contains(says), "{kind}: {says:?} in {part}");
            assert!(
                part.contains("Forgot password"),
                "{kind}: what to do if not you"
            );
        }
    }
}

#[test]
fn the_last_recovery_codes_warn_to_make_new_ones() {
    let renderer = TeraRenderer::load(repo_templates()).unwrap();
    let used = |remaining| Email::RecoveryCodeUsed {
        to: "ada@example.io".into(),
        used_at: "2026-12-04T22:00:00Z".into(),
        remaining,
    };
    let one = renderer.render(&job(used(1))).unwrap();
    assert!(one.text.contains("1 code is left"), "{}", one.text);
    assert!(one.text.contains("Make new ones soon"), "{}", one.text);
    let many = renderer.render(&job(used(8))).unwrap();
    assert!(!many.text.contains("Make new ones soon"), "{}", many.text);
}
