// The window's only way out: the app's own Tauri commands, which forward to the engine.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  ApiError,
  Class,
  Digest,
  DigestId,
  Event as EngineEvent,
  IsoWeek,
  ItemId,
  SessionPlan,
  Settings,
  SignInCode,
  Status,
  WeeklyStats,
} from "../generated/api";

export type { EngineEvent };

export const api = {
  status: () => invoke<Status>("status"),
  start: (plan: SessionPlan) => invoke<Status>("start", { plan }),
  stop: () => invoke<Status>("stop"),
  checkIn: () => invoke<Status>("check_in"),
  digest: (id: DigestId | null) => invoke<Digest | null>("digest", { id }),
  digests: (limit: number) => invoke<Digest[]>("digests", { limit }),
  done: (item: ItemId, done: boolean) => invoke<null>("done", { item, done }),
  teach: (item: ItemId, itemClass: Class) => invoke<null>("teach", { item, class: itemClass }),
  openLink: (url: string) => invoke<null>("open_link", { url }),
  stats: (week: IsoWeek | null) => invoke<WeeklyStats>("stats", { week }),
  saveStatsCsv: (week: IsoWeek) => invoke<string>("save_stats_csv", { week }),
  settings: () => invoke<Settings>("settings"),
  saveSettings: (settings: Settings) => invoke<Settings>("save_settings", { settings }),
  connectAdapter: (name: string, token: string) => invoke<Status>("connect_adapter", { name, token }),
  beginSignIn: (name: string) => invoke<SignInCode>("begin_sign_in", { name }),
  finishSignIn: (name: string) => invoke<Status>("finish_sign_in", { name }),
  pagePainted: () => invoke<null>("page_painted"),
};

/** Engine events, pushed by the app as they happen. */
export function onEngine(handler: (event: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>("engine", (message) => handler(message.payload));
}

/** The engine's connection state: false while it cannot be reached. */
export function onConnection(handler: (connected: boolean) => void): Promise<UnlistenFn> {
  return listen<boolean>("engine-connection", (message) => handler(message.payload));
}

export function errorText(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as ApiError).message);
  }
  return String(error);
}
