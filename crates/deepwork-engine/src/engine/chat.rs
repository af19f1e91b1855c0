//! The engine's side of the chat supervisor's calls: the store's record of statuses,
//! replies and read positions, and batches of platform messages held like pushes.

use super::{CursorSave, Engine};
use crate::api::{Event, PushAck, Reply, Response};
use crate::chat_calls::{AutoReply, ChatCall, ChatError, Owed};
use crate::platforms;
use deepwork_adapters::{Addressed, Batch, FocusStatus, IncomingMessage, StatusSnapshot};
use deepwork_core::Disposition;
use deepwork_core::SessionId;
use deepwork_core::away::{self, AwayTimes, ReplyCandidate};
use deepwork_core::digest::DoneBy;
use deepwork_core::session::Session;
use deepwork_store::StoreError;
use jiff::Timestamp;

impl Engine {
    /// Answers the chat supervisor.
    pub fn handle_chat(&mut self, now: Timestamp, call: ChatCall) {
        self.tick(now);
        // A supervisor task that gave up waiting no longer wants its answer.
        match call {
            ChatCall::Focus(answer) => {
                let _ = answer.send(Ok(self.focus_status(now)));
            }
            ChatCall::SaveSnapshot {
                session,
                snapshot,
                answer,
            } => {
                let saved = serde_json::to_string(&snapshot)
                    .map_err(|e| ChatError::Snapshot(e.to_string()))
                    .and_then(|data| {
                        self.store
                            .write(|w| {
                                w.save_status_snapshot(session, &snapshot.adapter, &data, now)
                            })
                            .map_err(chat_store_error)
                    });
                let _ = answer.send(saved);
            }
            ChatCall::Snapshot {
                session,
                adapter,
                answer,
            } => {
                let kept = self
                    .store
                    .status_snapshot(session, &adapter)
                    .map_err(chat_store_error)
                    .and_then(|data| {
                        data.map(|d| parse_snapshot(&d))
                            .transpose()
                            .map_err(ChatError::Snapshot)
                    });
                let _ = answer.send(kept);
            }
            ChatCall::Restored {
                session,
                adapter,
                answer,
            } => {
                let marked = self
                    .store
                    .write(|w| w.mark_restored(session, &adapter, now))
                    .map_err(chat_store_error);
                let _ = answer.send(marked);
            }
            ChatCall::PendingRestores { adapter, answer } => {
                let pending =
                    self.store
                        .pending_restores()
                        .map_err(chat_store_error)
                        .map(|pending| {
                            pending
                                .into_iter()
                                .filter(|p| p.adapter == adapter)
                                .map(|p| p.session)
                                .collect()
                        });
                let _ = answer.send(pending);
            }
            ChatCall::Cursor {
                adapter,
                session,
                answer,
            } => {
                let cursor = self
                    .store
                    .adapter_cursor(&adapter, session)
                    .map_err(chat_store_error);
                let _ = answer.send(cursor);
            }
            ChatCall::Hold {
                adapter,
                session,
                auto_reply,
                batch,
                answer,
            } => {
                let _ = answer.send(self.hold(now, &adapter, session, auto_reply, batch));
            }
            ChatCall::OpenAsked { adapter, answer } => {
                let owed = self.open_asked(now, &adapter).map(|asked| Owed {
                    asked,
                    check_every: self.config.follow_through.check_every.0.unsigned_abs(),
                });
                let _ = answer.send(owed);
            }
            ChatCall::Work {
                adapter,
                work,
                answer,
            } => {
                let _ = answer.send(self.record_work(now, &adapter, &work));
            }
            ChatCall::Answered {
                adapter,
                answered,
                answer,
            } => {
                let _ = answer.send(self.answered(now, &adapter, answered));
            }
            ChatCall::MarkedDone { item, answer } => {
                let origin = self
                    .store
                    .item(item)
                    .map_err(chat_store_error)
                    .map(|record| {
                        record
                            .filter(|r| r.done_by == Some(DoneBy::You))
                            .and_then(|r| Some((r.source, r.message_id?)))
                    });
                let _ = answer.send(origin);
            }
            ChatCall::Health(mut health) => {
                health.connect = platforms::connect_kind(&self.config.adapters, &health.name);
                match self.adapters.iter_mut().find(|a| a.name == health.name) {
                    Some(known) => *known = health.clone(),
                    None => self.adapters.push(health.clone()),
                }
                let _ = self.events.send(Event::AdapterChanged { health });
            }
        }
    }

    /// The status template for a session: naming its intent when the user opted in
    /// (`[status] intent_template`) and it has one.
    fn status_template(&self, session: SessionId) -> String {
        let opted_in = !self.config.status.intent_template.trim().is_empty();
        let intent = opted_in
            .then(|| self.store.intent_of(session))
            .and_then(|read| {
                read.inspect_err(
                    |error| tracing::warn!(%error, "could not read the session's intent"),
                )
                .ok()
                .flatten()
            });
        match intent {
            Some(intent) => self
                .config
                .status
                .intent_template
                .replace(away::INTENT, &intent),
            None => self.config.status.template.clone(),
        }
    }

