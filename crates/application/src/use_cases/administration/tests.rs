use std::sync::Arc;

use domain::{Role, User};
use mockall::predicate::eq;

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{MockUserRepository, RepositoryError};
use crate::use_cases::test_support::user;

fn unverified(id: i64) -> User {
    User {
        email_verified: false,
        ..user(id, Role::User)
    }
}

fn administration(users: MockUserRepository) -> Administration {
    Administration::new(Arc::new(users))
}

/// A store that finds `found` at user 1's address and, when asked, makes
/// it an admin.
fn store_with(found: User) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .with(eq("user1@example.io"))
        .returning(move |_| Ok(Some(found.clone())));
    users
}

#[tokio::test]
async fn a_verified_user_is_promoted_without_force() {
    let mut users = store_with(user(1, Role::User));
    users
        .expect_set_role()
        .with(eq("user1@example.io"), eq(Role::Admin))
        .times(1)
        .returning(|_, _| Ok(Some(user(1, Role::Admin))));
    let promoted = administration(users)
        .promote_to_admin(" User1@Example.io ", false)
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
}

#[tokio::test]
async fn an_unverified_user_is_refused_without_force_naming_its_address() {
    let mut users = store_with(unverified(1));
    users.expect_set_role().never();
    let error = administration(users)
        .promote_to_admin("user1@example.io", false)
        .await
        .unwrap_err();
    assert!(matches!(
        &error,
        PromoteToAdminError::Unverified(address) if address == "user1@example.io"
    ));
    assert_eq!(
        error.to_string(),
        "user1@example.io has not verified its email address"
    );
}

#[tokio::test]
async fn force_promotes_an_unverified_user() {
    let mut users = store_with(unverified(1));
    users
        .expect_set_role()
        .with(eq("user1@example.io"), eq(Role::Admin))
        .times(1)
        .returning(|_, _| Ok(Some(user(1, Role::Admin))));
    let promoted = administration(users)
        .promote_to_admin("user1@example.io", true)
        .await
        .unwrap();
    assert_eq!(promoted.id, user(1, Role::User).id);
}

#[tokio::test]
async fn an_unknown_address_is_no_such_user_as_typed_but_trimmed() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users.expect_set_role().never();
    let error = administration(users)
        .promote_to_admin("  nobody@example.com ", true)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "no user has the email nobody@example.com"
    );
}

#[tokio::test]
async fn an_address_that_does_not_parse_asks_the_store_nothing() {
    let error = administration(MockUserRepository::new())
        .promote_to_admin("not an address", true)
        .await
        .unwrap_err();
    assert!(matches!(
        &error,
        PromoteToAdminError::NoSuchUser(typed) if typed == "not an address"
    ));
}

#[tokio::test]
async fn a_user_deleted_between_the_read_and_the_write_is_no_such_user() {
    let mut users = store_with(user(1, Role::User));
    users.expect_set_role().returning(|_, _| Ok(None));
    let error = administration(users)
        .promote_to_admin("user1@example.io", false)
        .await
        .unwrap_err();
    assert!(matches!(error, PromoteToAdminError::NoSuchUser(_)));
}

#[tokio::test]
async fn a_store_outage_is_unavailable_with_its_cause() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .returning(|_| Err(RepositoryError::Unavailable("refused".into())));
    let error = administration(users)
        .promote_to_admin("user1@example.io", false)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        PromoteToAdminError::Dependency(DependencyError::Unavailable(Dependency::UserStore, _))
    ));
}
