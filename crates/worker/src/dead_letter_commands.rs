//! `email-worker dead-letters list | requeue`: what an operator does with
//! jobs that were given up on.

use std::io::Write;

use application::delivery::{DeliveryQueueError, QueueAdmin};

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterCommandError {
    #[error("cannot reach the dead letters")]
    Queue(#[from] DeliveryQueueError),
    #[error("cannot write the answer")]
    Output(#[from] std::io::Error),
    #[error("cannot write a dead letter as JSON")]
    Json(#[from] serde_json::Error),
    #[error("no dead letter with id {0}")]
    NotFound(String),
}

/// Writes one line per dead letter to `out` (id, kind, attempts, time and
/// reason; with `json`, the whole letter as JSON) and returns how many.
pub async fn list(
    queue: &dyn QueueAdmin,
    json: bool,
    out: &mut impl Write,
) -> Result<usize, DeadLetterCommandError> {
    let letters = queue.dead_letters().await?;
    for letter in &letters {
        if json {
            writeln!(out, "{}", serde_json::to_string(letter)?)?;
        } else {
            writeln!(
                out,
                "{}\t{}\tattempts={}\tdead_at={}\treason={}",
                letter.id,
                letter.kind.as_deref().unwrap_or("-"),
                letter.history.len(),
                letter.dead_at.to_rfc3339(),
                letter.reason
            )?;
        }
    }
    Ok(letters.len())
}

/// Which dead letters to put back on the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    One(String),
    All,
}

/// Puts dead letters back on the queue as fresh jobs and says so on `out`.
pub async fn requeue(
    queue: &dyn QueueAdmin,
    which: Requeue,
    out: &mut impl Write,
) -> Result<(), DeadLetterCommandError> {
    match which {
        Requeue::All => {
            let moved = queue.requeue_all_dead_letters().await?;
            writeln!(out, "requeued {moved} dead letter(s)")?;
        }
        Requeue::One(id) => {
            if !queue.requeue_dead_letter(&id).await? {
                return Err(DeadLetterCommandError::NotFound(id));
            }
            writeln!(out, "requeued {id}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use application::delivery::{DeadLetter, MockQueueAdmin};
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;

    fn letter() -> DeadLetter {
        DeadLetter {
            id: "job-1".into(),
            kind: Some("welcome".into()),
            payload: "{}".into(),
            reason: "permanent failure: mailgun answered 400".into(),
            history: Vec::new(),
            dead_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    fn holding_one() -> MockQueueAdmin {
        let mut queue = MockQueueAdmin::new();
        queue.expect_dead_letters().returning(|| Ok(vec![letter()]));
        queue
    }

    #[tokio::test]
    async fn list_writes_one_line_per_letter() {
        let mut out = Vec::new();
        let count = list(&holding_one(), false, &mut out).await.unwrap();
        assert_eq!(count, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "job-1\twelcome\tattempts=0\tdead_at=2026-01-02T03:04:05+00:00\t\
             reason=permanent failure: mailgun answered 400\n"
        );
    }

    #[tokio::test]
    async fn list_json_writes_each_letter_whole() {
        let mut out = Vec::new();
        list(&holding_one(), true, &mut out).await.unwrap();
        let line: DeadLetter = serde_json::from_slice(&out).unwrap();
        assert_eq!(line, letter());
    }

    #[tokio::test]
    async fn requeueing_an_unknown_id_is_an_error() {
        let mut queue = MockQueueAdmin::new();
        queue
            .expect_requeue_dead_letter()
            .with(eq("nope"))
            .returning(|_| Ok(false));
        let error = requeue(&queue, Requeue::One("nope".into()), &mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "no dead letter with id nope");
    }

    #[tokio::test]
    async fn requeue_all_says_how_many() {
        let mut queue = MockQueueAdmin::new();
        queue.expect_requeue_all_dead_letters().returning(|| Ok(2));
        let mut out = Vec::new();
        requeue(&queue, Requeue::All, &mut out).await.unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "requeued 2 dead letter(s)\n"
        );
    }
}