    fn away_times(session: &Session) -> AwayTimes {
        AwayTimes {
            check_in: session.next_check_in(),
            until: session.ends_at,
        }
    }

    /// What the platforms should do now: read and hold for the session or the
    /// after-hours hold, showing its status (none after hours without
    /// `after_hours_status`: an empty text).
    fn focus_status(&self, now: Timestamp) -> Option<(SessionId, FocusStatus)> {
        if let Some(hold) = self.machine.off_hours() {
            let text = away::render(
                &self.config.plans.after_hours_status,
                Self::away_times(hold),
                &self.config.auto_reply.emergency,
                now,
                &self.tz,
                self.config.status.clock,
            );
            return Some((
                hold.id,
                FocusStatus {
                    text,
                    until: hold.ends_at,
                },
            ));
        }
        self.machine.session().map(|session| {
            let template = self.status_template(session.id);
            let text = away::render(
                &template,
                Self::away_times(session),
                &self.config.auto_reply.emergency,
                now,
                &self.tz,
                self.config.status.clock,
            );
            (
                session.id,
                FocusStatus {
                    text,
                    until: session.ends_at,
                },
            )
        })
    }

    /// Holds a platform's batch like pushed items, with its cursor in the same
    /// transaction, and decides on the auto-replies. A message the store refuses even
    /// after sanitizing is logged and skipped: it never holds back the cursor.
    fn hold(
        &mut self,
        now: Timestamp,
        adapter: &str,
        session: SessionId,
        auto_reply: bool,
        batch: Batch,
    ) -> Result<Vec<AutoReply>, ChatError> {
        let items = batch.messages.iter().map(|m| m.to_item(adapter)).collect();
        let cursor = CursorSave {
            adapter,
            session,
            cursor: &batch.cursor,
        };
        let responses = self
            .push_batch_with(now, items, Some(cursor))
            .map_err(chat_store_error)?;
        let mut replies = Vec::new();
        for (message, response) in batch.messages.iter().zip(responses) {
            let ack = match response {
                Response::Ok(Reply::Pushed(ack)) => ack,
                Response::Ok(other) => {
                    tracing::error!(adapter, reply = ?other, "unexpected answer to a held message");
                    continue;
                }
                Response::Error(error) => {
                    tracing::warn!(adapter, message = %message.id, error = %error.message, "skipped a message that cannot be stored");
                    continue;
                }
            };
            // The batch is stored; a reply that cannot be claimed is only not sent.
            match self.auto_reply(now, adapter, auto_reply, message, &ack) {
                Ok(Some(text)) => replies.push(AutoReply {
                    to: message.reply_to.clone(),
                    text,
                }),
                Ok(None) => {}
                Err(error) => tracing::warn!(adapter, %error, "could not record an auto-reply"),
            }
        }
        Ok(replies)
    }

    /// The one auto-reply a held message earns, if it is due.
    fn auto_reply(
        &mut self,
        now: Timestamp,
        adapter: &str,
        auto_reply: bool,
        message: &IncomingMessage,
        ack: &PushAck,
    ) -> Result<Option<String>, ChatError> {
        let after_hours = self.machine.off_hours().is_some();
        let template = if after_hours {
            &self.config.auto_reply.after_hours
        } else {
            &self.config.auto_reply.template
        };
        let Some(session) = self
            .machine
            .holding()
            .filter(|_| !template.trim().is_empty())
        else {
            return Ok(None);
        };
        let candidate = ReplyCandidate {
            direct: message.addressed == Addressed::Direct,
            automated: message.automated,
            from_self: false,
            class: ack.class,
            already_replied: false,
        };
        if !auto_reply
            || ack.disposition != Disposition::Held
            || !away::should_auto_reply(candidate)
        {
            return Ok(None);
        }
        let (session_id, times) = (session.id, Self::away_times(session));
        let claimed = self
            .store
            .write(|w| w.claim_auto_reply(session_id, adapter, &message.sender, now))
            .map_err(chat_store_error)?;
        Ok(claimed.then(|| {
            away::render(
                template,
                times,
                &self.config.auto_reply.emergency,
                now,
                &self.tz,
                self.config.status.clock,
            )
        }))
    }
}

pub(super) fn chat_store_error(error: StoreError) -> ChatError {
    ChatError::Store(error.to_string())
}

fn parse_snapshot(data: &str) -> Result<StatusSnapshot, String> {
    serde_json::from_str(data).map_err(|e| format!("a stored status snapshot is unreadable: {e}"))
}
