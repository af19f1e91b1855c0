#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing keeps GL surfaces for a page that has nothing
    // to animate: measured here it is 77 MB of the window's footprint (see
    // docs/performance.md). A user who sets the variable keeps their choice.
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // SAFETY: nothing else runs yet; no thread can read the environment meanwhile.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        }
    }
    deepwork_app::run();
}
