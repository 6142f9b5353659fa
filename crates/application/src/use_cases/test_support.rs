//! Fixtures shared by the use-case tests.

use chrono::{DateTime, Duration, Utc};
use domain::{
    EmailAddress, Role, Session, SessionId, TokenClaims, TokenId, TokenKind, User, UserId, Username,
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
        email_verified: true,
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
        generation: (kind == TokenKind::Refresh).then_some(0),
        methods: domain::AuthMethods::Password,
        issued_at: now(),
        expires_at: now() + Duration::seconds(300),
    }
}

/// Session "sid-1" of `user_id`, created an hour ago, at `generation`
/// since `rotated_secs_ago`, with 1000 s left.
pub(crate) fn session(user_id: i64, generation: u64, rotated_secs_ago: i64) -> Session {
    Session {
        id: SessionId::new("sid-1"),
        user_id: UserId::new(user_id),
        created_at: now() - Duration::hours(1),
        last_used_at: now() - Duration::seconds(rotated_secs_ago),
        expires_at: now() + Duration::seconds(1_000),
        ip: None,
        user_agent: None,
        generation,
        rotated_at: (generation > 0).then(|| now() - Duration::seconds(rotated_secs_ago)),
        revoked_at: None,
        methods: domain::AuthMethods::Password,
    }
}

/// The secret every mocked generator makes: token of 32 bytes of 1, code
/// "123456".
pub(crate) fn fixed_secret() -> domain::OneTimeSecret {
    domain::OneTimeSecret::from_entropy([1; 32], 123_456)
}

/// Account emails with links to `https://app.example` and [`fixed_secret`].
pub(crate) fn secret_mail(settings: crate::AccountEmailSettings) -> crate::SecretMail {
    let mut generator = crate::ports::MockSecretGenerator::new();
    generator.expect_generate().returning(fixed_secret);
    crate::SecretMail::new(std::sync::Arc::new(generator), settings)
}

pub(crate) fn app_email_settings() -> crate::AccountEmailSettings {
    crate::AccountEmailSettings {
        public_app_url: "https://app.example/".into(),
        ..crate::AccountEmailSettings::default()
    }
}

/// `marks` with, after whatever the test expects of it, a fallback that
/// lets written marks leave the queue: the last step of every successful
/// revocation, which tests of other rules need not spell out. Mockall
/// tries expectations in the order they were set, so a test's own
/// (`never()` included) still decide first.
pub(crate) fn forgetting(
    mut marks: crate::ports::MockRevocationMarkQueue,
) -> crate::ports::MockRevocationMarkQueue {
    marks.expect_forget().returning(|_| Ok(()));
    marks
}

/// Runs a detached task before `detach` returns, so a test sees its effects
/// (and its mocks' expectations) deterministically.
pub(crate) struct InlineTasks;

#[async_trait::async_trait]
impl crate::ports::BackgroundTasks for InlineTasks {
    async fn detach(&self, task: crate::ports::BackgroundTask) {
        task.await;
    }
}

/// Counts the tasks handed over and keeps them without running them: what
/// the request itself did is all that happened before its answer.
#[derive(Default)]
pub(crate) struct CountingTasks {
    pub handed: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::ports::BackgroundTasks for CountingTasks {
    async fn detach(&self, _task: crate::ports::BackgroundTask) {
        self.handed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A secret generator that must not be called: the request itself makes
/// no secret (it is made in the detached task).
pub(crate) fn no_secret_mail() -> crate::SecretMail {
    let mut generator = crate::ports::MockSecretGenerator::new();
    generator.expect_generate().never();
    crate::SecretMail::new(std::sync::Arc::new(generator), app_email_settings())
}

/// [`crate::use_cases::AccountPorts`] as mocks with no expectations: any
/// call fails the test, so each test states exactly which ports the use
/// case may touch. Each test module adds the method that builds its use
/// case (`accounts()`, `management()`, ...).
pub(crate) struct MockAccountPorts {
    pub users: crate::ports::MockUserRepository,
    pub sessions: crate::ports::MockSessionRepository,
    pub secrets: crate::ports::MockOneTimeSecretStore,
    pub revocations: crate::ports::MockTokenRevocations,
    /// Completed with [`forgetting`] when the ports are built.
    pub marks: crate::ports::MockRevocationMarkQueue,
    pub hasher: crate::ports::MockPasswordHasher,
    pub outbox: crate::ports::MockOutboxSignal,
}

impl MockAccountPorts {
    pub(crate) fn new() -> Self {
        Self {
            users: crate::ports::MockUserRepository::new(),
            sessions: crate::ports::MockSessionRepository::new(),
            secrets: crate::ports::MockOneTimeSecretStore::new(),
            revocations: crate::ports::MockTokenRevocations::new(),
            marks: crate::ports::MockRevocationMarkQueue::new(),
            hasher: crate::ports::MockPasswordHasher::new(),
            outbox: crate::ports::MockOutboxSignal::new(),
        }
    }

    /// The ports, with the fixed clock, [`secret_mail`] on
    /// [`app_email_settings`] and [`InlineTasks`].
    pub(crate) fn into_ports(self) -> crate::use_cases::AccountPorts {
        use std::sync::Arc;
        crate::use_cases::AccountPorts {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            secrets: Arc::new(self.secrets),
            revocations: Arc::new(self.revocations),
            marks: Arc::new(forgetting(self.marks)),
            hasher: Arc::new(self.hasher),
            clock: Arc::new(clock()),
            outbox: Arc::new(self.outbox),
            mail: secret_mail(app_email_settings()),
            lifetimes: crate::use_cases::TokenLifetimes::default(),
            tasks: Arc::new(InlineTasks),
        }
    }
}
