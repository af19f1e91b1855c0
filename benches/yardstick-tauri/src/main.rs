//! A bare Tauri 2 app: a tray icon, and with `window` one empty window. Nothing else.

fn main() {
    let with_window = std::env::args().nth(1).as_deref() == Some("window");
    tauri::Builder::default()
        .setup(move |app| {
            let icon = tauri::image::Image::from_bytes(include_bytes!(
                "../../../icons/tray-idle-dark-panel.png"
            ))?;
            tauri::tray::TrayIconBuilder::new().icon(icon).build(app)?;
            if with_window {
                tauri::WebviewWindowBuilder::new(
                    app,
                    "main",
                    tauri::WebviewUrl::App("index.html".into()),
                )
                .build()?;
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the yardstick app failed");
}
