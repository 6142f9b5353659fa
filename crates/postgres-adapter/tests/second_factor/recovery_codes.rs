//! Recovery codes: used once (under concurrency too), replaced as a set.

use super::*;

/// A notice that says how many codes are left, as the email would.
fn recovery_notice(to: &str) -> application::ports::RecoveryNotice {
    let to = to.to_owned();
    Box::new(move |left: u32| {
        EmailJob::new(
            Email::Welcome {
                to,
                verification_link: String::new(),
                code: left.to_string(),
            },
            now(),
        )
    })
}

fn left_in(job: &EmailJob) -> String {
    match &job.email {
        Email::Welcome { code, .. } => code.clone(),
        other => panic!("unexpected email {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_code_is_used_once_and_the_notice_says_how_many_are_left() {
    let f = fixture().await;
    let codes = [digest(), digest(), digest()];
    let (ada, _) = enabled_user(&f, "ada", &codes).await;
    let to = ada.email.as_str();

    assert_eq!(
        f.store
            .use_recovery_code(
                ada.id,
                codes[0],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
                now(),
            )
            .await
            .unwrap(),
        Some(2)
    );
    let jobs = drain(&f).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(left_in(&jobs[0]), "2");
    // Used: refused, and no email.
    assert_eq!(
        f.store
            .use_recovery_code(
                ada.id,
                codes[0],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
                now(),
            )
            .await
            .unwrap(),
        None
    );
    // Unknown, or another user's.
    assert_eq!(
        f.store
            .use_recovery_code(
                ada.id,
                digest(),
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
                now(),
            )
            .await
            .unwrap(),
        None
    );
    let (bob, _) = enabled_user(&f, "bob", &[]).await;
    assert_eq!(
        f.store
            .use_recovery_code(
                bob.id,
                codes[1],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &bob),
                now(),
            )
            .await
            .unwrap(),
        None
    );
    assert!(drain(&f).await.is_empty());

    // 16 concurrent uses of one code: one wins.
    let results = concurrently(16, || {
        let store = f.store.clone();
        let to = to.to_owned();
        let used = event(domain::AuditEventKind::RecoveryCodeUsed, &ada);
        let id = ada.id;
        async move {
            store
                .use_recovery_code(id, codes[1], recovery_notice(&to), used, now())
                .await
                .unwrap()
        }
    })
    .await;
    let won: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(won, [1]);
    // One event per code used: the refused uses rolled theirs back.
    assert_eq!(
        events(&f, domain::AuditEventKind::RecoveryCodeUsed, &ada).await,
        2
    );
    let jobs = drain(&f).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(left_in(&jobs[0]), "1");
    assert_eq!(
        f.store
            .status(ada.id)
            .await
            .unwrap()
            .recovery_codes_remaining,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_the_codes_kills_the_old_ones_and_needs_totp_enabled() {
    let f = fixture().await;
    let old = [digest(), digest()];
    let (ada, _) = enabled_user(&f, "ada", &old).await;
    let to = ada.email.as_str();
    f.store
        .use_recovery_code(
            ada.id,
            old[0],
            recovery_notice(to),
            event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
            now(),
        )
        .await
        .unwrap();
    let new = [digest(), digest(), digest(), digest()];
    drain(&f).await;
    let replaced = notice(to);
    assert!(
        f.store
            .replace_recovery_codes(ada.id, new.to_vec(), replaced.clone(), now())
            .await
            .unwrap()
    );
    // The notice went out with the new codes, in their transaction.
    assert_eq!(drain(&f).await, vec![replaced]);
    assert_eq!(
        f.store
            .status(ada.id)
            .await
            .unwrap()
            .recovery_codes_remaining,
        4
    );
    assert_eq!(
        f.store
            .use_recovery_code(
                ada.id,
                old[1],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
                now(),
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .use_recovery_code(
                ada.id,
                new[3],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &ada),
                now(),
            )
            .await
            .unwrap(),
        Some(3)
    );

    // Pending or absent: nothing stored, and no code works.
    let bob = user(&f, "bob").await;
    assert!(
        !f.store
            .replace_recovery_codes(bob.id, new.to_vec(), notice(to), now())
            .await
            .unwrap()
    );
    f.store
        .begin_totp(bob.id, sealed("k1"), now())
        .await
        .unwrap();
    assert!(
        !f.store
            .replace_recovery_codes(bob.id, new.to_vec(), notice(to), now())
            .await
            .unwrap()
    );
    assert_eq!(
        f.store
            .use_recovery_code(
                bob.id,
                new[0],
                recovery_notice(to),
                event(domain::AuditEventKind::RecoveryCodeUsed, &bob),
                now(),
            )
            .await
            .unwrap(),
        None
    );
}
