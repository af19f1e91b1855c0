//! Each notification server's own do-not-disturb: GNOME's banners, dunst's pause,
//! mako's modes, Plasma's inhibition; which one runs, and reading and setting it.

use super::*;

/// The do-not-disturb for a daemon called `server` on desktop `desktop`.
pub fn detect(server: Option<&str>, desktop: &str) -> Option<DndKind> {
    match server.map(str::to_ascii_lowercase).as_deref() {
        Some("dunst") => return Some(DndKind::Dunst),
        Some("mako") => return Some(DndKind::Mako),
        Some("plasma") => return Some(DndKind::Kde),
        Some("gnome-shell") => return Some(DndKind::Gnome),
        _ => {}
    }
    let desktop = desktop.to_ascii_lowercase();
    desktop.split(':').find_map(|part| match part {
        "gnome" | "ubuntu" | "unity" => Some(DndKind::Gnome),
        "kde" => Some(DndKind::Kde),
        _ => None,
    })
}

pub(super) async fn server_name(control: &Connection) -> Option<String> {
    let reply = call(control, NOTIFICATIONS, "GetServerInformation", &())
        .await
        .ok()?;
    let (name, _vendor, _version, _spec): (String, String, String, String) =
        reply.body().deserialize().ok()?;
    Some(name)
}

pub(super) async fn read_dnd(kind: DndKind, control: &Connection) -> Result<Dnd, AdapterError> {
    Ok(match kind {
        DndKind::Gnome => Dnd::Gnome {
            show_banners: gsettings_get_banners().await?,
        },
        DndKind::Kde => Dnd::Kde,
        DndKind::Dunst => {
            let reply = call(control, PROPERTIES, "Get", &(DUNST, "paused"))
                .await
                .map_err(|e| unavailable(&format!("dunst did not say if it is paused: {e}")))?;
            let value: zbus::OwnedVariant = reply
                .body()
                .deserialize()
                .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?;
            Dnd::Dunst {
                paused: bool::try_from(&value)
                    .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?,
            }
        }
        DndKind::Mako => {
            let modes = makoctl(&["mode"]).await?;
            Dnd::Mako {
                modes: modes
                    .lines()
                    .map(str::trim)
                    .filter(|mode| !mode.is_empty() && *mode != "do-not-disturb")
                    .map(str::to_owned)
                    .collect(),
            }
        }
    })
}

pub(super) async fn set_dunst_paused(
    control: &Connection,
    paused: bool,
) -> Result<(), AdapterError> {
    call(
        control,
        PROPERTIES,
        "Set",
        &(DUNST, "paused", zbus::Variant::from(paused)),
    )
    .await
    .map(|_| ())
    .map_err(|e| unavailable(&format!("dunst refused to change pause: {e}")))
}

pub(super) const BANNERS: [&str; 2] = ["org.gnome.desktop.notifications", "show-banners"];

pub(super) async fn gsettings_get_banners() -> Result<bool, AdapterError> {
    let output = run("gsettings", &["get", BANNERS[0], BANNERS[1]]).await?;
    match output.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(AdapterError::malformed(
            NAME,
            &format!("gsettings said {other:?} for show-banners"),
        )),
    }
}

pub(super) async fn gsettings_set_banners(on: bool) -> Result<(), AdapterError> {
    let value = if on { "true" } else { "false" };
    run("gsettings", &["set", BANNERS[0], BANNERS[1], value])
        .await
        .map(|_| ())
}

pub(super) async fn makoctl(args: &[&str]) -> Result<String, AdapterError> {
    run("makoctl", args).await
}

/// Runs a desktop's own tool; its stdout, or an error naming the command.
pub(super) async fn run(program: &str, args: &[&str]) -> Result<String, AdapterError> {
    let command = format!("{program} {}", args.join(" "));
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| unavailable(&format!("cannot run `{command}`: {e}")))?;
    if !output.status.success() {
        return Err(unavailable(&format!(
            "`{command}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
