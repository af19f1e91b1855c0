// The window's only way out: the app's own Tauri commands (generated from the Rust
// side by `make bindings`), which forward to the engine, and the engine's events.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { Event as EngineEvent, UiError, UiErrorCode } from "../generated/api";
import { commands } from "../generated/commands";

export type { EngineEvent };

export const api = commands;

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
    return String((error as UiError).message);
  }
  return String(error);
}

/** The failure's stable code, to act on a kind of failure without matching its words. */
export function errorCode(error: unknown): UiErrorCode | null {
  if (typeof error === "object" && error !== null && "code" in error) {
    return (error as UiError).code;
  }
  return null;
}
