use chrono::{DateTime, Utc};
use domain::{PasswordHash, PasswordPolicy, Role};
use mockall::predicate::{always, eq};

use super::*;
use crate::Dependency;
use crate::ports::{
    HashError, MockClock, MockPasswordHasher, MockTokenCodec, MockTokenRevocations,
    MockUserRepository, RepositoryError, RevocationError,
};

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
}

fn user(id: i64, role: Role) -> User {
    User {
        id: UserId::new(id),
        username: Username::parse(&format!("user{id}")).unwrap(),
        email: EmailAddress::parse(&format!("user{id}@example.io")).unwrap(),
        role,
        created_at: now(),
    }
}

fn claims(user_id: i64, kind: TokenKind, fresh: bool) -> TokenClaims {
    TokenClaims {
        user_id: UserId::new(user_id),
        token_id: TokenId::new("jti-1"),
        session_id: SessionId::new("sid-1"),
        kind,
        fresh,
        issued_at: now(),
        expires_at: now() + Duration::seconds(300),
    }
}

/// Mocks with no expectations: any call fails the test, so each test
/// states exactly which ports its use case may touch.
struct Ports {
    users: MockUserRepository,
    revocations: MockTokenRevocations,
    hasher: MockPasswordHasher,
    tokens: MockTokenCodec,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            revocations: MockTokenRevocations::new(),
            hasher: MockPasswordHasher::new(),
            tokens: MockTokenCodec::new(),
        }
    }

    fn auth(self) -> Auth {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        Auth::new(
            Arc::new(self.users),
            Arc::new(self.revocations),
            Arc::new(self.hasher),
            Arc::new(self.tokens),
            Arc::new(clock),
            Arc::new(Notify::new()),
            AuthSettings::default(),
        )
    }

    /// The codec signs a token as "<kind>:<fresh>:<sid>" so tests can see
    /// what was issued.
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
}

fn registration() -> Registration {
    Registration {
        username: Username::parse("ada").unwrap(),
        email: EmailAddress::parse("Ada@Example.io").unwrap(),
        password: Password::parse("correct horse", PasswordPolicy::default()).unwrap(),
    }
}

// --- register ---------------------------------------------------------------

#[tokio::test]
async fn register_stores_the_hash_and_a_welcome_job_together() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$argon2id$fake".into())));
    ports
        .users
        .expect_create()
        .withf(|new_user, job| {
            new_user.password_hash.as_str() == "$argon2id$fake"
                && new_user.email.as_str() == "Ada@Example.io"
                && job.email
                    == crate::Email::Welcome {
                        to: "Ada@Example.io".into(),
                        username: "ada".into(),
                    }
        })
        .times(1)
        .returning(|new_user, _| {
            Ok(User {
                id: UserId::new(1),
                username: new_user.username,
                email: new_user.email,
                role: Role::User,
                created_at: now(),
            })
        });
    let created = ports.auth().register(registration()).await.unwrap();
    assert_eq!(created.id, UserId::new(1));
    assert_eq!(created.role, Role::User);
}

#[tokio::test]
async fn register_reports_a_duplicate_email() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".into())));
    ports
        .users
        .expect_create()
        .returning(|_, _| Err(RepositoryError::EmailTaken));
    let error = ports.auth().register(registration()).await.unwrap_err();
    assert!(matches!(error, AuthError::EmailTaken));
}

#[tokio::test]
async fn register_reports_a_database_outage_as_unavailable() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".into())));
    ports
        .users
        .expect_create()
        .returning(|_, _| Err(RepositoryError::Unavailable("timed out".into())));
    let error = ports.auth().register(registration()).await.unwrap_err();
    assert!(matches!(
        error,
        AuthError::Unavailable {
            dependency: Dependency::Postgres,
            ..
        }
    ));
}

#[tokio::test]
async fn register_does_not_touch_the_store_when_hashing_is_saturated() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError::Busy));
    ports.users.expect_create().never();
    let error = ports.auth().register(registration()).await.unwrap_err();
    assert!(matches!(
        error,
        AuthError::Unavailable {
            dependency: Dependency::PasswordHashing,
            ..
        }
    ));
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
            password == "pw" && stored.as_ref().map(PasswordHash::as_str) == Some("h")
        })
        .returning(|_, _| Ok(true));
    let tokens = ports.auth().login("  Ada@Example.IO ", "pw").await.unwrap();
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
        .with(eq("pw".to_owned()), eq(None))
        .times(1)
        .returning(|_, _| Ok(false));
    let error = ports
        .auth()
        .login("nobody@example.io", "pw")
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidCredentials));
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
        .auth()
        .login("user1@example.io", "wrong")
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidCredentials));
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
        .auth()
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
            .auth()
            .authenticate("t", TokenRequirement::Access)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Token(r) if r == rejection));
    }
}

#[tokio::test]
async fn authenticate_rejects_an_expired_token_even_if_the_codec_let_it_pass() {
    let mut ports = Ports::new();
    let mut stale = claims(1, TokenKind::Access, true);
    stale.expires_at = now();
    decoding(&mut ports, stale);
    let error = ports
        .auth()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Token(TokenRejection::Expired)));
}

