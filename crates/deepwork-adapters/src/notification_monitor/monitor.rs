//! Watching the session bus: `Notify` calls captured, the daemon's answers matched to
//! them, held notifications closed once stored, a replaced daemon followed.

use super::*;

impl Inner {
    pub(super) async fn control(&self) -> Result<&Connection, AdapterError> {
        self.control
            .get_or_try_init(|| async {
                Connection::session()
                    .await
                    .map_err(|e| unavailable(&format!("no session bus: {e}")))
            })
            .await
    }

    pub(super) async fn start_monitor(self: &Arc<Self>) -> Result<(), AdapterError> {
        let mut monitor = self.monitor.lock().await;
        if monitor.as_ref().is_some_and(|task| !task.is_finished()) {
            return Ok(());
        }
        let stream = monitor_stream(self).await?;
        *self.monitor_lost.lock().expect("monitor lock") = None;
        *monitor = Some(tokio::spawn(self.clone().watch(stream)));
        Ok(())
    }

    /// The monitor ended: reads waiting for captures are told.
    fn lose_monitor(&self, why: &str) {
        tracing::warn!(why, "the notification monitor stopped");
        *self.monitor_lost.lock().expect("monitor lock") = Some(why.to_owned());
        self.captured.send_modify(|_| {});
    }

