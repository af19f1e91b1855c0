//! The window's files read ahead into the page cache when the resident starts: the
//! first open after boot then reads nothing from disk. It costs page cache, which the
//! kernel gives back under pressure, and nothing of the resident's own memory (the files
//! are advised, never mapped).

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// WebKitGTK's helper processes, which every window starts, live here beside its library.
const WEBKIT_HELPERS: &str = "webkit2gtk-4.1";

/// Reads ahead the window program `app`, the shared libraries it and WebKit's helper
/// processes load, and those helpers; logs what it did.
pub fn window_files(app: &Path) {
    let started = Instant::now();
    let files = files_of(app);
    let (mut count, mut bytes) = (0usize, 0u64);
    for file in &files {
        match read_ahead(file) {
            Ok(size) => {
                count += 1;
                bytes += size;
            }
            Err(error) => tracing::debug!(file = %file.display(), %error, "not read ahead"),
        }
    }
    tracing::info!(
        files = count,
        megabytes = bytes / 1_000_000,
        ms = started.elapsed().as_millis(),
        "read the window's files ahead"
    );
}

/// The program, what `ldd` says it loads, and WebKit's helpers with what they load.
fn files_of(app: &Path) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::from([app.to_path_buf()]);
    files.extend(libraries(app));
    let helpers = files
        .iter()
        .find(|file| {
            file.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("libwebkit2gtk-4.1.so"))
        })
        .and_then(|webkit| webkit.parent())
        .map(|dir| dir.join(WEBKIT_HELPERS));
    if let Some(Ok(entries)) = helpers.map(std::fs::read_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                files.extend(libraries(&path));
                files.insert(path);
            } else if path.is_dir() {
                let inside = std::fs::read_dir(&path).into_iter().flatten().flatten();
                files.extend(inside.map(|entry| entry.path()).filter(|p| p.is_file()));
            }
        }
    }
    files
}

/// The shared libraries `program` loads, as the dynamic loader resolves them (`ldd`,
/// which lists them without running the program).
fn libraries(program: &Path) -> Vec<PathBuf> {
    let Ok(output) = Command::new("ldd").arg(program).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (_, resolved) = line.split_once("=>")?;
            let path = resolved.trim().split(' ').next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Asks the kernel to read `file` into the page cache, in the background; its size.
fn read_ahead(file: &Path) -> std::io::Result<u64> {
    let opened = File::open(file)?;
    let size = opened.metadata()?.len();
    rustix::fs::fadvise(&opened, 0, None, rustix::fs::Advice::WillNeed)?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_brings_its_libraries_and_the_loader_is_asked_without_running_it() {
        let sh = PathBuf::from("/bin/sh");
        let files = files_of(&sh);
        assert!(files.contains(&sh));
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().contains("libc.so")),
            "{files:?}"
        );
        assert!(read_ahead(&sh).expect("advised") > 0);
        assert!(read_ahead(Path::new("/nonexistent/program")).is_err());
    }
}
