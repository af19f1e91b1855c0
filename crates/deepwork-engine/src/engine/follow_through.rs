//! Follow-through: which held items are still owed, marking them done when the user
//! answered them where they live, and the one reminder of a blocker before its reply-by
//! lapses (outside a session and the after-hours hold).

use super::Engine;
use crate::api::Event;
use crate::chat_calls::ChatError;
use crate::notify::{Loudness, Notice, NoticeAction};
use deepwork_adapters::{Answered, Asked};
use deepwork_core::Class;
use deepwork_core::digest::{self, ItemRecord};
use deepwork_core::plans::WorkHours;
use deepwork_store::OpenItem;
use jiff::{SignedDuration, Timestamp};

/// How far back items are still followed: a week's replies are still news, older ones
/// are not worth a request.
const FOLLOWED_FOR: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The most items one platform is asked about at once (the newest).
const MOST_ASKED: usize = 200;

impl Engine {
    fn open_items(&self, now: Timestamp) -> Result<Vec<OpenItem>, deepwork_store::StoreError> {
        self.store
            .open_items(now.checked_sub(FOLLOWED_FOR).unwrap_or(Timestamp::MIN))
    }

    /// The items of `adapter` the user may yet answer where they live.
    pub(super) fn open_asked(
        &self,
        now: Timestamp,
        adapter: &str,
    ) -> Result<Vec<Asked>, ChatError> {
        let open = self
            .open_items(now)
            .map_err(super::chat::chat_store_error)?;
        let mut asked: Vec<Asked> = open
            .into_iter()
            .map(|open| open.record)
            .filter(|item| item.source == adapter)
            .filter_map(|item| {
                Some(Asked {
                    message_id: item.message_id?,
                    conversation: item.conversation?,
                    since: item.received_at,
                })
            })
            .collect();
        let skip = asked.len().saturating_sub(MOST_ASKED);
        asked.drain(..skip);
        Ok(asked)
    }

    /// Marks what the user answered as done, and tells whoever listens.
    pub(super) fn answered(
        &mut self,
        now: Timestamp,
        adapter: &str,
        answered: Vec<Answered>,
    ) -> Result<(), ChatError> {
        let mut done = Vec::new();
        for answer in answered {
            let Some(item) = self
                .store
                .item_by_message(adapter, &answer.message_id)
                .map_err(super::chat::chat_store_error)?
            else {
                continue;
            };
            // An answer is never later than now, whatever the platform's clock says.
            let at = answer.at.clamp(item.received_at, now);
            let marked = self
                .store
                .write(|w| w.mark_answered(item.id, at))
                .map_err(super::chat::chat_store_error)?;
            if marked {
                done.push(item.id);
            }
        }
        for item in done {
            tracing::info!(%item, adapter, "answered where it lives; done");
            let _ = self.events.send(Event::ItemDone { item, done: true });
        }
        self.plan_reminder(now);
        Ok(())
    }

    /// When the next reminder is due: the earliest open blocker not yet reminded of,
    /// `remind_before` ahead of its reply-by. None while a session or the after-hours
    /// hold runs; it is planned again when they end.
    pub(super) fn plan_reminder(&mut self, now: Timestamp) {
        self.next_reminder = None;
        if !self.config.follow_through.remind || self.machine.holding().is_some() {
            return;
        }
        let open = match self.open_items(now) {
            Ok(open) => open,
            Err(error) => {
                tracing::warn!(%error, "could not read what is owed; reminders wait");
                return;
            }
        };
        self.next_reminder = open
            .iter()
            .filter(|open| open.reminded_at.is_none())
            .filter_map(|open| {
                let (remind_at, reply_by) = self.remind_window(&open.record)?;
                (reply_by > now).then_some(remind_at.max(now))
            })
            .min();
    }

    /// When a blocker is reminded of, and its reply-by; `None` for other classes.
    fn remind_window(&self, item: &ItemRecord) -> Option<(Timestamp, Timestamp)> {
        if item.class != Class::Blocker {
            return None;
        }
        let hours = WorkHours::new(&self.config.plans, &self.tz);
        let reply_by = digest::item_reply_by(item, &self.config.response_windows, &hours);
        let before = self.config.follow_through.remind_before.0;
        Some((
            reply_by.checked_sub(before).unwrap_or(item.received_at),
            reply_by,
        ))
    }

    /// Reminds once of each blocker whose reply-by is near, outside a session.
    pub(super) fn remind(&mut self, now: Timestamp) {
        if self.next_reminder.is_none_or(|at| at > now) {
            return;
        }
        let open = match self.open_items(now) {
            Ok(open) => open,
            Err(error) => {
                tracing::warn!(%error, "could not read what is owed; reminding later");
                self.next_reminder = now.checked_add(SignedDuration::from_mins(5)).ok();
                return;
            }
        };
        for open in open.iter().filter(|open| open.reminded_at.is_none()) {
            let Some((remind_at, reply_by)) = self.remind_window(&open.record) else {
                continue;
            };
            if remind_at > now || reply_by <= now {
                continue;
            }
            let item = &open.record;
            if let Err(error) = self.store.write(|w| w.set_reminded(item.id, now)) {
                tracing::warn!(%error, "could not record a reminder; trying again shortly");
                self.next_reminder = now.checked_add(SignedDuration::from_mins(5)).ok();
                return;
            }
            let by = reply_by.to_zoned(self.tz.clone());
            self.notifier.notify(Notice {
                summary: format!("Reply owed by {}: {}", by.strftime("%H:%M"), item.sender),
                body: match &item.url {
                    Some(url) => format!("{}\n{url}", item.title),
                    None => item.title.clone(),
                },
                loudness: Loudness::Normal,
                action: Some(NoticeAction::OpenDigest),
                emergency: None,
            });
            tracing::info!(item = %item.id, "reminded of a blocker before its reply-by");
        }
        self.plan_reminder(now);
    }
}