    /// Follows the bus until it goes away; a message it cannot read is skipped. When
    /// the notification daemon is replaced, the monitor follows the new one (its answers
    /// come from a new name) and a paused dunst is paused again.
    async fn watch(self: Arc<Self>, mut stream: MessageStream) {
        loop {
            let Some(message) = stream.next().await else {
                self.lose_monitor("it lost the session bus");
                return;
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "an unreadable message on the bus; skipped");
                    continue;
                }
            };
            if !is_new_daemon(&message) {
                self.see(&message).await;
                continue;
            }
            tracing::info!("the notification daemon changed; following the new one");
            match monitor_stream(&self).await {
                Ok(next) => stream = next,
                Err(error) => {
                    self.lose_monitor(&format!(
                        "it cannot follow the new notification daemon: {error}"
                    ));
                    return;
                }
            }
            self.daemon_replaced().await;
        }
    }

    /// A new daemon starts unpaused and shows nothing of the old one's.
    async fn daemon_replaced(&self) {
        let mut dunst = self.dunst.lock().await;
        dunst.showing.clear();
        if dunst.paused_by_us
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, true).await
        {
            tracing::warn!(%error, "could not pause the new dunst");
        }
    }

    async fn see(&self, message: &Message) {
        let header = message.header();
        match header.message_type() {
            MessageType::MethodCall => {
                let Some(caller) = header.sender().map(|s| s.to_string()) else {
                    return;
                };
                let serial = header.primary().serial_num().get();
                match read_notify(message) {
                    Ok((notice, replaces)) => self.capture(notice, replaces, (caller, serial)),
                    Err(error) => {
                        tracing::warn!(%error, "a Notify call that is not one; ignored")
                    }
                }
            }
            MessageType::Signal => {
                if let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>() {
                    self.closed(id).await;
                }
            }
            MessageType::MethodReturn => {
                let (Some(caller), Some(serial)) = (header.destination(), header.reply_serial())
                else {
                    return;
                };
                let key = (caller.to_string(), serial.get());
                if let Ok(id) = message.body().deserialize::<u32>() {
                    self.answered(key, id).await;
                }
            }
            _ => {}
        }
    }

    fn capture(&self, notice: CapturedNotice, replaces: u32, caller: (String, u32)) {
        let mut capture = self.capture.lock().expect("capture lock");
        if capture.armed_from.is_none() {
            return;
        }
        let verdict = self.policy.verdict(&notice);
        tracing::debug!(app = %notice.app, ?verdict, "a notification during deep work");
        match verdict {
            Verdict::Pass => {
                capture.awaiting_id.insert(caller, Awaiting::Passing);
            }
            Verdict::Drop => {
                capture.awaiting_id.insert(caller, Awaiting::Dropped);
            }
            Verdict::Hold => {
                let replaced = capture.message_ids.get(&replaces).cloned();
                let queued = capture
                    .held
                    .iter()
                    .position(|held| replaces != 0 && held.id == Some(replaces));
                if let Some(at) = queued {
                    // Not stored yet: the queued one takes the new text.
                    let held = &mut capture.held[at];
                    let id = held.message.id.clone();
                    held.message = IncomingMessage {
                        id,
                        ..incoming(self.run, held.seq, &notice)
                    };
                    let seq = held.seq;
                    capture.awaiting_id.insert(caller, Awaiting::Held(seq));
                    self.captured.send_modify(|_| {});
                    return;
                }
                capture.last_seq += 1;
                let seq = capture.last_seq;
                capture.awaiting_id.insert(caller, Awaiting::Held(seq));
                let mut message = incoming(self.run, seq, &notice);
                if let Some(id) = replaced {
                    // Stored already: the same message id makes the engine update it.
                    message.id = id;
                }
                capture.held.push_back(Held {
                    seq,
                    message,
                    id: None,
                });
                if capture.held.len() > MAX_QUEUED
                    && let Some(lost) = capture.held.pop_front()
                {
                    tracing::warn!(
                        app = %lost.message.sender,
                        "more notifications waiting to be stored than the limit; the oldest is dropped"
                    );
                }
                self.captured.send_replace(seq);
            }
        }
    }

    /// The daemon gave a notification its id: close it if it is already stored.
    async fn answered(&self, key: (String, u32), id: u32) {
        let awaiting = self
            .capture
            .lock()
            .expect("capture lock")
            .awaiting_id
            .remove(&key);
        if let Some(Awaiting::Passing) = awaiting {
            self.let_through(id).await;
            return;
        }
        let close = {
            let mut capture = self.capture.lock().expect("capture lock");
            let stored_up_to = capture.stored_up_to;
            match awaiting {
                None | Some(Awaiting::Passing) => false,
                Some(Awaiting::Dropped) => true,
                Some(Awaiting::Held(seq)) => {
                    if capture.message_ids.len() >= MAX_QUEUED {
                        capture.message_ids.clear();
                    }
                    let message_id = capture
                        .held
                        .iter()
                        .find(|h| h.seq == seq)
                        .map_or_else(|| cursor(self.run, seq), |h| h.message.id.clone());
                    capture.message_ids.insert(id, message_id);
                    let position = capture.held.iter().position(|h| h.seq == seq);
                    match position {
                        Some(at) if seq <= stored_up_to => {
                            capture.held.remove(at);
                            true
                        }
                        Some(at) => {
                            capture.held[at].id = Some(id);
                            false
                        }
                        None => false,
                    }
                }
            }
        };
        if close {
            self.close(&[id]).await;
        }
    }

    /// A notification that must show went to a paused dunst: lift the pause while it is
    /// open.
    async fn let_through(&self, id: u32) {
        let mut dunst = self.dunst.lock().await;
        if !dunst.paused_by_us {
            return;
        }
        let first = dunst.showing.is_empty();
        dunst.showing.insert(id);
        if first
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, false).await
        {
            tracing::warn!(%error, "could not let a notification through dunst's pause");
        }
    }

    /// A notification closed: when it was the last one let through, pause dunst again.
    async fn closed(&self, id: u32) {
        let mut dunst = self.dunst.lock().await;
        if dunst.showing.remove(&id)
            && dunst.showing.is_empty()
            && dunst.paused_by_us
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, true).await
        {
            tracing::warn!(%error, "could not pause dunst again");
        }
    }

    /// Takes notifications off the daemon's screen and queue.
    pub(super) async fn close(&self, ids: &[u32]) {
        let Ok(control) = self.control().await else {
            return;
        };
        for id in ids {
            if let Err(error) = call(control, NOTIFICATIONS, "CloseNotification", &(*id,)).await {
                tracing::debug!(%error, id, "could not close a held notification");
            }
        }
    }
}

/// Calls `interface.method` on the notification server's object.
pub(super) async fn call<B>(
    control: &Connection,
    interface: &str,
    method: &str,
    body: &B,
) -> zbus::Result<Message>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    control
        .call_method(
            Some(NOTIFICATIONS),
            NOTIFICATIONS_PATH,
            Some(interface),
            method,
            body,
        )
        .await
}

