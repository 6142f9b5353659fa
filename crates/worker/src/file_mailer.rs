//! The development mailer: instead of sending, writes each rendered email
//! to `{dir}/{job id}.txt` (headers and text part) and `{job id}.html`.
//! Named by job id, so a redelivered job overwrites its own files.

use std::path::{Path, PathBuf};

use application::delivery::{MailError, Mailer, RenderedEmail};
use async_trait::async_trait;

pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            from: from.into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes through a temporary name and renames, so a reader never sees
    /// half a file.
    async fn write(&self, name: &str, content: &str) -> std::io::Result<()> {
        let path = self.dir.join(name);
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, content).await?;
        tokio::fs::rename(&partial, &path).await
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not write to the outbox folder")]
struct OutboxWriteError(#[source] std::io::Error);

#[async_trait]
impl Mailer for FileMailer {
    #[tracing::instrument(level = "debug", skip_all, fields(job_id = %email.job_id))]
    async fn send(&self, email: &RenderedEmail) -> Result<(), MailError> {
        // A full disk or a permission problem may well be fixed by an
        // operator, so it is worth retrying rather than dead-lettering.
        let failed = |error: std::io::Error| MailError::Retryable {
            cause: Box::new(OutboxWriteError(error)),
            retry_after: None,
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        let text = format!(
            "From: {}\nTo: {}\nSubject: {}\nX-Job-Id: {}\nX-Email-Kind: {}\n\n{}",
            self.from, email.to, email.subject, email.job_id, email.kind, email.text
        );
        self.write(&format!("{}.html", email.job_id), &email.html)
            .await
            .map_err(failed)?;
        // The .txt last: its presence means the email is complete.
        self.write(&format!("{}.txt", email.job_id), &text)
            .await
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[tokio::test]
    async fn writes_both_parts_named_by_job_id() {
        let dir = std::env::temp_dir().join(format!("worker-outbox-{}", Uuid::new_v4()));
        let mailer = FileMailer::new(dir.join("nested"), "Auth <no-reply@example.io>");
        let email = RenderedEmail {
            job_id: Uuid::new_v4(),
            kind: "welcome".into(),
            to: "ada@example.io".into(),
            subject: "Successfully signed up".into(),
            text: "Hello ada".into(),
            html: "<p>Hello ada</p>".into(),
        };
        mailer.send(&email).await.unwrap();
        mailer.send(&email).await.unwrap();

        let text =
            std::fs::read_to_string(mailer.dir().join(format!("{}.txt", email.job_id))).unwrap();
        assert!(text.starts_with("From: Auth <no-reply@example.io>\nTo: ada@example.io\nSubject: Successfully signed up\n"));
        assert!(text.ends_with("\n\nHello ada"));
        let html =
            std::fs::read_to_string(mailer.dir().join(format!("{}.html", email.job_id))).unwrap();
        assert_eq!(html, "<p>Hello ada</p>");
        assert_eq!(std::fs::read_dir(mailer.dir()).unwrap().count(), 2);
    }
}
