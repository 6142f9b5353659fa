//! The monthly partitions of `audit_events`: one per UTC month, named
//! `audit_events_yYYYYmMM`, made ahead of time and dropped whole once the
//! retention has passed them. The name is what the purge reads a month
//! from, so only tables this module made (or the migration, which names
//! them the same way) are ever dropped.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use crate::connection::PgConn;

/// The transaction-level advisory lock ("auditprt") taken around creating
/// and dropping partitions: two instances preparing the same month at once
/// would otherwise both miss it and one fail on the catalogue's unique
/// index, `IF NOT EXISTS` notwithstanding.
const PARTITION_LOCK_KEY: i64 = 0x6175_6469_7470_7274;

const PREFIX: &str = "audit_events_y";

/// The partitions of `audit_events`, whatever their names.
const PARTITIONS: &str = "\
SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1";

/// A UTC calendar month. Years are kept to four digits (so names sort as
/// months do and bounds are plain literals); an event outside them is a
/// bug, refused rather than given a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Month {
    year: i32,
    month: u32,
}

/// An instant outside the years partitions are made for.
#[derive(Debug, thiserror::Error)]
#[error("no audit partition can hold an event at {0}")]
pub(super) struct OutOfRange(pub(super) DateTime<Utc>);

impl Month {
    pub(super) fn containing(at: DateTime<Utc>) -> Result<Self, OutOfRange> {
        // 9998 so that the month after any month still has four digits.
        if (1..=9998).contains(&at.year()) {
            Ok(Self {
                year: at.year(),
                month: at.month(),
            })
        } else {
            Err(OutOfRange(at))
        }
    }

    pub(super) fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub(super) fn name(self) -> String {
        format!("{PREFIX}{:04}m{:02}", self.year, self.month)
    }

    /// The month a partition's name stands for; `None` for any other name.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(PREFIX)?;
        let (year, month) = rest.split_once('m')?;
        let digits =
            |text: &str, len| text.len() == len && text.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let parsed = Self {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        ((1..=12).contains(&parsed.month) && (1..=9998).contains(&parsed.year)).then_some(parsed)
    }

    /// Midnight UTC on the first of the month.
    fn start(self) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
    }

    fn literal(self) -> String {
        format!("{:04}-{:02}-01 00:00:00+00", self.year, self.month)
    }

    /// DDL takes no bind parameters: every part here is made from numbers.
    fn create_statement(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF audit_events \
             FOR VALUES FROM ('{}') TO ('{}')",
            self.name(),
            self.literal(),
            self.next().literal()
        )
    }
}

/// `month` and the two after it.
pub(super) fn ahead(month: Month) -> [Month; 3] {
    [month, month.next(), month.next().next()]
}

async fn lock(conn: &mut PgConn) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(PARTITION_LOCK_KEY)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Creates the partitions of `months` that do not exist yet. Must run in
/// a transaction (the lock is held until it ends). Creating a partition
/// locks `audit_events` against every reader and writer until then, so
/// it is done ahead of time, not on the way of each insert.
pub(super) async fn create(
    conn: &mut PgConn,
    months: impl IntoIterator<Item = Month>,
) -> diesel::QueryResult<()> {
    let months: BTreeSet<Month> = months.into_iter().collect();
    lock(conn).await?;
    for month in months {
        diesel::sql_query(month.create_statement())
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct PartitionRow {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Drops the partitions whose month ends at or before `cutoff`, in a
/// transaction the caller opened; returns their names, oldest first.
pub(super) async fn drop_before(
    conn: &mut PgConn,
    cutoff: DateTime<Utc>,
) -> diesel::QueryResult<Vec<String>> {
    lock(conn).await?;
    let rows = diesel::sql_query(PARTITIONS)
        .load::<PartitionRow>(conn)
        .await?;
    let mut dropped = Vec::new();
    for row in rows {
        let Some(month) = Month::from_name(&row.name) else {
            continue;
        };
        if month.next().start().is_some_and(|end| end <= cutoff) {
            diesel::sql_query(format!("DROP TABLE \"{}\"", month.name()))
                .execute(conn)
                .await?;
            dropped.push(row.name);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn months_roll_over_the_year_and_name_themselves() {
        let december = Month::containing(at(2026, 12, 31)).unwrap();
        assert_eq!(december.name(), "audit_events_y2026m12");
        assert_eq!(december.next().name(), "audit_events_y2027m01");
        assert_eq!(
            ahead(december).map(Month::name),
            [
                "audit_events_y2026m12",
                "audit_events_y2027m01",
                "audit_events_y2027m02"
            ]
        );
        assert_eq!(
            december.create_statement(),
            "CREATE TABLE IF NOT EXISTS \"audit_events_y2026m12\" PARTITION OF audit_events \
             FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')"
        );
    }

    #[test]
    fn only_partition_names_are_read_as_months() {
        let month = Month::containing(at(2027, 3, 1)).unwrap();
        assert_eq!(Month::from_name(&month.name()), Some(month));
        for other in [
            "audit_events",
            "audit_events_default",
            "audit_events_y2027m13",
            "audit_events_y2027m00",
            "audit_events_y27m03",
            "audit_events_y2027m03_old",
            "audit_events_y+027m03",
            "sessions",
        ] {
            assert_eq!(Month::from_name(other), None, "{other}");
        }
    }

    #[test]
    fn instants_beyond_four_digit_years_are_refused() {
        assert!(Month::containing(DateTime::<Utc>::MAX_UTC).is_err());
        assert!(Month::containing(DateTime::<Utc>::MIN_UTC).is_err());
        assert!(Month::containing(at(9998, 12, 1)).is_ok());
    }
}
