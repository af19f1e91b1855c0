fn main() {
    // Declaring the commands makes Tauri generate one permission per command, so the
    // window's capability grants exactly these and a command left out is refused.
    let commands = &[
        "status",
        "start",
        "outcome",
        "standup",
        "standups",
        "save_standup",
        "post_standup",
        "copy_standup",
        "stop",
        "check_in",
        "digest",
        "digests",
        "done",
        "acknowledge",
        "plan",
        "skip_block",
        "teach",
        "open_link",
        "stats",
        "save_stats_csv",
        "save_stats_review",
        "settings",
        "save_settings",
        "connect_adapter",
        "begin_sign_in",
        "finish_sign_in",
        "page_painted",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("the Tauri build script failed");
}
