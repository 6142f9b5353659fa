//! The four pages, their paths and titles.

/// One page an email link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    VerifyEmail,
    ResetPassword,
    ConfirmEmailChange,
    UndoEmailChange,
}

impl Page {
    pub const ALL: [Page; 4] = [
        Page::VerifyEmail,
        Page::ResetPassword,
        Page::ConfirmEmailChange,
        Page::UndoEmailChange,
    ];

    /// The page's path: the one the emails' links use.
    pub fn path(self) -> &'static str {
        match self {
            Page::VerifyEmail => "/verify-email",
            Page::ResetPassword => "/reset-password",
            Page::ConfirmEmailChange => "/confirm-email-change",
            Page::UndoEmailChange => "/undo-email-change",
        }
    }

    /// Where its plain form posts.
    pub fn form_path(self) -> &'static str {
        match self {
            Page::VerifyEmail => "/verify-email/form",
            Page::ResetPassword => "/reset-password/form",
            Page::ConfirmEmailChange => "/confirm-email-change/form",
            Page::UndoEmailChange => "/undo-email-change/form",
        }
    }

    /// The `data-page` the script keys on.
    pub(super) fn name(self) -> &'static str {
        &self.path()[1..]
    }

    pub(super) fn template(self) -> &'static str {
        match self {
            Page::VerifyEmail => "verify_email.html",
            Page::ResetPassword => "reset_password.html",
            Page::ConfirmEmailChange => "confirm_email_change.html",
            Page::UndoEmailChange => "undo_email_change.html",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Page::VerifyEmail => "Confirm your email address",
            Page::ResetPassword => "Choose a new password",
            Page::ConfirmEmailChange => "Confirm your new email address",
            Page::UndoEmailChange => "Undo the change of your email address",
        }
    }
}
