//! Fixtures shared by the use-case tests.

use chrono::{DateTime, Duration, Utc};
use domain::{
    EmailAddress, Role, SessionId, TokenClaims, TokenId, TokenKind, User, UserId, Username,
};

use crate::ports::MockClock;

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
}

pub(crate) fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    clock
}

pub(crate) fn user(id: i64, role: Role) -> User {
    User {
        id: UserId::new(id),
        username: Username::parse(&format!("user{id}")).unwrap(),
        email: EmailAddress::parse(&format!("user{id}@example.io")).unwrap(),
        role,
        created_at: now(),
    }
}

pub(crate) fn claims(user_id: i64, kind: TokenKind, fresh: bool) -> TokenClaims {
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
