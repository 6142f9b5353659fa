//! What an operator does to accounts from the command line: promoting a
//! user to admin.

use std::sync::Arc;

use domain::{EmailAddress, Role, User};

use crate::error::PromoteToAdminError;
use crate::ports::UserRepository;

/// The operator's account commands. Built from the user store alone: an
/// operator command has the database and nothing else (no Redis, no key).
#[derive(Clone)]
pub struct Administration {
    users: Arc<dyn UserRepository>,
}

impl Administration {
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// Gives the user with this email the admin role. An unverified
    /// account is refused unless `force`: anyone can register any address,
    /// so an unverified `admin@company.example` may be a squatter.
    #[tracing::instrument(level = "debug", name = "promote_to_admin", skip_all, fields(force))]
    pub async fn promote_to_admin(
        &self,
        email: &str,
        force: bool,
    ) -> Result<User, PromoteToAdminError> {
        let no_such_user = || PromoteToAdminError::NoSuchUser(email.trim().to_owned());
        // An address that does not parse cannot belong to any account.
        let address = EmailAddress::parse(email).map_err(|_| no_such_user())?;
        let user = self
            .users
            .find_by_email(&address.normalized())
            .await?
            .ok_or_else(no_such_user)?;
        if !user.email_verified && !force {
            return Err(PromoteToAdminError::Unverified(
                user.email.as_str().to_owned(),
            ));
        }
        // Gone between the two calls: as unknown as never there.
        self.users
            .set_role(&address.normalized(), Role::Admin)
            .await?
            .ok_or_else(no_such_user)
    }
}

#[cfg(test)]
mod tests;
