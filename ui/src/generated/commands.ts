// Generated from the window's commands by src-tauri/tests/bindings.rs. Do not edit:
// run `make bindings` after changing them.
import { invoke } from "@tauri-apps/api/core";
import type { Class, Digest, DigestId, Intent, IsoWeek, ItemId, Outcome, PlanDay, PostTarget, SessionId, SessionPlan, Settings, SignInCode, StandupDraft, StandupEntry, Status, WeeklyStats } from "./api";

export const commands = {
  status: () => invoke<Status>("status"),
  start: (plan: SessionPlan, intent: string | null) => invoke<Status>("start", { plan: plan, intent: intent }),
  outcome: (session: SessionId, outcome: Outcome, note: string | null) => invoke<Intent>("outcome", { session: session, outcome: outcome, note: note }),
  standup: (fresh: boolean) => invoke<StandupEntry>("standup", { fresh: fresh }),
  standups: (limit: number) => invoke<Array<StandupEntry>>("standups", { limit: limit }),
  saveStandup: (draft: StandupDraft) => invoke<StandupEntry>("save_standup", { draft: draft }),
  postStandup: (draft: StandupDraft, to: PostTarget | null) => invoke<StandupEntry>("post_standup", { draft: draft, to: to }),
  copyStandup: (draft: StandupDraft) => invoke<null>("copy_standup", { draft: draft }),
  stop: () => invoke<Status>("stop"),
  checkIn: () => invoke<Status>("check_in"),
  digest: (id: DigestId | null) => invoke<Digest | null>("digest", { id: id }),
  digests: (limit: number) => invoke<Array<Digest>>("digests", { limit: limit }),
  done: (item: ItemId, done: boolean) => invoke<null>("done", { item: item, done: done }),
  acknowledge: (item: ItemId | null) => invoke<Array<ItemId>>("acknowledge", { item: item }),
  plan: (days: number) => invoke<Array<PlanDay>>("plan", { days: days }),
  skipBlock: (plan: string | null) => invoke<Status>("skip_block", { plan: plan }),
  teach: (item: ItemId, classValue: Class) => invoke<null>("teach", { item: item, class: classValue }),
  openLink: (url: string) => invoke<null>("open_link", { url: url }),
  stats: (week: IsoWeek | null) => invoke<WeeklyStats>("stats", { week: week }),
  saveStatsCsv: (week: IsoWeek) => invoke<string>("save_stats_csv", { week: week }),
  saveStatsReview: (week: IsoWeek) => invoke<string>("save_stats_review", { week: week }),
  settings: () => invoke<Settings>("settings"),
  saveSettings: (settings: Settings) => invoke<Settings>("save_settings", { settings: settings }),
  connectAdapter: (name: string, token: string) => invoke<Status>("connect_adapter", { name: name, token: token }),
  beginSignIn: (name: string) => invoke<SignInCode>("begin_sign_in", { name: name }),
  finishSignIn: (name: string) => invoke<Status>("finish_sign_in", { name: name }),
  pagePainted: () => invoke<null>("page_painted"),
};
