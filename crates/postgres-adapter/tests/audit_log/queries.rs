//! Recording and reading: every field round-trips, pages visit every
//! event once, filters narrow.

use std::collections::HashSet;
use std::net::IpAddr;

use super::*;

#[tokio::test]
async fn events_round_trip_with_every_field_and_null_ones() {
    let (_db, log) = audit_log().await;
    let at = now();
    let full = NewAuditEvent {
        at: at - Duration::seconds(1),
        kind: AuditEventKind::AdminUserUpdated,
        actor: Some(UserId::new(1)),
        subject: Some(UserId::new(42)),
        session: Some(SessionId::new("0123456789abcdef0123456789abcdef")),
        ip: Some("2001:db8::7".parse::<IpAddr>().unwrap()),
        user_agent: Some("Mozilla/5.0 (X11; Linux) \"quoted\" ünïcode".to_owned()),
        data: json!({"fields": ["role", "banned"], "role": {"from": "user", "to": "admin"}, "n": 3}),
    };
    let unknown = NewAuditEvent {
        at,
        kind: AuditEventKind::LoginFailed,
        actor: None,
        subject: None,
        session: None,
        ip: Some("203.0.113.9".parse().unwrap()),
        user_agent: None,
        data: json!({"reason": domain::LoginFailure::InvalidCredentials.as_str()}),
    };
    log.record(vec![full.clone(), unknown.clone()])
        .await
        .unwrap();

    let page = log.query(everything(10)).await.unwrap();
    assert_eq!(page.next, None);
    assert_eq!(page.events.len(), 2);
    let (first_id, second_id) = (page.events[1].id, page.events[0].id);
    assert_eq!(
        page.events,
        [stored(second_id, &unknown), stored(first_id, &full)]
    );
    // Ids come from the table, in the order of the batch.
    assert!(first_id < second_id);
    // An empty batch stores nothing and asks nothing.
    log.record(Vec::new()).await.unwrap();
}

#[tokio::test]
async fn every_kind_passes_the_tables_type_check() {
    let (_db, log) = audit_log().await;
    let at = now();
    let events: Vec<_> = AuditEventKind::ALL
        .into_iter()
        .map(|kind| event(kind, Some(7), at))
        .collect();
    log.record(events).await.unwrap();
    let page = log.query(everything(100)).await.unwrap();
    let kinds: HashSet<_> = page.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, AuditEventKind::ALL.into_iter().collect());
}

#[tokio::test]
async fn pages_visit_every_event_once_newest_first_even_with_equal_times() {
    let (_db, log) = audit_log().await;
    let base = now() - Duration::hours(1);
    // 23 events, three to an instant, recorded out of order in batches: ids
    // follow neither `at` nor the page order.
    let mut events: Vec<_> = (0..23)
        .map(|i| {
            event(
                AuditEventKind::LoginSucceeded,
                Some(i % 4),
                base + Duration::seconds(i / 3),
            )
        })
        .collect();
    events.reverse();
    events.swap(0, 11);
    for batch in events.chunks(5) {
        log.record(batch.to_vec()).await.unwrap();
    }

    let pages = all_pages(&log, everything(4)).await;
    assert_eq!(pages.len(), 6, "23 events in pages of 4");
    assert!(pages[..5].iter().all(|page| page.len() == 4));
    assert_eq!(pages[5].len(), 3);
    let seen: Vec<_> = pages.concat();
    let ids: HashSet<_> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 23, "every event once");
    assert!(
        seen.windows(2)
            .all(|w| (w[0].at, w[0].id) > (w[1].at, w[1].id)),
        "newest first, then by id"
    );

    // A page that ends exactly at the last event says there is no next.
    let pages = all_pages(&log, everything(23)).await;
    assert_eq!(pages.len(), 1);
    // Events recorded after the first page was read do not shift the rest.
    let first = log.query(everything(10)).await.unwrap();
    log.record(vec![event(AuditEventKind::LoginSucceeded, Some(1), now())])
        .await
        .unwrap();
    let rest = all_pages(
        &log,
        AuditQuery {
            after: first.next,
            ..everything(10)
        },
    )
    .await
    .concat();
    assert_eq!(rest, seen[10..]);
}

#[tokio::test]
async fn queries_filter_by_subject_kind_and_time_window() {
    let (_db, log) = audit_log().await;
    let base = now() - Duration::hours(2);
    let at = |minutes| base + Duration::minutes(minutes);
    log.record(vec![
        event(AuditEventKind::UserRegistered, Some(1), at(0)),
        event(AuditEventKind::LoginSucceeded, Some(1), at(10)),
        event(AuditEventKind::LoginSucceeded, Some(2), at(20)),
        event(AuditEventKind::LoginFailed, None, at(30)),
        event(AuditEventKind::PasswordChanged, Some(1), at(40)),
        event(AuditEventKind::LoginSucceeded, Some(1), at(50)),
    ])
    .await
    .unwrap();
    let times = |events: Vec<AuditEvent>| -> Vec<_> { events.into_iter().map(|e| e.at).collect() };

    let mine = log
        .query(AuditQuery {
            subject: Some(UserId::new(1)),
            ..everything(10)
        })
        .await
        .unwrap();
    assert_eq!(times(mine.events), [at(50), at(40), at(10), at(0)]);

    let logins = log
        .query(AuditQuery {
            kind: Some(AuditEventKind::LoginSucceeded),
            ..everything(10)
        })
        .await
        .unwrap();
    assert_eq!(times(logins.events), [at(50), at(20), at(10)]);

    // `since` is inclusive, `until` exclusive.
    let window = log
        .query(AuditQuery {
            since: Some(at(10)),
            until: Some(at(40)),
            ..everything(10)
        })
        .await
        .unwrap();
    assert_eq!(times(window.events), [at(30), at(20), at(10)]);

    // All together, paged one at a time.
    let pages = all_pages(
        &log,
        AuditQuery {
            subject: Some(UserId::new(1)),
            kind: Some(AuditEventKind::LoginSucceeded),
            since: Some(at(5)),
            until: Some(at(60)),
            ..everything(1)
        },
    )
    .await;
    assert_eq!(times(pages.concat()), [at(50), at(10)]);

    let none = log
        .query(AuditQuery {
            subject: Some(UserId::new(99)),
            ..everything(10)
        })
        .await
        .unwrap();
    assert!(none.events.is_empty() && none.next.is_none());
    let empty = log.query(everything(0)).await.unwrap();
    assert!(empty.events.is_empty() && empty.next.is_none());
}
