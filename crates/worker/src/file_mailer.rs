//! The development mailer: instead of sending, writes each rendered email
//! to `{dir}/{name}.txt` (headers and text part) and `{name}.html`, where
//! the name is the job's creation time, its kind and its id
//! (`20261204T224700.123Z-welcome-<job id>`): `ls` lists them oldest first,
//! so the latest email is the last line, and a redelivered job (same time,
//! same id) overwrites its own files.

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

/// The name of an email's files, without the extension: sorted by name is
/// sorted by the time its job was made. The kind is one of ours (letters
/// and underscores), never input.
pub fn file_name(email: &RenderedEmail) -> String {
    format!(
        "{}-{}-{}",
        email.created_at.format("%Y%m%dT%H%M%S%.3fZ"),
        email.kind,
        email.job_id
    )
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
        let name = file_name(email);
        self.write(&format!("{name}.html"), &email.html)
            .await
            .map_err(failed)?;
        // The .txt last: its presence means the email is complete.
        self.write(&format!("{name}.txt"), &text)
            .await
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn email(kind: &str, created_at: &str) -> RenderedEmail {
        RenderedEmail {
            job_id: Uuid::new_v4(),
            created_at: created_at.parse().unwrap(),
            kind: kind.into(),
            to: "ada@example.io".into(),
            subject: "Successfully signed up".into(),
            text: "Hello ada".into(),
            html: "<p>Hello ada</p>".into(),
        }
    }

    #[tokio::test]
    async fn writes_both_parts_named_by_time_kind_and_job_id_once_per_job() {
        let dir = std::env::temp_dir().join(format!("worker-outbox-{}", Uuid::new_v4()));
        let mailer = FileMailer::new(dir.join("nested"), "Auth <no-reply@example.io>");
        let email = email("welcome", "2026-12-04T22:47:00.123456Z");
        mailer.send(&email).await.unwrap();
        mailer.send(&email).await.unwrap();

        let name = format!("20261204T224700.123Z-welcome-{}", email.job_id);
        assert_eq!(file_name(&email), name);
        let text = std::fs::read_to_string(mailer.dir().join(format!("{name}.txt"))).unwrap();
        assert!(text.starts_with("From: Auth <no-reply@example.io>\nTo: ada@example.io\nSubject: Successfully signed up\n"));
        assert!(text.ends_with("\n\nHello ada"));
        let html = std::fs::read_to_string(mailer.dir().join(format!("{name}.html"))).unwrap();
        assert_eq!(html, "<p>Hello ada</p>");
        assert_eq!(std::fs::read_dir(mailer.dir()).unwrap().count(), 2);
    }

    #[tokio::test]
    async fn the_latest_email_sorts_last() {
        let dir = std::env::temp_dir().join(format!("worker-outbox-{}", Uuid::new_v4()));
        let mailer = FileMailer::new(&dir, "Auth <no-reply@example.io>");
        // Sent out of order (a retried job), named by when each was made.
        for (kind, at) in [
            ("verify_email", "2026-12-04T10:00:00Z"),
            ("password_reset", "2026-12-04T09:59:59.999Z"),
            ("welcome", "2026-12-03T23:00:00Z"),
        ] {
            mailer.send(&email(kind, at)).await.unwrap();
        }
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".txt"))
            .collect();
        names.sort();
        let kinds: Vec<_> = names
            .iter()
            .map(|name| name.split('-').nth(1).unwrap())
            .collect();
        assert_eq!(kinds, ["welcome", "password_reset", "verify_email"]);
    }
}
