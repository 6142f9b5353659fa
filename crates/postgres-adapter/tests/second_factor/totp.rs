//! Enrolment, enabling, taking a step under concurrency, disabling.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn enabling_a_pending_factor_ends_the_other_sessions_and_queues_the_notice() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let keep = session(&f, &ada).await;
    let other = session(&f, &ada).await;
    assert_eq!(f.store.totp(ada.id).await.unwrap(), None);

    let first = sealed("k1");
    assert_eq!(
        f.store.begin_totp(ada.id, first, now()).await.unwrap(),
        TotpEnrolment::Started
    );
    // A new enrolment replaces the pending one.
    let pending = sealed("k2");
    assert_eq!(
        f.store
            .begin_totp(ada.id, pending.clone(), now())
            .await
            .unwrap(),
        TotpEnrolment::Started
    );
    let stored = f.store.totp(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.sealed, pending);
    assert_eq!((stored.enabled_at, stored.last_step), (None, None));
    assert_eq!(
        f.store.status(ada.id).await.unwrap(),
        SecondFactorStatus::default()
    );
    // A pending factor takes no step.
    assert!(!f.store.accept_step(ada.id, TimeStep::new(5)).await.unwrap());

    let codes = [digest(), digest(), digest()];
    let request = enable(&ada, 100, &codes, &keep);
    let notice_id = request.notice.id;
    let at = request.now;
    let TotpEnabled::Enabled { ended } = f.store.enable_totp(request).await.unwrap() else {
        panic!("not enabled");
    };
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, other);
    assert!(ended[0].was_live);
    let kept = f.sessions.find(keep).await.unwrap().unwrap();
    assert_eq!(kept.revoked_at, None);
    assert!(
        f.sessions
            .find(other)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let jobs = drain(&f).await;
    assert_eq!(
        jobs.iter().map(|job| job.id).collect::<Vec<_>>(),
        [notice_id]
    );

    let stored = f.store.totp(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.enabled_at, Some(at));
    assert_eq!(stored.last_step, Some(TimeStep::new(100)));
    assert_eq!(
        f.store.status(ada.id).await.unwrap(),
        SecondFactorStatus {
            totp_enabled_at: Some(at),
            recovery_codes_remaining: 3
        }
    );
    // The step that enabled it is taken.
    assert!(
        !f.store
            .accept_step(ada.id, TimeStep::new(100))
            .await
            .unwrap()
    );
    assert!(
        f.store
            .accept_step(ada.id, TimeStep::new(101))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn enabling_is_refused_without_a_pending_factor_and_begin_once_enabled() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let keep = session(&f, &ada).await;
    let other = session(&f, &ada).await;
    // None started: nothing changes, no session ends, no email.
    assert_eq!(
        f.store
            .enable_totp(enable(&ada, 100, &[digest()], &keep))
            .await
            .unwrap(),
        TotpEnabled::Refused
    );
    assert_eq!(
        f.sessions
            .find(other.clone())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(drain(&f).await.is_empty());
    assert_eq!(
        f.store.status(ada.id).await.unwrap(),
        SecondFactorStatus::default()
    );
    // Its `mfa.enabled` was in the transaction that changed nothing.
    assert_eq!(
        events(&f, domain::AuditEventKind::MfaEnabled, &ada).await,
        0
    );

    let (bob, bob_keep) = enabled_user(&f, "bob", &[digest()]).await;
    assert_eq!(
        f.store
            .enable_totp(enable(&bob, 200, &[], &bob_keep))
            .await
            .unwrap(),
        TotpEnabled::Refused
    );
    assert!(drain(&f).await.is_empty());
    let before = f.store.totp(bob.id).await.unwrap().unwrap();
    assert_eq!(
        f.store
            .begin_totp(bob.id, sealed("k9"), now())
            .await
            .unwrap(),
        TotpEnrolment::AlreadyEnabled
    );
    assert_eq!(f.store.totp(bob.id).await.unwrap().unwrap(), before);
    assert_eq!(
        f.store
            .status(bob.id)
            .await
            .unwrap()
            .recovery_codes_remaining,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn of_16_concurrent_calls_with_one_step_exactly_one_takes_it() {
    let f = fixture().await;
    let (ada, _) = enabled_user(&f, "ada", &[]).await;
    for step in [101, 102, 103] {
        let results = concurrently(16, || {
            let store = f.store.clone();
            async move {
                store
                    .accept_step(ada.id, TimeStep::new(step))
                    .await
                    .unwrap()
            }
        })
        .await;
        assert_eq!(
            results.iter().filter(|taken| **taken).count(),
            1,
            "step {step}"
        );
    }
    // Never an earlier step, nor the same one again.
    assert!(
        !f.store
            .accept_step(ada.id, TimeStep::new(102))
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .accept_step(ada.id, TimeStep::new(103))
            .await
            .unwrap()
    );
    assert!(
        f.store
            .accept_step(ada.id, TimeStep::new(110))
            .await
            .unwrap()
    );
    assert_eq!(
        f.store.totp(ada.id).await.unwrap().unwrap().last_step,
        Some(TimeStep::new(110))
    );
    // No factor: no step.
    let bob = user(&f, "bob").await;
    assert!(!f.store.accept_step(bob.id, TimeStep::new(1)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_ends_the_other_sessions_and_removes_the_factor_and_codes() {
    let f = fixture().await;
    let codes = [digest(), digest()];
    let (ada, keep) = enabled_user(&f, "ada", &codes).await;
    let other = session(&f, &ada).await;
    let disable = |user: &User, keep: &SessionId| DisableTotp {
        user: user.id,
        keep: keep.clone(),
        notice: notice(user.email.as_str()),
        audit: event(domain::AuditEventKind::MfaDisabled, user),
        now: now(),
    };
    let request = disable(&ada, &keep);
    let notice_id = request.notice.id;
    let ended = f.store.disable_totp(request).await.unwrap().unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, other);
    assert_eq!(
        f.sessions
            .find(keep.clone())
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(
        f.sessions
            .find(other)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert_eq!(
        drain(&f).await.iter().map(|job| job.id).collect::<Vec<_>>(),
        [notice_id]
    );
    assert_eq!(f.store.totp(ada.id).await.unwrap(), None);
    assert_eq!(
        f.store.status(ada.id).await.unwrap(),
        SecondFactorStatus::default()
    );
    assert!(
        !f.store
            .accept_step(ada.id, TimeStep::new(500))
            .await
            .unwrap()
    );

    // Not enabled any more (or pending): None, nothing changed, no email.
    let third = session(&f, &ada).await;
    assert_eq!(
        f.store.disable_totp(disable(&ada, &keep)).await.unwrap(),
        None
    );
    f.store
        .begin_totp(ada.id, sealed("k1"), now())
        .await
        .unwrap();
    assert_eq!(
        f.store.disable_totp(disable(&ada, &keep)).await.unwrap(),
        None
    );
    assert!(f.store.totp(ada.id).await.unwrap().is_some());
    assert_eq!(
        f.sessions.find(third).await.unwrap().unwrap().revoked_at,
        None
    );
    assert!(drain(&f).await.is_empty());
    // The old codes are gone: enabling again with new ones counts only those.
    f.store
        .enable_totp(enable(&ada, 600, &[digest()], &keep))
        .await
        .unwrap();
    assert_eq!(
        f.store
            .status(ada.id)
            .await
            .unwrap()
            .recovery_codes_remaining,
        1
    );
}
