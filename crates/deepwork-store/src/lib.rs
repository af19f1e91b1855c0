//! Deepwork's SQLite store.
//!
//! One [`Store`] owns the connection (WAL, foreign keys on). Writes go through
//! [`Store::write`], one explicit transaction each, so an item is durable when the call
//! returns. Times are passed in, stored as milliseconds since the Unix epoch.

mod migrations;

use deepwork_core::digest::{DigestId, DoneBy, ItemRecord};
use deepwork_core::escalation::Ladder;
use deepwork_core::session::HeldRef;
use deepwork_core::standup::{
    Intent, Outcome, PostTarget, Posted, SourceWork, StandupDraft, StandupEntry,
};
use deepwork_core::stats::{ItemFact, SessionRecord};
use deepwork_core::triage::Reason;
use deepwork_core::triage::deadline::StatedDeadline;
use deepwork_core::{Class, Disposition, ItemId, NewItem, SessionId};
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, params};
use std::path::Path;

pub use migrations::{MIGRATIONS, SCHEMA_VERSION};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer Deepwork.
    #[error(
        "the database has schema version {found}, newer than this Deepwork understands ({supported}); upgrade Deepwork"
    )]
    TooNew {
        /// The version in the file.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A database opened read-only is older than this build's schema.
    #[error(
        "the database has schema version {found}, older than this Deepwork's ({supported}); start the engine once to bring it up to date"
    )]
    Outdated {
        /// The version in the file.
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// A row holds something this build cannot read.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch, the stored form of a time.
pub fn to_millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// Reads a stored time.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// What a row of `sessions` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// A deep work session.
    Focus,
    /// Items held outside work hours: no focus time.
    OffHours,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Focus => "focus",
            SessionKind::OffHours => "off_hours",
        }
    }
}

/// What became of a planned block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFate {
    /// Its session ran.
    Ran,
    /// The user skipped it, or stopped its session.
    Skipped,
}

/// A session still running, as needed to restore the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningSession {
    /// The session row.
    pub record: SessionRecord,
    /// A focus session or an after-hours hold.
    pub kind: SessionKind,
    /// The planned block it runs for.
    pub plan: Option<String>,
    /// Check-ins still to come.
    pub check_ins: Vec<Timestamp>,
    /// Held items not yet delivered.
    pub held: Vec<HeldRef>,
}

/// A delivered digest's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestRow {
    /// Its id.
    pub id: DigestId,
    /// Its session.
    pub session: SessionId,
    /// When it was delivered.
    pub delivered_at: Timestamp,
}

/// A platform's status from before a session, not yet put back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRestore {
    /// The session it was taken for.
    pub session: SessionId,
    /// The adapter.
    pub adapter: String,
    /// The adapter's own record, as JSON text.
    pub data: String,
}

/// The title an item keeps once its text is forgotten.
pub const FORGOTTEN: &str = "(forgotten)";