#[tokio::test]
async fn authenticate_rejects_the_wrong_kind_before_asking_the_store() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Refresh, false));
    ports.revocations.expect_is_revoked().never();
    let error = ports
        .auth()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthError::Token(TokenRejection::AccessRequired)
    ));

    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, true));
    let error = ports
        .auth()
        .authenticate("t", TokenRequirement::Refresh)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthError::Token(TokenRejection::RefreshRequired)
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
        .auth()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Token(TokenRejection::Revoked)));
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
        .auth()
        .authenticate("t", TokenRequirement::Access)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthError::Unavailable {
            dependency: Dependency::Redis,
            ..
        }
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
    let auth = ports.auth();
    assert!(
        auth.authenticate("t", TokenRequirement::Access)
            .await
            .is_ok()
    );
    let error = auth
        .authenticate("t", TokenRequirement::FreshAccess)
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Token(TokenRejection::NotFresh)));
}

// --- refresh and logout -----------------------------------------------------

#[tokio::test]
async fn refresh_issues_a_non_fresh_access_token_in_the_same_session() {
    let ports = Ports::new().with_readable_tokens();
    let issued = ports
        .auth()
        .refresh(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap();
    assert_eq!(issued.access_token, "access:false:sid-1:300");
    assert_eq!(issued.expires_in, 300);
}

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
    ports.auth().logout(&refresh).await.unwrap();
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
    ports.auth().logout(&refresh).await.unwrap();
}

#[tokio::test]
async fn logout_reports_a_store_outage() {
    let mut ports = Ports::new();
    ports
        .revocations
        .expect_revoke()
        .returning(|_| Err(RevocationError::Unavailable("timeout".into())));
    let error = ports
        .auth()
        .logout(&claims(1, TokenKind::Refresh, false))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Unavailable { .. }));
}

// --- users --------------------------------------------------------------------

#[tokio::test]
async fn current_user_of_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new();
    ports.users.expect_find_by_id().returning(|_| Ok(None));
    let error = ports
        .auth()
        .current_user(&claims(1, TokenKind::Access, true))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Token(TokenRejection::Revoked)));
}

#[tokio::test]
async fn a_user_reads_itself_with_one_lookup() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(|_| Ok(Some(user(1, Role::User))));
    let found = ports
        .auth()
        .get_user(&claims(1, TokenKind::Access, false), UserId::new(1))
        .await
        .unwrap();
    assert_eq!(found.id, UserId::new(1));
}

#[tokio::test]
async fn a_user_may_not_read_someone_else_even_if_it_does_not_exist() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .returning(|_| Ok(Some(user(1, Role::User))));
    let auth = ports.auth();
    for target in [2, 999] {
        let error = auth
            .get_user(&claims(1, TokenKind::Access, false), UserId::new(target))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Forbidden));
    }
}

#[tokio::test]
async fn an_admin_reads_anyone_and_learns_when_they_do_not_exist() {
    let mut ports = Ports::new();
    ports.users.expect_find_by_id().returning(|id| {
        Ok(match id.get() {
            1 => Some(user(1, Role::Admin)),
            2 => Some(user(2, Role::User)),
            _ => None,
        })
    });
    let auth = ports.auth();
    let admin = claims(1, TokenKind::Access, false);
    assert_eq!(
        auth.get_user(&admin, UserId::new(2)).await.unwrap().id,
        UserId::new(2)
    );
    let error = auth.get_user(&admin, UserId::new(3)).await.unwrap_err();
    assert!(matches!(error, AuthError::UserNotFound));
}

#[tokio::test]
async fn delete_needs_a_fresh_token() {
    let mut ports = Ports::new();
    ports.users.expect_delete().never();
    let error = ports
        .auth()
        .delete_user(&claims(1, TokenKind::Access, false), UserId::new(1))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Token(TokenRejection::NotFresh)));
}

#[tokio::test]
async fn delete_of_someone_else_is_forbidden() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_delete().never();
    ports.revocations.expect_revoke().never();
    let error = ports
        .auth()
        .delete_user(&claims(1, TokenKind::Access, true), UserId::new(2))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Forbidden));
}

#[tokio::test]
async fn delete_revokes_every_token_of_the_user_then_removes_it() {
    let mut ports = Ports::new();
    let mut sequence = mockall::Sequence::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::User {
            id: UserId::new(1),
            issued_until: now(),
            ttl_secs: 2_592_001,
        }]))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    ports
        .users
        .expect_delete()
        .with(eq(UserId::new(1)))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(true));
    ports
        .auth()
        .delete_user(&claims(1, TokenKind::Access, true), UserId::new(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_deleting_a_missing_user_gets_not_found() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok((id.get() == 1).then(|| user(1, Role::Admin))));
    ports.revocations.expect_revoke().never();
    ports.users.expect_delete().never();
    let error = ports
        .auth()
        .delete_user(&claims(1, TokenKind::Access, true), UserId::new(5))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::UserNotFound));
}

#[tokio::test]
async fn delete_does_not_remove_the_user_when_revocation_fails() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports
        .revocations
        .expect_revoke()
        .with(always())
        .returning(|_| Err(RevocationError::Unavailable("down".into())));
    ports.users.expect_delete().never();
    let error = ports
        .auth()
        .delete_user(&claims(1, TokenKind::Access, true), UserId::new(1))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Unavailable { .. }));
}
