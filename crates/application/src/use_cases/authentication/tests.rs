use std::sync::Arc;

use chrono::Duration;
use domain::{
    PasswordHash, Role, SessionId, TokenClaims, TokenId, TokenKind, TokenRejection, UserId,
};
use mockall::predicate::eq;
use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{
    MockPasswordHasher, MockTokenCodec, MockTokenRevocations, MockUserRepository, RepositoryError,
    RevocationError,
};
use crate::use_cases::test_support::{claims, clock, now, user};

/// Mocks with no expectations: any call fails the test, so each test
/// states exactly which ports its use case may touch.
struct Ports {
    users: MockUserRepository,
    revocations: MockTokenRevocations,
    hasher: MockPasswordHasher,
    tokens: MockTokenCodec,
    lifetimes: TokenLifetimes,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            revocations: MockTokenRevocations::new(),
            hasher: MockPasswordHasher::new(),
            tokens: MockTokenCodec::new(),
            lifetimes: TokenLifetimes::default(),
        }
    }

    fn authentication(self) -> Authentication {
        Authentication::new(
            Arc::new(self.users),
            Arc::new(self.revocations),
            Arc::new(self.hasher),
            Arc::new(self.tokens),
            Arc::new(clock()),
            self.lifetimes,
        )
    }

    /// The codec signs a token as "<kind>:<fresh>:<sid>:<lifetime>" so
    /// tests can see what was issued.
    fn with_readable_tokens(mut self) -> Self {
        self.tokens.expect_encode().returning(|c| {
            Ok(format!(
                "{}:{}:{}:{}",
                match c.kind {
                    TokenKind::Access => "access",
                    TokenKind::Refresh => "refresh",
                },
                c.fresh,
                c.session_id,
                (c.expires_at - c.issued_at).num_seconds()
            ))
        });
        self
    }

    fn with_user(mut self, id: i64) -> Self {
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(id)))
            .returning(move |_| Ok(Some(user(id, Role::User))));
        self
    }
}

fn password(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

// --- login ------------------------------------------------------------------

#[tokio::test]
async fn login_issues_a_fresh_access_and_a_refresh_token_in_one_session() {
    let mut ports = Ports::new().with_readable_tokens();
    ports
        .users
        .expect_find_credentials()
        .with(eq("ada@example.io"))
        .returning(|_| Ok(Some((user(1, Role::User), PasswordHash::new("h".into())))));
    ports
        .hasher
        .expect_verify()
        .withf(|password, stored| {
            password.expose_secret() == "pw"
                && stored.as_ref().map(PasswordHash::as_str) == Some("h")
        })
        .returning(|_, _| Ok(true));
    let tokens = ports
        .authentication()
        .login("  Ada@Example.IO ", password("pw"))
        .await
        .unwrap();
    let access: Vec<_> = tokens.access_token.split(':').collect();
    let refresh: Vec<_> = tokens.refresh_token.split(':').collect();
    assert_eq!(&access[..2], ["access", "true"]);
    assert_eq!(access[3], "300");
    assert_eq!(&refresh[..2], ["refresh", "false"]);
    assert_eq!(refresh[3], "2592000");
    assert_eq!(access[2], refresh[2], "both tokens share the login session");
    assert_eq!(tokens.expires_in, 300);
}

#[tokio::test]
async fn login_with_an_unknown_email_still_pays_for_a_hash() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(None));
    ports
        .hasher
        .expect_verify()
        .withf(|password, stored| password.expose_secret() == "pw" && stored.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let error = ports
        .authentication()
        .login("nobody@example.io", password("pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_malformed_email_pays_for_a_hash_without_asking_the_store() {
    for email in [
        "ada\u{0}@example.io",
        "not an email",
        "ada@example.io\u{7}",
        "",
    ] {
        let mut ports = Ports::new();
        ports.users.expect_find_credentials().never();
        ports
            .hasher
            .expect_verify()
            .withf(|_, stored| stored.is_none())
            .times(1)
            .returning(|_, _| Ok(false));
        let error = ports
            .authentication()
            .login(email, password("pw"))
            .await
            .unwrap_err();
        assert!(matches!(error, LoginError::InvalidCredentials), "{email:?}");
    }
}

#[tokio::test]
async fn login_looks_up_an_address_stored_under_older_rules() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .withf(|key| key == "\"a,b\"@example.io")
        .times(1)
        .returning(|_| Ok(None));
    ports
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(false));
    let error = ports
        .authentication()
        .login("\"a,b\"@example.io", password("pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_wrong_password_fails_like_an_unknown_email() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some((user(1, Role::User), PasswordHash::new("h".into())))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .login("user1@example.io", password("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_a_lifetime_past_the_calendar_fails_instead_of_panicking() {
    let mut ports = Ports::new();
    ports.lifetimes.refresh = Duration::MAX;
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some((user(1, Role::User), PasswordHash::new("h".into())))));
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports.tokens.expect_encode().returning(|_| Ok("t".into()));
    let error = ports
        .authentication()
        .login("user1@example.io", password("pw"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        LoginError::Dependency(DependencyError::Failed(Dependency::TokenSigner, _))
    ));
}

#[tokio::test]
async fn login_keeps_the_store_error_as_its_source() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Err(RepositoryError::Unavailable("connection refused".into())));
    let error = ports
        .authentication()
        .login("user1@example.io", password("pw"))
        .await
        .unwrap_err();
    let mut chain = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(&error);
    while let Some(error) = current {
        chain.push(error.to_string());
        current = error.source();
    }
    assert_eq!(
        chain,
        [
            "the user store is unavailable",
            "the user store is unavailable",
            "connection refused"
        ]
    );
}