/// The one owner of the SQLite connection.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        Store::setup(Connection::open(path)?)
    }

    /// Opens an existing database at `path` for reading only, as it stands: nothing is
    /// created or migrated, for a command that reads while no engine runs.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::Outdated {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(Store { conn })
    }

    /// An in-memory database, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        // WAL lets readers (a second `deepwork` reading stats) never block the writer;
        // synchronous=FULL fsyncs each commit, so an acknowledged item survives power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Runs `f` in one transaction; committed only if it returns `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let mut writer = Writer { tx };
        let value = f(&mut writer)?;
        writer.tx.commit()?;
        Ok(value)
    }

    /// The largest item and session ids in use (0 when none), so the engine can allocate.
    pub fn max_ids(&self) -> Result<(ItemId, SessionId)> {
        let item = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM items", [], |r| r.get(0))?;
        let session =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM sessions", [], |r| {
                    r.get(0)
                })?;
        Ok((ItemId(item), SessionId(session)))
    }

    /// The session that has not ended, with what the machine needs to resume it.
    pub fn running_session(&self) -> Result<Option<RunningSession>> {
        let row = self
            .conn
            .query_row(
                "SELECT id, started_at, planned_end, ended_at, early, plan, check_ins, kind
                 FROM sessions WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        session_record(r)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((record, check_ins, kind, plan)) = row else {
            return Ok(None);
        };
        let kind = match kind.as_str() {
            "focus" => SessionKind::Focus,
            "off_hours" => SessionKind::OffHours,
            other => {
                return Err(StoreError::Corrupt {
                    table: "sessions",
                    detail: format!("kind {other:?} of session {}", record.id),
                });
            }
        };
        let check_ins: Vec<i64> =
            serde_json::from_str(&check_ins).map_err(|e| StoreError::Corrupt {
                table: "sessions",
                detail: format!("check_ins of session {}: {e}", record.id),
            })?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, class FROM items
             WHERE session_id = ?1 AND disposition = 'held' AND digest_id IS NULL ORDER BY id",
        )?;
        let held = stmt
            .query_map([record.id.0], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .map(|row| {
                let (id, class) = row?;
                Ok(HeldRef {
                    id: ItemId(id),
                    class: parse_class(&class)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RunningSession {
            record,
            kind,
            plan,
            check_ins: check_ins.into_iter().map(from_millis).collect(),
            held,
        }))
    }

    /// The item its source already handed in under `message_id`.
    pub fn item_by_message(&self, source: &str, message_id: &str) -> Result<Option<ItemRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE source = ?1 AND message_id = ?2"
        ))?;
        stmt.query_row(params![source, message_id], item_record)
            .optional()?
            .transpose()
    }

    /// One item.
    pub fn item(&self, id: ItemId) -> Result<Option<ItemRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?;
        stmt.query_row([id.0], item_record).optional()?.transpose()
    }

    /// The newest digests first, at most `limit`.
    pub fn digests(&self, limit: u32) -> Result<Vec<DigestRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, session_id, delivered_at FROM digests ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], digest_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One digest's row.
    pub fn digest_row(&self, id: DigestId) -> Result<Option<DigestRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, session_id, delivered_at FROM digests WHERE id = ?1")?;
        Ok(stmt.query_row([id.0], digest_row).optional()?)
    }

    /// The items a digest delivered, in arrival order.
    pub fn digest_items(&self, digest: DigestId) -> Result<Vec<ItemRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE digest_id = ?1 ORDER BY id"
        ))?;
        let count: usize = self.conn.query_row(
            "SELECT COUNT(*) FROM items WHERE digest_id = ?1",
            [digest.0],
            |r| r.get(0),
        )?;
        let mut items = Vec::with_capacity(count);
        for row in stmt.query_map([digest.0], item_record)? {
            items.push(row??);
        }
        Ok(items)
    }

    /// The items the user re-classed, newest first, at most `limit`: the lessons triage
    /// learns from.
    pub fn lessons(&self, limit: usize) -> Result<Vec<(NewItem, Class)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.source, i.sender, i.channel, i.title, i.body, l.class
             FROM triage_lessons l JOIN items i ON i.id = l.item_id
             ORDER BY l.taught_at DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let item = NewItem {
                source: r.get(0)?,
                sender: r.get(1)?,
                channel: r.get(2)?,
                title: r.get(3)?,
                body: r.get(4)?,
                url: None,
                urgency: None,
                message_id: None,
                source_class: None,
                conversation: None,
            };
            Ok((item, parse_class(text(r, 5)?)))
        })?;
        let mut lessons = Vec::new();
        for row in rows {
            let (item, class) = row?;
            lessons.push((item, class?));
        }
        Ok(lessons)
    }

    /// The snapshot an adapter took for a session, as JSON text.
    pub fn status_snapshot(&self, session: SessionId, adapter: &str) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM status_snapshots WHERE session_id = ?1 AND adapter = ?2",
        )?;
        Ok(stmt
            .query_row(params![session.0, adapter], |r| r.get(0))
            .optional()?)
    }

    /// Snapshots of sessions that have ended but were not restored (the engine was down,
    /// or the platform was unreachable).
    pub fn pending_restores(&self) -> Result<Vec<PendingRestore>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.session_id, s.adapter, s.data FROM status_snapshots s
             JOIN sessions ON sessions.id = s.session_id
             WHERE s.restored_at IS NULL AND sessions.ended_at IS NOT NULL
             ORDER BY s.session_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingRestore {
                session: SessionId(r.get(0)?),
                adapter: r.get(1)?,
                data: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The escalations with something left to do or wait for (steps, or a text reply
    /// that may still acknowledge), oldest first.
    pub fn open_escalations(&self) -> Result<Vec<Ladder>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ladder FROM escalations WHERE open = 1 ORDER BY item_id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|row| ladder_from(&row?)).collect()
    }

    /// The escalations of these items, where they have one.
    pub fn escalations_of(&self, items: &[ItemId]) -> Result<Vec<Ladder>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ladder FROM escalations WHERE item_id = ?1")?;
        let mut found = Vec::new();
        for item in items {
            if let Some(text) = stmt
                .query_row([item.0], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.push(ladder_from(&text)?);
            }
        }
        Ok(found)
    }

    /// Where an adapter stopped reading in `session`, if it read during it.
    pub fn adapter_cursor(&self, adapter: &str, session: SessionId) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT cursor FROM adapter_cursors WHERE adapter = ?1 AND session_id = ?2",
        )?;
        Ok(stmt
            .query_row(params![adapter, session.0], |r| r.get(0))
            .optional()?)
    }

    /// Focus sessions overlapping [`from`, `to`), plus any still running.
    pub fn sessions_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SessionRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, started_at, planned_end, ended_at, early, plan FROM sessions
             WHERE kind = 'focus' AND started_at < ?2 AND (ended_at IS NULL OR ended_at > ?1)
             ORDER BY started_at",
        )?;
        let rows = stmt.query_map([to_millis(from), to_millis(to)], session_record)?;
        let mut sessions = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut away = self.conn.prepare_cached(
            "SELECT a.session_id, a.started_at, a.ended_at FROM away a JOIN sessions s ON s.id = a.session_id
             WHERE s.kind = 'focus' AND s.started_at < ?2 AND (s.ended_at IS NULL OR s.ended_at > ?1)
             ORDER BY a.session_id, a.started_at",
        )?;
        let spans = away.query_map([to_millis(from), to_millis(to)], |r| {
            Ok((
                SessionId(r.get(0)?),
                (from_millis(r.get(1)?), from_millis(r.get(2)?)),
            ))
        })?;
        let index: std::collections::HashMap<SessionId, usize> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        for span in spans {
            let (session, span) = span?;
            if let Some(&i) = index.get(&session) {
                sessions[i].away.push(span);
            }
        }
        Ok(sessions)
    }

    /// What stats need of the items of focus sessions started in [`from`, `to`).
    pub fn item_facts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ItemFact>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.session_id, i.received_at, i.class, i.disposition, i.deadline_at, i.done_at
             FROM items i JOIN sessions s ON s.id = i.session_id
             WHERE s.kind = 'focus' AND s.started_at >= ?1 AND s.started_at < ?2",
        )?;
        let rows = stmt.query_map([to_millis(from), to_millis(to)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (session, received_at, class, disposition, deadline, done_at) = row?;
            Ok(ItemFact {
                session: SessionId(session),
                received_at: from_millis(received_at),
                class: parse_class(&class)?,
                disposition: parse_disposition(&disposition)?,
                deadline: deadline.map(from_millis),
                done_at: done_at.map(from_millis),
            })
        })
        .collect()
    }

    /// Items not done that arrived at or after `since`, oldest first, with when each was
    /// reminded of: what is still owed.
    pub fn open_items(&self, since: Timestamp) -> Result<Vec<OpenItem>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS}, reminded_at FROM items
             WHERE done_at IS NULL AND received_at >= ?1 ORDER BY received_at, id"
        ))?;
        let rows = stmt.query_map([to_millis(since)], |r| {
            let reminded_at = r.get::<_, Option<i64>>(21)?.map(from_millis);
            Ok(item_record(r)?.map(|record| OpenItem {
                record,
                reminded_at,
            }))
        })?;
        rows.map(|row| row?).collect()
    }

    /// The intents of focus sessions started at or after `since`, oldest first.
    pub fn intents_since(&self, since: Timestamp) -> Result<Vec<Intent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, started_at, intent, outcome, outcome_note FROM sessions
             WHERE kind = 'focus' AND intent IS NOT NULL AND started_at >= ?1
             ORDER BY started_at, id",
        )?;
        let rows = stmt.query_map([to_millis(since)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (id, started_at, text, outcome, note) = row?;
            let outcome = match outcome {
                None => None,
                Some(name) => Some(Outcome::parse(&name).ok_or_else(|| StoreError::Corrupt {
                    table: "sessions",
                    detail: format!("unknown outcome {name:?} of session {id}"),
                })?),
            };
            Ok(Intent {
                session: SessionId(id),
                started_at: from_millis(started_at),
                text,
                outcome,
                note,
            })
        })
        .collect()
    }

    /// What `session` is for, if it was started with an intent.
    pub fn intent_of(&self, session: SessionId) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT intent FROM sessions WHERE id = ?1")?;
        Ok(stmt
            .query_row([session.0], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// The latest focus session that has an intent, if any.
    pub fn latest_intent(&self) -> Result<Option<Intent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_at FROM sessions WHERE kind = 'focus' AND intent IS NOT NULL
             ORDER BY started_at DESC, id DESC LIMIT 1",
        )?;
        let Some(started_at) = stmt.query_row([], |r| r.get::<_, i64>(0)).optional()? else {
            return Ok(None);
        };
        Ok(self
            .intents_since(from_millis(started_at))?
            .into_iter()
            .last())
    }

    /// The standup kept for `day`.
    pub fn standup(&self, day: Date) -> Result<Option<StandupEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STANDUP_COLUMNS} FROM standups WHERE day = ?1"
        ))?;
        stmt.query_row([day.to_string()], standup_entry)
            .optional()?
            .transpose()
    }

    /// The kept standups, newest first, at most `limit`.
    pub fn standups(&self, limit: u32) -> Result<Vec<StandupEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STANDUP_COLUMNS} FROM standups ORDER BY day DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], standup_entry)?;
        rows.map(|row| row?).collect()
    }

    /// The latest day a standup was kept for.
    pub fn last_standup_day(&self) -> Result<Option<Date>> {
        let day: Option<String> =
            self.conn
                .query_row("SELECT max(day) FROM standups", [], |r| r.get(0))?;
        day.map(|day| parse_day(&day)).transpose()
    }

    /// What the sources reported shipped at or after `since`, and blocked now, oldest
    /// first.
    pub fn source_work(&self, since: Timestamp) -> Result<(Vec<SourceWork>, Vec<SourceWork>)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, source, key, title, at FROM source_work
             WHERE kind = 'blocked' OR at >= ?1 ORDER BY at, source, key",
        )?;
        let rows = stmt.query_map([to_millis(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                SourceWork {
                    source: r.get(1)?,
                    key: r.get(2)?,
                    title: r.get(3)?,
                    at: from_millis(r.get(4)?),
                },
            ))
        })?;
        let (mut shipped, mut blocked) = (Vec::new(), Vec::new());
        for row in rows {
            let (kind, work) = row?;
            if kind == "blocked" {
                blocked.push(work);
            } else {
                shipped.push(work);
            }
        }
        Ok((shipped, blocked))
    }

    /// Items done at or after `since`, by when.
    pub fn done_since(&self, since: Timestamp) -> Result<Vec<ItemRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE done_at >= ?1 ORDER BY done_at, id"
        ))?;
        let rows = stmt.query_map([to_millis(since)], item_record)?;
        rows.map(|row| row?).collect()
    }

    /// What became of the planned block `plan`: `None` while it has neither run (even
    /// briefly, or only its part after a meeting, "PLAN from 10:30") nor been skipped;
    /// skipped when it was stopped part way.
    pub fn plan_fate(&self, plan: &str) -> Result<Option<PlanFate>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE plan = ?1
                        OR substr(plan, 1, length(?1) + 6) = ?1 || ' from '),
                    EXISTS (SELECT 1 FROM plan_skips WHERE plan = ?1)",
        )?;
        let (ran, skipped): (bool, bool) =
            stmt.query_row([plan], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(if skipped {
            Some(PlanFate::Skipped)
        } else if ran {
            Some(PlanFate::Ran)
        } else {
            None
        })
    }
}

