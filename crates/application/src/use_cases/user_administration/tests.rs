use std::sync::Arc;

use domain::{Role, TokenKind, UserId};

use super::*;
use crate::ports::{MockUserDirectory, MockUserRepository};
use crate::use_cases::test_support::{claims, clock, user};

fn summary(id: i64) -> UserSummary {
    UserSummary {
        user: user(id, Role::User),
        status: UserStatus::Active,
        banned_until: None,
        last_sign_in_at: None,
        mfa_enabled: false,
    }
}

/// Caller 9 with `role`; the directory answers `found` users from id 1
/// to whoever asks, and checks what it was asked with `check`.
fn administration(
    role: Role,
    found: i64,
    check: impl Fn(&UserSearch) + Send + Sync + 'static,
) -> UserAdministration {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(move |id| Ok(Some(user(id.get(), role))));
    let mut directory = MockUserDirectory::new();
    directory.expect_search().returning(move |search, _| {
        check(search);
        Ok((1..=found).map(summary).collect())
    });
    UserAdministration::new(Arc::new(users), Arc::new(directory), Arc::new(clock()))
}

fn admin() -> domain::TokenClaims {
    claims(9, TokenKind::Access, false)
}

#[tokio::test]
async fn a_non_admin_is_forbidden_before_any_search() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    let directory = MockUserDirectory::new();
    let administration =
        UserAdministration::new(Arc::new(users), Arc::new(directory), Arc::new(clock()));
    let error = administration
        .search(&admin(), UserSearchRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, SearchUsersError::Forbidden), "{error:?}");
}

#[tokio::test]
async fn a_caller_whose_account_is_gone_is_refused_as_revoked() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().returning(|_| Ok(None));
    let administration = UserAdministration::new(
        Arc::new(users),
        Arc::new(MockUserDirectory::new()),
        Arc::new(clock()),
    );
    let error = administration
        .search(&admin(), UserSearchRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, SearchUsersError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_limit_defaults_to_50_and_must_be_within_1_to_200() {
    let administration = administration(Role::Admin, 0, |search| {
        assert!([1, 50, 200].contains(&search.limit), "{search:?}");
    });
    for limit in [None, Some(1), Some(200)] {
        let request = UserSearchRequest {
            limit,
            ..UserSearchRequest::default()
        };
        administration.search(&admin(), request).await.unwrap();
    }
    for limit in [0, 201, -1, i64::MAX] {
        let request = UserSearchRequest {
            limit: Some(limit),
            ..UserSearchRequest::default()
        };
        let error = administration.search(&admin(), request).await.unwrap_err();
        assert!(matches!(error, SearchUsersError::InvalidLimit), "{limit}");
    }
}

#[tokio::test]
async fn a_cursor_that_does_not_decode_is_refused() {
    let administration = administration(Role::Admin, 0, |_| {});
    for cursor in ["not base64!", "AAAA", "", "AAAAAAAAAAAAAAAAAAA"] {
        let request = UserSearchRequest {
            cursor: Some(cursor.to_owned()),
            ..UserSearchRequest::default()
        };
        let error = administration.search(&admin(), request).await.unwrap_err();
        assert!(matches!(error, SearchUsersError::InvalidCursor), "{cursor}");
    }
}

#[tokio::test]
async fn next_cursor_comes_only_with_a_full_page_and_leads_past_its_last_user() {
    let full = administration(Role::Admin, 3, |_| {});
    let request = UserSearchRequest {
        limit: Some(3),
        ..UserSearchRequest::default()
    };
    let page = full.search(&admin(), request.clone()).await.unwrap();
    let cursor = page.next_cursor.expect("a full page has a next cursor");
    assert_eq!(cursor, encode_cursor(UserId::new(3)));

    let next = administration(Role::Admin, 2, |search| {
        assert_eq!(search.after, Some(UserId::new(3)));
    });
    let page = next
        .search(
            &admin(),
            UserSearchRequest {
                cursor: Some(cursor),
                ..request
            },
        )
        .await
        .unwrap();
    assert_eq!(page.users.len(), 2);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn filters_reach_the_directory_and_an_empty_query_is_none() {
    let administration = administration(Role::Admin, 0, |search| {
        assert_eq!(search.prefix, None);
        assert_eq!(search.role, Some(Role::Admin));
        assert_eq!(search.status, Some(UserStatus::Banned));
    });
    let request = UserSearchRequest {
        query: Some(String::new()),
        role: Some(Role::Admin),
        status: Some(UserStatus::Banned),
        ..UserSearchRequest::default()
    };
    administration.search(&admin(), request).await.unwrap();
}