// --- authenticate -------------------------------------------------------------

fn decoding(ports: &mut Ports, claims: TokenClaims) {
    ports
        .tokens
        .expect_decode()
        .returning(move |_| Ok(claims.clone()));
}

#[tokio::test]
async fn authenticate_accepts_a_live_token() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, false));
    ports
        .revocations
        .expect_is_revoked()
        .times(1)
        .returning(|_| Ok(false));
    let accepted = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap();
    assert_eq!(accepted.user_id, UserId::new(1));
}

#[tokio::test]
async fn authenticate_passes_codec_rejections_through() {
    for rejection in [TokenRejection::Invalid, TokenRejection::Expired] {
        let mut ports = Ports::new();
        ports
            .tokens
            .expect_decode()
            .returning(move |_| Err(rejection));
        ports.revocations.expect_is_revoked().never();
        let error = ports
            .authentication()
            .authenticate("t", TokenRequirement::Access)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthenticateError::Token(r) if r == rejection));
    }
}

#[tokio::test]
async fn authenticate_rejects_an_expired_token_even_if_the_codec_let_it_pass() {
    let mut ports = Ports::new();
    let mut stale = claims(1, TokenKind::Access, true);
    stale.expires_at = now();
    decoding(&mut ports, stale);
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::Expired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_a_refresh_token_where_access_is_needed() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Refresh, false));
    ports.revocations.expect_is_revoked().never();
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::AccessRequired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_an_access_token_where_refresh_is_needed() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports.revocations.expect_is_revoked().never();
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Refresh)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::RefreshRequired)
    ));
}

#[tokio::test]
async fn authenticate_rejects_a_revoked_session() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports
        .revocations
        .expect_is_revoked()
        .withf(|c| c.session_id.as_str() == "sid-1")
        .returning(|_| Ok(true));
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::Revoked)
    ));
}

#[tokio::test]
async fn authenticate_fails_closed_when_the_revocation_store_is_down() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    ports
        .revocations
        .expect_is_revoked()
        .returning(|_| Err(RevocationError::Unavailable("refused".into())));
    let error = ports
        .authentication()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Dependency(DependencyError::Unavailable(Dependency::RevocationStore, _))
    ));
}

#[tokio::test]
async fn authenticate_demands_freshness_only_where_required() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, false));
    ports
        .revocations
        .expect_is_revoked()
        .returning(|_| Ok(false));
    let authentication = ports.authentication();
    assert!(
        authentication
            .authenticate("t", TokenRequirement::Access)
            .await
            .is_ok()
    );
    let error = authentication
        .authenticate("t", TokenRequirement::FreshAccess)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthenticateError::Token(TokenRejection::NotFresh)
    ));
}

// --- refresh ------------------------------------------------------------------

#[tokio::test]
async fn refresh_issues_a_non_fresh_access_token_in_the_same_session() {
    let ports = Ports::new().with_readable_tokens().with_user(1);
    let issued = ports
        .authentication()
        .refresh(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap();
    assert_eq!(issued.access_token, "access:false:sid-1:300");
    assert_eq!(issued.expires_in, 300);
}

#[tokio::test]
async fn refresh_for_a_deleted_user_is_a_revoked_token() {
    let mut ports = Ports::new();
    ports.users.expect_find_by_id().returning(|_| Ok(None));
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .refresh(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Token(TokenRejection::Revoked)
    ));
}

#[tokio::test]
async fn refresh_reports_a_user_store_outage() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Err(RepositoryError::Unavailable("timeout".into())));
    let error = ports
        .authentication()
        .refresh(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Dependency(DependencyError::Unavailable(Dependency::UserStore, _))
    ));
}

// --- logout -------------------------------------------------------------------

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_its_session() {
    let mut ports = Ports::new();
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![
            Revocation::Token {
                id: TokenId::new("jti-1"),
                ttl_secs: 301,
            },
            Revocation::Session {
                id: SessionId::new("sid-1"),
                ttl_secs: 301,
            },
        ]))
        .times(1)
        .returning(|_| Ok(()));
    let mut refresh = claims(1, TokenKind::Refresh, false);
    refresh.expires_at = now() + Duration::seconds(300);
    ports.authentication().logout(&refresh).await.unwrap();
}

#[tokio::test]
async fn logout_keeps_the_session_revoked_while_its_access_tokens_live() {
    let mut ports = Ports::new();
    ports
        .revocations
        .expect_revoke()
        .withf(|revocations| {
            revocations.contains(&Revocation::Session {
                id: SessionId::new("sid-1"),
                ttl_secs: 301,
            })
        })
        .returning(|_| Ok(()));
    // The refresh token itself has only 10 s left.
    let mut refresh = claims(1, TokenKind::Refresh, false);
    refresh.expires_at = now() + Duration::seconds(10);
    ports.authentication().logout(&refresh).await.unwrap();
}

#[tokio::test]
async fn logout_reports_a_store_outage() {
    let mut ports = Ports::new();
    ports
        .revocations
        .expect_revoke()
        .returning(|_| Err(RevocationError::Unavailable("timeout".into())));
    let error = ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        LogoutError::Dependency(DependencyError::Unavailable(Dependency::RevocationStore, _))
    ));
}