/// An item still owed, and when the user was reminded of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenItem {
    /// The item.
    pub record: ItemRecord,
    /// When its one reminder was given, if it was.
    pub reminded_at: Option<Timestamp>,
}

/// The last good copy of a calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarCopy {
    /// Its address, as configured.
    pub url: String,
    /// The iCalendar text.
    pub body: String,
    /// What identifies this version to the server (ETag, sync-token).
    pub validator: Option<String>,
    /// When it was fetched.
    pub fetched_at: Timestamp,
}

impl Store {
    /// Every calendar copy kept.
    pub fn calendar_copies(&self) -> Result<Vec<CalendarCopy>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT url, body, validator, fetched_at FROM calendar_copies ORDER BY url",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CalendarCopy {
                url: r.get(0)?,
                body: r.get(1)?,
                validator: r.get(2)?,
                fetched_at: from_millis(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Writes inside one transaction.
#[derive(Debug)]
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Writer<'_> {
    /// Records a new session or after-hours hold; `plan` names the block it runs for.
    pub fn insert_session(
        &mut self,
        id: SessionId,
        kind: SessionKind,
        started_at: Timestamp,
        planned_end: Timestamp,
        check_ins: &[Timestamp],
        plan: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO sessions (id, kind, started_at, planned_end, check_ins, plan)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.0,
                kind.as_str(),
                to_millis(started_at),
                to_millis(planned_end),
                millis_json(check_ins),
                plan
            ],
        )?;
        Ok(())
    }

    /// Keeps `copy` as the calendar's last good version.
    pub fn save_calendar_copy(&mut self, copy: &CalendarCopy) -> Result<()> {
        self.tx.execute(
            "INSERT INTO calendar_copies (url, body, validator, fetched_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (url) DO UPDATE SET body = ?2, validator = ?3, fetched_at = ?4",
            params![
                copy.url,
                copy.body,
                copy.validator,
                to_millis(copy.fetched_at)
            ],
        )?;
        Ok(())
    }

    /// Forgets the copies of calendars no longer followed.
    pub fn keep_calendar_copies(&mut self, urls: &[&str]) -> Result<()> {
        let mut stmt = self.tx.prepare_cached("SELECT url FROM calendar_copies")?;
        let stored: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        for url in stored.iter().filter(|u| !urls.contains(&u.as_str())) {
            self.tx
                .execute("DELETE FROM calendar_copies WHERE url = ?1", [url])?;
        }
        Ok(())
    }

    /// Remembers that the planned block `plan` is skipped.
    pub fn skip_plan(&mut self, plan: &str, at: Timestamp) -> Result<()> {
        self.tx.execute(
            "INSERT OR IGNORE INTO plan_skips (plan, skipped_at) VALUES (?1, ?2)",
            params![plan, to_millis(at)],
        )?;
        Ok(())
    }

    /// Records a session's new end and its check-ins to come.
    pub fn reschedule_session(
        &mut self,
        id: SessionId,
        planned_end: Timestamp,
        check_ins: &[Timestamp],
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE sessions SET planned_end = ?2, check_ins = ?3 WHERE id = ?1",
            params![id.0, to_millis(planned_end), millis_json(check_ins)],
        )?;
        Ok(())
    }

    /// Records the check-ins still to come (after one was delivered).
    pub fn set_check_ins(&mut self, id: SessionId, check_ins: &[Timestamp]) -> Result<()> {
        self.tx.execute(
            "UPDATE sessions SET check_ins = ?2 WHERE id = ?1",
            params![id.0, millis_json(check_ins)],
        )?;
        Ok(())
    }

    /// Records time inside a session when the user was away from the computer.
    pub fn record_away(
        &mut self,
        session: SessionId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO away (session_id, started_at, ended_at) VALUES (?1, ?2, ?3)",
            params![session.0, to_millis(from), to_millis(to)],
        )?;
        Ok(())
    }

    /// Records a session's end.
    pub fn end_session(&mut self, id: SessionId, ended_at: Timestamp, early: bool) -> Result<()> {
        self.tx.execute(
            "UPDATE sessions SET ended_at = ?2, early = ?3, check_ins = '[]' WHERE id = ?1",
            params![id.0, to_millis(ended_at), early],
        )?;
        Ok(())
    }

    /// Stores an item.
    pub fn insert_item(&mut self, item: &ItemRecord) -> Result<()> {
        let (reason_kind, reason_detail, reason_rule) = item.reason.to_parts();
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO items (id, session_id, received_at, source, sender, channel, title, body, url,
                                class, reason_kind, reason_detail, reason_rule, disposition, digest_id, done_at,
                                deadline_at, deadline_phrase, message_id, conversation, done_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                     ?20, ?21)",
        )?;
        stmt.execute(params![
            item.id.0,
            item.session.map(|s| s.0),
            to_millis(item.received_at),
            item.source,
            item.sender,
            item.channel,
            item.title,
            item.body,
            item.url,
            item.class.as_str(),
            reason_kind,
            reason_detail,
            reason_rule,
            item.disposition.as_str(),
            item.digest.map(|d| d.0),
            item.done_at.map(to_millis),
            item.deadline.as_ref().map(|d| to_millis(d.at)),
            item.deadline.as_ref().map(|d| d.phrase.as_str()),
            item.message_id,
            item.conversation,
            item.done_by.map(DoneBy::as_str),
        ])?;
        Ok(())
    }

    /// Replaces a waiting item's title and body (a notification that replaced it);
    /// `false` when it is no longer waiting (delivered, or not held), which is left
    /// as the user saw it.
    pub fn update_waiting_text(
        &mut self,
        id: ItemId,
        title: &str,
        body: Option<&str>,
    ) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE items SET title = ?2, body = ?3 WHERE id = ?1 AND disposition = 'held' AND digest_id IS NULL",
            params![id.0, title, body],
        )?;
        Ok(changed == 1)
    }

    /// Forgets the text of items received before `before` that are handled (done,
    /// delivered in a digest, or shown when they came): sender, channel, title, body,
    /// link and stated deadline, and the lessons taught from them. Class, times and
    /// what happened stay, so the stats do. Returns how many items were forgotten.
    pub fn forget_before(&mut self, before: Timestamp) -> Result<usize> {
        let handled = format!(
            "received_at < ?1 AND title != '{FORGOTTEN}' \
             AND (done_at IS NOT NULL OR digest_id IS NOT NULL OR disposition = 'shown')"
        );
        self.tx.execute(
            &format!(
                "DELETE FROM triage_lessons WHERE item_id IN (SELECT id FROM items WHERE {handled})"
            ),
            [to_millis(before)],
        )?;
        let forgotten = self.tx.execute(
            &format!(
                "UPDATE items SET sender = '', channel = NULL, title = '{FORGOTTEN}', body = NULL, url = NULL, \
                 deadline_phrase = CASE WHEN deadline_phrase IS NULL THEN NULL ELSE '' END \
                 WHERE {handled}"
            ),
            [to_millis(before)],
        )?;
        Ok(forgotten)
    }

    /// Records the class the user gave an item and re-classes it; `false` when there is
    /// no such item. Teaching the same item again replaces the lesson.
    pub fn teach(&mut self, item: ItemId, class: Class, at: Timestamp) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE items SET class = ?2, reason_kind = 'corrected', reason_detail = NULL, reason_rule = NULL
             WHERE id = ?1",
            params![item.0, class.as_str()],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        self.tx.execute(
            "INSERT OR REPLACE INTO triage_lessons (item_id, class, taught_at) VALUES (?1, ?2, ?3)",
            params![item.0, class.as_str(), to_millis(at)],
        )?;
        Ok(true)
    }

    /// Creates a digest delivering `items`; items already delivered are left alone, so
    /// delivering twice cannot happen.
    pub fn insert_digest(
        &mut self,
        session: SessionId,
        at: Timestamp,
        items: &[ItemId],
    ) -> Result<DigestId> {
        self.tx.execute(
            "INSERT INTO digests (session_id, delivered_at) VALUES (?1, ?2)",
            params![session.0, to_millis(at)],
        )?;
        let digest = DigestId(self.tx.last_insert_rowid());
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE items SET digest_id = ?1 WHERE id = ?2 AND digest_id IS NULL AND disposition = 'held'")?;
        for item in items {
            stmt.execute(params![digest.0, item.0])?;
        }
        // Emergencies that broke through are listed too: one missed popup loses nothing.
        self.tx.execute(
            "UPDATE items SET digest_id = ?1
             WHERE session_id = ?2 AND disposition = 'broke_through' AND digest_id IS NULL",
            params![digest.0, session.0],
        )?;
        Ok(digest)
    }

    /// Keeps a platform's status from before `session`. The first snapshot of a session
    /// wins: one taken again after a restart would record the focus status itself.
    pub fn save_status_snapshot(
        &mut self,
        session: SessionId,
        adapter: &str,
        data: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT OR IGNORE INTO status_snapshots (session_id, adapter, data, taken_at) VALUES (?1, ?2, ?3, ?4)",
            params![session.0, adapter, data, to_millis(at)],
        )?;
        Ok(())
    }

    /// Records that a snapshot was put back.
    pub fn mark_restored(
        &mut self,
        session: SessionId,
        adapter: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE status_snapshots SET restored_at = ?3 WHERE session_id = ?1 AND adapter = ?2",
            params![session.0, adapter, to_millis(at)],
        )?;
        Ok(())
    }

    /// Claims the one auto-reply `sender` may get in `session`; false if already claimed.
    pub fn claim_auto_reply(
        &mut self,
        session: SessionId,
        adapter: &str,
        sender: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let inserted = self.tx.execute(
            "INSERT OR IGNORE INTO auto_replies (session_id, adapter, sender, sent_at) VALUES (?1, ?2, ?3, ?4)",
            params![session.0, adapter, sender, to_millis(at)],
        )?;
        Ok(inserted == 1)
    }

    /// Stores an escalation as it now stands; `open` says whether it has anything left
    /// to do or wait for.
    pub fn save_escalation(&mut self, ladder: &Ladder, open: bool) -> Result<()> {
        let text = serde_json::to_string(ladder).map_err(|e| StoreError::Corrupt {
            table: "escalations",
            detail: e.to_string(),
        })?;
        self.tx.execute(
            "INSERT INTO escalations (item_id, ladder, open) VALUES (?1, ?2, ?3)
             ON CONFLICT (item_id) DO UPDATE SET ladder = excluded.ladder, open = excluded.open",
            params![ladder.item.0, text, open],
        )?;
        Ok(())
    }

    /// Records how far an adapter has read during `session`.
    pub fn set_adapter_cursor(
        &mut self,
        adapter: &str,
        session: SessionId,
        cursor: &str,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO adapter_cursors (adapter, session_id, cursor) VALUES (?1, ?2, ?3)
             ON CONFLICT (adapter) DO UPDATE SET session_id = excluded.session_id, cursor = excluded.cursor",
            params![adapter, session.0, cursor],
        )?;
        Ok(())
    }

    /// Marks an item done (or not). Returns false when there is no such item.
    pub fn set_done(&mut self, item: ItemId, done_at: Option<Timestamp>) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE items SET done_at = ?2, done_by = ?3 WHERE id = ?1",
            params![
                item.0,
                done_at.map(to_millis),
                done_at.map(|_| DoneBy::You.as_str())
            ],
        )?;
        Ok(changed == 1)
    }

    /// Marks an item done because the user answered it where it lives, at `at`;
    /// `false` when it was done already (by hand or by an earlier answer).
    pub fn mark_answered(&mut self, item: ItemId, at: Timestamp) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE items SET done_at = ?2, done_by = ?3 WHERE id = ?1 AND done_at IS NULL",
            params![item.0, to_millis(at), DoneBy::Answer.as_str()],
        )?;
        Ok(changed == 1)
    }

    /// Keeps what a session is for.
    pub fn set_intent(&mut self, session: SessionId, intent: &str) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE sessions SET intent = ?2 WHERE id = ?1",
            params![session.0, intent],
        )?;
        Ok(changed == 1)
    }

    /// Keeps how a session's intent went, and the user's note.
    pub fn set_outcome(
        &mut self,
        session: SessionId,
        outcome: Outcome,
        note: Option<&str>,
    ) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE sessions SET outcome = ?2, outcome_note = ?3 WHERE id = ?1 AND intent IS NOT NULL",
            params![session.0, outcome.as_str(), note],
        )?;
        Ok(changed == 1)
    }

    /// Keeps `draft` as the standup of its day; where it was posted stays.
    pub fn save_standup(
        &mut self,
        draft: &StandupDraft,
        edited_at: Option<Timestamp>,
    ) -> Result<()> {
        let lines = |lines: &[String]| serde_json::Value::from(lines).to_string();
        self.tx.execute(
            "INSERT INTO standups (day, since, shipped, today, blockers, edited_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day) DO UPDATE SET since = ?2, shipped = ?3, today = ?4,
                 blockers = ?5, edited_at = coalesce(?6, edited_at)",
            params![
                draft.date.to_string(),
                draft.since.to_string(),
                lines(&draft.shipped),
                lines(&draft.today),
                lines(&draft.blockers),
                edited_at.map(to_millis),
            ],
        )?;
        Ok(())
    }

    /// Records where the standup of `day` was posted.
    pub fn set_standup_posted(&mut self, day: Date, posted: &Posted) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE standups SET posted_to = ?2, posted_at = ?3, posted_link = ?4 WHERE day = ?1",
            params![
                day.to_string(),
                posted.to.to_string(),
                to_millis(posted.at),
                posted.link
            ],
        )?;
        Ok(changed == 1)
    }

    /// Records what `source` reports now: its shipped work is added to what was
    /// reported before, its blocked work replaces it; shipped work from before
    /// `forget_before` is dropped.
    pub fn record_source_work(
        &mut self,
        source: &str,
        shipped: &[SourceWork],
        blocked: &[SourceWork],
        forget_before: Timestamp,
    ) -> Result<()> {
        self.tx.execute(
            "DELETE FROM source_work WHERE source = ?1 AND (kind = 'blocked' OR at < ?2)",
            params![source, to_millis(forget_before)],
        )?;
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO source_work (source, kind, key, title, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source, kind, key) DO UPDATE SET title = ?4, at = ?5",
        )?;
        for (kind, works) in [("shipped", shipped), ("blocked", blocked)] {
            for work in works {
                insert.execute(params![
                    source,
                    kind,
                    work.key,
                    work.title,
                    to_millis(work.at)
                ])?;
            }
        }
        Ok(())
    }

    /// Records that an item's one reminder was given.
    pub fn set_reminded(&mut self, item: ItemId, at: Timestamp) -> Result<()> {
        self.tx.execute(
            "UPDATE items SET reminded_at = ?2 WHERE id = ?1",
            params![item.0, to_millis(at)],
        )?;
        Ok(())
    }
}

