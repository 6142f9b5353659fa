//! Renders emails from `{TEMPLATES_DIR}/email/{kind}.html` and
//! `{kind}.txt` with Tera. The context is the job's email variant as
//! serialised (`kind`, `to`, and the variant's fields, e.g. `username`),
//! except that a new-sign-in notice shows at most
//! [`SHOWN_USER_AGENT_CHARS`] characters of the user agent.
//! Tera escapes values in `.html` templates, not in `.txt`.
//!
//! The subject is the first line of the `.txt` template, written as
//! `Subject: ...` and followed by an empty line; the rest is the text body.
//! So adding a kind of email is a job variant plus a template pair.

use std::path::{Path, PathBuf};

use application::delivery::{EmailRenderer, RenderError, RenderedEmail};
use application::{Email, EmailJob};
use tera::{Context, Tera};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot load the email templates under {dir}")]
    Load {
        dir: String,
        #[source]
        cause: tera::Error,
    },
    #[error("email template {name} is missing under {dir}")]
    Missing { dir: String, name: String },
    #[error("an email template does not render")]
    Broken(#[source] RenderError),
}

/// Which template part failed; the cause is Tera's error.
#[derive(Debug, thiserror::Error)]
#[error("{name}")]
struct PartError {
    name: String,
    #[source]
    cause: tera::Error,
}

/// A `.txt` template without its `Subject: ...` first line.
#[derive(Debug, thiserror::Error)]
#[error("{kind}.txt must start with a `Subject: ...` line")]
struct NoSubject {
    kind: String,
}

/// How much of a client's user agent a new-sign-in notice shows. The
/// header is the client's own text: a bounded, quoted excerpt identifies
/// the browser without letting it write a paragraph into our email.
pub const SHOWN_USER_AGENT_CHARS: usize = 200;

pub struct TeraRenderer {
    tera: Tera,
}

impl TeraRenderer {
    /// Loads every template under `{dir}/email/` and checks that each kind
    /// of email has both parts and renders.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let email_dir: PathBuf = dir.as_ref().join("email");
        let shown = email_dir.display().to_string();
        let mut tera = Tera::default();
        let glob = format!("{}/*", email_dir.display());
        tera.load_from_glob(&glob)
            .map_err(|cause| TemplateError::Load {
                dir: shown.clone(),
                cause,
            })?;
        let renderer = Self { tera };
        // One example of each kind, so a missing or broken template stops the
        // worker before it takes any job.
        for sample in Email::samples() {
            for part in ["html", "txt"] {
                let name = format!("{}.{part}", sample.kind());
                if !renderer.tera.contains_template(&name) {
                    return Err(TemplateError::Missing {
                        dir: shown.clone(),
                        name,
                    });
                }
            }
            renderer
                .render(&EmailJob::new(sample, chrono::DateTime::UNIX_EPOCH))
                .map_err(TemplateError::Broken)?;
        }
        Ok(renderer)
    }

    fn render_part(&self, email: &Email, part: &str) -> Result<String, RenderError> {
        let name = format!("{}.{part}", email.kind());
        let failed = |cause: tera::Error| RenderError {
            kind: email.kind().to_owned(),
            cause: Box::new(PartError {
                name: name.clone(),
                cause,
            }),
        };
        let mut context = Context::from_serialize(email).map_err(failed)?;
        if let Email::NewDeviceLogin { user_agent, .. } = email {
            let shown: String = user_agent.chars().take(SHOWN_USER_AGENT_CHARS).collect();
            context.insert("user_agent", &shown);
        }
        self.tera.render(&name, &context).map_err(failed)
    }
}

/// Splits `Subject: ...\n\nbody` into subject and body.
fn split_subject(text: &str) -> Option<(String, String)> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first
        .trim_end_matches('\r')
        .strip_prefix("Subject:")?
        .trim();
    if subject.is_empty() {
        return None;
    }
    let body = rest.trim_start_matches(['\r', '\n']);
    Some((subject.to_owned(), body.to_owned()))
}

impl EmailRenderer for TeraRenderer {
    fn render(&self, job: &EmailJob) -> Result<RenderedEmail, RenderError> {
        let email = &job.email;
        let text = self.render_part(email, "txt")?;
        let html = self.render_part(email, "html")?;
        let (subject, text) = split_subject(&text).ok_or_else(|| RenderError {
            kind: email.kind().to_owned(),
            cause: Box::new(NoSubject {
                kind: email.kind().to_owned(),
            }),
        })?;
        Ok(RenderedEmail {
            job_id: job.id,
            created_at: job.created_at,
            kind: email.kind().to_owned(),
            to: email.recipient().to_owned(),
            subject,
            text,
            html,
        })
    }
}

#[cfg(test)]
mod tests;
