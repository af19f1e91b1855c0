//! Files Deepwork writes for the user: a week's focus as CSV and its review as
//! Markdown, saved where downloads go.

use deepwork_core::stats::{IsoWeek, WeeklyStats};
use std::path::PathBuf;

/// Where a saved file goes: `XDG_DOWNLOAD_DIR`, else ~/Downloads, else the home folder.
pub fn downloads_folder() -> Option<PathBuf> {
    std::env::var_os("XDG_DOWNLOAD_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join("Downloads")))
        .filter(|folder| folder.is_dir())
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
}

/// Saves `stats` (one row per day) as `deepwork-focus-WEEK.csv` in the downloads folder;
/// where it went, or what went wrong, for people.
pub fn save_week_csv(week: IsoWeek, stats: &WeeklyStats) -> Result<PathBuf, String> {
    save(&format!("deepwork-focus-{week}.csv"), &stats.to_csv())
}

/// Saves the weekly review as `deepwork-review-WEEK.md` in the downloads folder.
pub fn save_week_review(week: IsoWeek, stats: &WeeklyStats) -> Result<PathBuf, String> {
    save(&format!("deepwork-review-{week}.md"), &stats.to_markdown())
}

fn save(name: &str, text: &str) -> Result<PathBuf, String> {
    let folder = downloads_folder().ok_or("there is no home folder to save into")?;
    let path = folder.join(name);
    std::fs::write(&path, text)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path)
}