fn millis_json(times: &[Timestamp]) -> String {
    let millis: Vec<i64> = times.iter().copied().map(to_millis).collect();
    serde_json::Value::from(millis).to_string()
}

const STANDUP_COLUMNS: &str =
    "day, since, shipped, today, blockers, edited_at, posted_to, posted_at, posted_link";

fn parse_day(day: &str) -> Result<Date> {
    day.parse().map_err(|_| StoreError::Corrupt {
        table: "standups",
        detail: format!("{day:?} is not a date"),
    })
}

fn standup_entry(row: &Row<'_>) -> rusqlite::Result<Result<StandupEntry>> {
    let day: String = row.get(0)?;
    let since: String = row.get(1)?;
    let lines: [String; 3] = [row.get(2)?, row.get(3)?, row.get(4)?];
    let edited_at: Option<i64> = row.get(5)?;
    let posted: (Option<String>, Option<i64>, Option<String>) =
        (row.get(6)?, row.get(7)?, row.get(8)?);
    Ok((|| {
        let corrupt = |detail: String| StoreError::Corrupt {
            table: "standups",
            detail,
        };
        let [shipped, today, blockers] = lines.map(|text| {
            serde_json::from_str::<Vec<String>>(&text)
                .map_err(|e| corrupt(format!("the lines of {day}: {e}")))
        });
        let posted = match posted {
            (Some(to), Some(at), link) => Some(Posted {
                to: to
                    .parse::<PostTarget>()
                    .map_err(|e| corrupt(format!("where {day} was posted: {e}")))?,
                at: from_millis(at),
                link,
            }),
            _ => None,
        };
        Ok(StandupEntry {
            draft: StandupDraft {
                date: parse_day(&day)?,
                since: parse_day(&since)?,
                shipped: shipped?,
                today: today?,
                blockers: blockers?,
            },
            kept: true,
            edited_at: edited_at.map(from_millis),
            posted,
        })
    })())
}

