//! The schema, as an ordered list of migrations tracked with `user_version`.
//! Released migrations are never edited: a change is a new entry at the end.

use crate::{Result, StoreError};
use rusqlite::Connection;

/// Every migration, in order; migration `n` (from 1) takes the schema to version `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: sessions and the items they held.
    "CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        started_at  INTEGER NOT NULL,
        planned_end INTEGER NOT NULL,
        ended_at    INTEGER,
        early       INTEGER NOT NULL DEFAULT 0,
        check_ins   TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX sessions_by_start ON sessions (started_at);
    CREATE TABLE items (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER REFERENCES sessions (id),
        received_at INTEGER NOT NULL,
        source      TEXT NOT NULL,
        sender      TEXT NOT NULL,
        channel     TEXT,
        title       TEXT NOT NULL,
        body        TEXT,
        url         TEXT,
        class       TEXT NOT NULL,
        reason_kind   TEXT NOT NULL,
        reason_detail TEXT,
        reason_rule   TEXT,
        disposition TEXT NOT NULL
    );
    CREATE INDEX items_by_session ON items (session_id);",
    // 2: digests, and marking items done.
    "CREATE TABLE digests (
        id           INTEGER PRIMARY KEY,
        session_id   INTEGER NOT NULL REFERENCES sessions (id),
        delivered_at INTEGER NOT NULL
    );
    ALTER TABLE items ADD COLUMN digest_id INTEGER REFERENCES digests (id);
    ALTER TABLE items ADD COLUMN done_at INTEGER;
    CREATE INDEX items_by_digest ON items (digest_id);
    CREATE INDEX items_pending ON items (session_id) WHERE disposition = 'held' AND digest_id IS NULL;",
    // 3: chat platforms: each one's status before a session, auto-replies sent, and how
    // far each has been read.
    "CREATE TABLE status_snapshots (
        session_id  INTEGER NOT NULL REFERENCES sessions (id),
        adapter     TEXT NOT NULL,
        data        TEXT NOT NULL,
        taken_at    INTEGER NOT NULL,
        restored_at INTEGER,
        PRIMARY KEY (session_id, adapter)
    );
    CREATE TABLE auto_replies (
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        adapter    TEXT NOT NULL,
        sender     TEXT NOT NULL,
        sent_at    INTEGER NOT NULL,
        PRIMARY KEY (session_id, adapter, sender)
    );
    CREATE TABLE adapter_cursors (
        adapter    TEXT PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        cursor     TEXT NOT NULL
    );",
    // 4: triage that learns: a deadline the message stated, and the classes the user
    // gave items by hand.
    "ALTER TABLE items ADD COLUMN deadline_at INTEGER;
    ALTER TABLE items ADD COLUMN deadline_phrase TEXT;
    CREATE TABLE triage_lessons (
        item_id   INTEGER PRIMARY KEY REFERENCES items (id),
        class     TEXT NOT NULL,
        taught_at INTEGER NOT NULL
    );
    CREATE INDEX items_broke_through ON items (session_id) WHERE disposition = 'broke_through' AND digest_id IS NULL;",
    // 5: an item keeps its source's id for it, so a batch read twice is stored once.
    "ALTER TABLE items ADD COLUMN message_id TEXT;
    CREATE UNIQUE INDEX items_message ON items (source, message_id) WHERE message_id IS NOT NULL;",
    // 6: the escalation ladder of each emergency, stored whole (JSON) after each change;
    // `open` finds those with something left to do without reading the rest.
    "CREATE TABLE escalations (
        item_id INTEGER PRIMARY KEY REFERENCES items (id),
        ladder  TEXT NOT NULL,
        open    INTEGER NOT NULL
    );
    CREATE INDEX escalations_open ON escalations (item_id) WHERE open = 1;",
    // 7: plans. A row of `sessions` is a focus session or an after-hours hold; a session
    // names the planned block it ran for, and skipped blocks are remembered, so neither
    // starts again. The last good copy of each calendar keeps the plans going while its
    // server is down.
    "ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'focus';
    ALTER TABLE sessions ADD COLUMN plan TEXT;
    CREATE INDEX sessions_plan ON sessions (plan) WHERE plan IS NOT NULL;
    CREATE TABLE plan_skips (
        plan       TEXT PRIMARY KEY,
        skipped_at INTEGER NOT NULL
    );
    CREATE TABLE calendar_copies (
        url        TEXT PRIMARY KEY,
        body       TEXT NOT NULL,
        validator  TEXT,
        fetched_at INTEGER NOT NULL
    );",
    // 8: where an item lives (to notice the user answering it there), how it came to be
    // done, and its one reminder.
    "ALTER TABLE items ADD COLUMN conversation TEXT;
    ALTER TABLE items ADD COLUMN done_by TEXT;
    ALTER TABLE items ADD COLUMN reminded_at INTEGER;
    CREATE INDEX items_open ON items (received_at) WHERE done_at IS NULL;",
    // 9: what a session was for, and how it went (the written standup).
    "ALTER TABLE sessions ADD COLUMN intent TEXT;
    ALTER TABLE sessions ADD COLUMN outcome TEXT;
    ALTER TABLE sessions ADD COLUMN outcome_note TEXT;
    CREATE INDEX items_done ON items (done_at) WHERE done_at IS NOT NULL;",
    // 10: standups as kept (drafted at the standup time, edited, posted), and what the
    // sources report shipped or blocked.
    "CREATE TABLE standups (
        day         TEXT PRIMARY KEY,
        since       TEXT NOT NULL,
        shipped     TEXT NOT NULL,
        today       TEXT NOT NULL,
        blockers    TEXT NOT NULL,
        edited_at   INTEGER,
        posted_to   TEXT,
        posted_at   INTEGER,
        posted_link TEXT
    );
    CREATE TABLE source_work (
        source TEXT NOT NULL,
        kind   TEXT NOT NULL CHECK (kind IN ('shipped', 'blocked')),
        key    TEXT NOT NULL,
        title  TEXT NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (source, kind, key)
    );",
    // 11: time inside a session when the user was away from the computer (locked or
    // idle): not focus time.
    "CREATE TABLE away (
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        started_at INTEGER NOT NULL,
        ended_at   INTEGER NOT NULL CHECK (ended_at > started_at)
    );
    CREATE INDEX away_by_session ON away (session_id, started_at);",
];

/// The version this build creates.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], each step in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