/// Whether `message` says a notification daemon now owns the name.
pub(super) fn is_new_daemon(message: &Message) -> bool {
    let header = message.header();
    header.message_type() == MessageType::Signal
        && header
            .member()
            .is_some_and(|m| m.as_str() == "NameOwnerChanged")
        && message
            .body()
            .deserialize::<(String, String, String)>()
            .is_ok_and(|(name, _old, new)| name == NOTIFICATIONS && !new.is_empty())
}

/// A monitor connection for `Notify` calls, the daemon's answers to them, and a new
/// daemon taking the name.
pub(super) async fn monitor_stream(inner: &Inner) -> Result<MessageStream, AdapterError> {
    let control = inner.control().await?;
    let daemon = zbus::fdo::DBusProxy::new(control)
        .await
        .map_err(|e| unavailable(&e.to_string()))?
        .get_name_owner(NOTIFICATIONS.try_into().expect("a valid bus name"))
        .await
        .ok();
    let mut rules = vec![
        MatchRule::builder()
            .msg_type(MessageType::MethodCall)
            .interface(NOTIFICATIONS)
            .member("Notify")
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    ];
    rules.push(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .arg(0, NOTIFICATIONS)
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    );
    rules.push(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(NOTIFICATIONS)
            .member("NotificationClosed")
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    );
    if let Some(daemon) = &daemon {
        rules.push(
            MatchRule::builder()
                .msg_type(MessageType::MethodReturn)
                .sender(daemon.as_str())
                .build()
                .map_err(|e| unavailable(&e.to_string()))?,
        );
    }
    let monitor = Connection::session()
        .await
        .map_err(|e| unavailable(&format!("no session bus: {e}")))?;
    zbus::fdo::MonitoringProxy::new(&monitor)
        .await
        .map_err(|e| unavailable(&e.to_string()))?
        .become_monitor(&rules, 0)
        .await
        .map_err(|e| unavailable(&format!("the bus refused a monitor: {e}")))?;
    Ok(MessageStream::from(monitor))
}

pub(super) type NotifyArgs = (
    String,
    u32,
    String,
    String,
    String,
    Vec<String>,
    HashMap<String, zbus::OwnedVariant>,
    i32,
);

/// A Notify call's notice, and the id of the notification it replaces (0 for none).
pub(super) fn read_notify(message: &Message) -> Result<(CapturedNotice, u32), zbus::Error> {
    let (app, replaces, _icon, summary, body, _actions, hints, _timeout): NotifyArgs =
        message.body().deserialize()?;
    let urgency = hints
        .get("urgency")
        .and_then(|value| u8::try_from(value).ok());
    let desktop_entry = hints
        .get("desktop-entry")
        .and_then(|value| <&str>::try_from(value).ok())
        .map(str::to_owned);
    let notice = CapturedNotice {
        app,
        desktop_entry,
        summary,
        body,
        urgency: NoticeUrgency::from_hint(urgency),
    };
    Ok((notice, replaces))
}

/// A held notification as the engine takes messages: the summary is the first line,
/// the body (markup removed) the rest. Never answered: it is not a person writing.
pub(super) fn incoming(run: u64, seq: u64, notice: &CapturedNotice) -> IncomingMessage {
    let summary = plain_text(&notice.summary).replace('\n', " ");
    let body = plain_text(&notice.body);
    let text = if body.trim().is_empty() {
        summary
    } else {
        format!("{summary}\n{body}")
    };
    IncomingMessage {
        id: cursor(run, seq),
        sender: notice.app.clone(),
        sender_name: None,
        channel: None,
        addressed: Addressed::Direct,
        text,
        automated: true,
        url: None,
        reply_to: ReplyTarget {
            conversation: String::new(),
            sender: notice.app.clone(),
        },
        usual_class: None,
    }
}

/// A message id and read position: the run and the sequence number in it.
pub(super) fn cursor(run: u64, seq: u64) -> String {
    format!("{run}.{seq}")
}

/// The last sequence number of this run that the engine stored; none for a cursor from
/// an earlier run.
pub(super) fn stored_seq(run: u64, cursor: &str) -> Result<u64, AdapterError> {
    let bad = || AdapterError::malformed(NAME, &format!("bad cursor {cursor:?}"));
    match cursor.split_once('.') {
        Some((their_run, seq)) if their_run.parse::<u64>().map_err(|_| bad())? == run => {
            seq.parse().map_err(|_| bad())
        }
        _ => Ok(0),
    }
}
