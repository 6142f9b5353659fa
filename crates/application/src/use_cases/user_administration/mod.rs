//! What admins do to other people's accounts: for now, finding them.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Role, TokenClaims, TokenRejection, UserId};

use crate::error::SearchUsersError;
use crate::ports::{Clock, UserDirectory, UserRepository, UserSearch, UserStatus, UserSummary};

/// The admin user search.
#[derive(Clone)]
pub struct UserAdministration {
    users: Arc<dyn UserRepository>,
    directory: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
}

/// A search as the client asked it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearchRequest {
    /// The start of an email or username; empty is no filter.
    pub query: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    /// 1–200; `None` is [`UserAdministration::DEFAULT_LIMIT`].
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of users and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    /// Only when this page is full: a short page is the last one.
    pub next_cursor: Option<String>,
}

impl UserAdministration {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    pub fn new(
        users: Arc<dyn UserRepository>,
        directory: Arc<dyn UserDirectory>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            directory,
            clock,
        }
    }

    /// A page of the users matching `request`, in id order. Admins only:
    /// the role is read from the store, not the token, so a demoted admin
    /// loses the search at once.
    #[tracing::instrument(level = "debug", name = "search_users", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn search(
        &self,
        claims: &TokenClaims,
        request: UserSearchRequest,
    ) -> Result<UserPage, SearchUsersError> {
        let caller = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(SearchUsersError::Token(TokenRejection::Revoked))?;
        if caller.role != Role::Admin {
            return Err(SearchUsersError::Forbidden);
        }
        let limit = match request.limit {
            None => Self::DEFAULT_LIMIT,
            Some(limit) => u32::try_from(limit)
                .ok()
                .filter(|limit| (1..=Self::MAX_LIMIT).contains(limit))
                .ok_or(SearchUsersError::InvalidLimit)?,
        };
        let after = request.cursor.as_deref().map(decode_cursor).transpose()?;
        let search = UserSearch {
            prefix: request.query.filter(|query| !query.is_empty()),
            role: request.role,
            status: request.status,
            after,
            limit,
        };
        let users = self.directory.search(&search, self.clock.now()).await?;
        let full = users.len() >= limit as usize;
        let next_cursor = users
            .last()
            .filter(|_| full)
            .map(|last| encode_cursor(last.user.id));
        Ok(UserPage { users, next_cursor })
    }
}

/// Opaque to clients (base64url of the last id's 8 bytes), so the order
/// behind it can change without breaking their code.
pub(crate) fn encode_cursor(id: UserId) -> String {
    URL_SAFE_NO_PAD.encode(id.get().to_be_bytes())
}

fn decode_cursor(raw: &str) -> Result<UserId, SearchUsersError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| SearchUsersError::InvalidCursor)?;
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| SearchUsersError::InvalidCursor)?;
    Ok(UserId::new(i64::from_be_bytes(bytes)))
}

#[cfg(test)]
mod tests;