const ITEM_COLUMNS: &str = "id, session_id, received_at, source, sender, channel, title, body, url, class, \
     reason_kind, reason_detail, reason_rule, disposition, digest_id, done_at, deadline_at, deadline_phrase, message_id, \
     conversation, done_by";

fn digest_row(r: &Row<'_>) -> rusqlite::Result<DigestRow> {
    Ok(DigestRow {
        id: DigestId(r.get(0)?),
        session: SessionId(r.get(1)?),
        delivered_at: from_millis(r.get(2)?),
    })
}

fn session_record(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId(r.get(0)?),
        started_at: from_millis(r.get(1)?),
        planned_end: from_millis(r.get(2)?),
        ended_at: r.get::<_, Option<i64>>(3)?.map(from_millis),
        early: r.get(4)?,
        planned: r.get::<_, Option<String>>(5)?.is_some(),
        away: Vec::new(),
    })
}

/// Reads a text column without copying it (the enum-like columns are parsed in place).
fn text<'r>(r: &'r Row<'_>, column: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(column)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn item_record(r: &Row<'_>) -> rusqlite::Result<Result<ItemRecord>> {
    let id = ItemId(r.get(0)?);
    let class = parse_class(text(r, 9)?);
    let reason_kind = text(r, 10)?;
    let reason = Reason::from_parts(reason_kind, r.get(11)?, r.get(12)?).ok_or_else(|| {
        StoreError::Corrupt {
            table: "items",
            detail: format!("unknown reason kind {reason_kind:?} of item {id}"),
        }
    });
    let disposition = parse_disposition(text(r, 13)?);
    let parsed = (|| {
        Ok(ItemRecord {
            id,
            session: r.get::<_, Option<i64>>(1)?.map(SessionId),
            received_at: from_millis(r.get(2)?),
            source: r.get(3)?,
            sender: r.get(4)?,
            channel: r.get(5)?,
            title: r.get(6)?,
            body: r.get(7)?,
            url: r.get(8)?,
            class: class?,
            reason: reason?,
            deadline: match (
                r.get::<_, Option<i64>>(16)?,
                r.get::<_, Option<String>>(17)?,
            ) {
                (Some(at), Some(phrase)) => Some(StatedDeadline {
                    at: from_millis(at),
                    phrase,
                }),
                _ => None,
            },
            disposition: disposition?,
            digest: r.get::<_, Option<i64>>(14)?.map(DigestId),
            done_at: r.get::<_, Option<i64>>(15)?.map(from_millis),
            done_by: r
                .get::<_, Option<String>>(20)?
                .as_deref()
                .and_then(DoneBy::parse),
            message_id: r.get(18)?,
            conversation: r.get(19)?,
        })
    })();
    Ok(parsed)
}

fn parse_class(name: &str) -> Result<Class> {
    Class::parse(name).ok_or_else(|| StoreError::Corrupt {
        table: "items",
        detail: format!("unknown class {name:?}"),
    })
}

fn parse_disposition(name: &str) -> Result<Disposition> {
    Disposition::parse(name).ok_or_else(|| StoreError::Corrupt {
        table: "items",
        detail: format!("unknown disposition {name:?}"),
    })
}

fn ladder_from(text: &str) -> Result<Ladder> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table: "escalations",
        detail: e.to_string(),
    })
}
