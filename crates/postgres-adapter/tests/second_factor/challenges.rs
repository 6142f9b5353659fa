//! The MFA challenges: tries, expiry, one consumer, the code budget.

use super::*;

fn new_challenge(user: &User, expires_in: Duration) -> NewChallenge {
    let at = now();
    NewChallenge {
        digest: digest(),
        user: user.id,
        epoch: SessionEpoch(3),
        device: ClientDevice::new(Some("2001:db8::7".parse().unwrap()), Some("Firefox")),
        known_device: Some(digest()),
        created_at: at,
        expires_at: at + expires_in,
    }
}

fn live(challenge: &NewChallenge, failures: i32) -> Challenge {
    Challenge {
        user: challenge.user,
        epoch: challenge.epoch,
        device: challenge.device.clone(),
        known_device: challenge.known_device,
        expires_at: challenge.expires_at,
        failures,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_challenge_dies_at_its_fifth_wrong_code() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let open = new_challenge(&ada, Duration::minutes(5));
    f.store.open_challenge(open.clone()).await.unwrap();
    assert_eq!(
        f.store.challenge(open.digest, now()).await.unwrap(),
        Some(live(&open, 0))
    );
    assert_eq!(f.store.challenge(digest(), now()).await.unwrap(), None);

    for failures in 1..MFA_CHALLENGE_TRIES {
        f.store
            .record_wrong_code(open.digest, ada.id, false, now())
            .await
            .unwrap();
        assert_eq!(
            f.store.challenge(open.digest, now()).await.unwrap(),
            Some(live(&open, failures))
        );
    }
    f.store
        .record_wrong_code(open.digest, ada.id, false, now())
        .await
        .unwrap();
    assert_eq!(f.store.challenge(open.digest, now()).await.unwrap(), None);
    assert_eq!(
        f.store.consume_challenge(open.digest, now()).await.unwrap(),
        None
    );
    // Not counted toward the budget.
    assert!(!f.store.budget_exhausted(ada.id, now()).await.unwrap());

    // A known device that was not recognised is stored as such.
    let unknown = NewChallenge {
        known_device: None,
        device: ClientDevice::default(),
        ..new_challenge(&ada, Duration::minutes(5))
    };
    f.store.open_challenge(unknown.clone()).await.unwrap();
    assert_eq!(
        f.store
            .consume_challenge(unknown.digest, now())
            .await
            .unwrap(),
        Some(live(&unknown, 0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_challenge_is_neither_found_nor_consumed() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let open = new_challenge(&ada, Duration::minutes(5));
    f.store.open_challenge(open.clone()).await.unwrap();
    let at_expiry = open.expires_at;
    assert!(
        f.store
            .challenge(open.digest, at_expiry - Duration::seconds(1))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        f.store.challenge(open.digest, at_expiry).await.unwrap(),
        None
    );
    assert_eq!(
        f.store
            .consume_challenge(open.digest, at_expiry)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .consume_challenge(open.digest, at_expiry - Duration::seconds(1))
            .await
            .unwrap(),
        Some(live(&open, 0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_a_challenge_drops_the_users_expired_ones() {
    use diesel::QueryableByName;
    use diesel::sql_types::BigInt;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let bob = user(&f, "bob").await;
    let expired = new_challenge(&ada, Duration::seconds(-1));
    let others = new_challenge(&bob, Duration::seconds(-1));
    f.store.open_challenge(expired.clone()).await.unwrap();
    f.store.open_challenge(others.clone()).await.unwrap();
    let fresh = new_challenge(&ada, Duration::minutes(5));
    f.store.open_challenge(fresh.clone()).await.unwrap();

    let mut conn = raw_connection(&f.db.url).await;
    let rows = |user: i64| {
        diesel::sql_query("SELECT count(*) AS n FROM mfa_challenges WHERE user_id = $1")
            .bind::<BigInt, _>(user)
    };
    let ada_rows: Count = rows(ada.id.get()).get_result(&mut conn).await.unwrap();
    let bob_rows: Count = rows(bob.id.get()).get_result(&mut conn).await.unwrap();
    // Only the opener's expired rows go; another user's wait for a purge.
    assert_eq!((ada_rows.n, bob_rows.n), (1, 1));
    assert!(
        f.store
            .challenge(fresh.digest, now())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_challenge_is_consumed_once_even_by_16_concurrent_calls() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let open = new_challenge(&ada, Duration::minutes(5));
    f.store.open_challenge(open.clone()).await.unwrap();
    f.store
        .record_wrong_code(open.digest, ada.id, true, now())
        .await
        .unwrap();
    let results = concurrently(16, || {
        let store = f.store.clone();
        async move { store.consume_challenge(open.digest, now()).await.unwrap() }
    })
    .await;
    let won: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(won, [live(&open, 1)]);
    assert_eq!(f.store.challenge(open.digest, now()).await.unwrap(), None);
    assert_eq!(
        f.store.consume_challenge(open.digest, now()).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_totp_codes_spend_the_budget_at_ten_and_recovery_codes_do_not() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let bob = user(&f, "bob").await;
    let at = now();
    let mut wrong = 0;
    while wrong < MAX_CODE_FAILURES {
        // A new challenge after each dies: the budget spans them.
        let open = new_challenge(&ada, Duration::minutes(5));
        f.store.open_challenge(open.clone()).await.unwrap();
        for _ in 0..MFA_CHALLENGE_TRIES {
            if wrong == MAX_CODE_FAILURES {
                break;
            }
            assert!(
                !f.store.budget_exhausted(ada.id, at).await.unwrap(),
                "after {wrong}"
            );
            f.store
                .record_wrong_code(open.digest, ada.id, true, at)
                .await
                .unwrap();
            // Wrong recovery codes never count.
            f.store
                .record_wrong_code(digest(), bob.id, false, at)
                .await
                .unwrap();
            wrong += 1;
        }
    }
    assert!(f.store.budget_exhausted(ada.id, at).await.unwrap());
    assert!(!f.store.budget_exhausted(bob.id, at).await.unwrap());
    // The window is per purpose and fixed: it ends a day after the first.
    assert!(
        !f.store
            .budget_exhausted(ada.id, at + Duration::days(2))
            .await
            .unwrap()
    );
}
