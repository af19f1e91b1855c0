//! A desktop for tests: a private session bus, a private X server and a private
//! keyring, each stopped when dropped.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private `dbus-daemon --session`, stopped on drop.
#[derive(Debug)]
pub struct Bus {
    child: Child,
    pub address: String,
}

impl Bus {
    pub fn start(dir: &Path) -> Bus {
        use std::io::{BufRead, BufReader};
        let path = dir.join("bus");
        let address = format!("unix:path={}", path.display());
        let mut child = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                "--print-address",
                &format!("--address={address}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon is installed (make test installs the dbus package)");
        // The address is printed once the bus accepts connections; the socket file
        // appears a moment before that, and a client that connects then is refused.
        let mut printed = String::new();
        BufReader::new(child.stdout.take().expect("dbus-daemon stdout"))
            .read_line(&mut printed)
            .expect("read the bus address");
        assert!(
            printed.starts_with("unix:"),
            "dbus-daemon did not start: {printed:?}"
        );
        Bus { child, address }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private X server (Xvfb) on a free display number, stopped on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1280x800x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (make test installs the xvfb package)");
        // Xvfb writes its display number once it accepts clients.
        let mut number = String::new();
        BufReader::new(child.stdout.take().expect("Xvfb stdout"))
            .read_line(&mut number)
            .expect("read the display number");
        assert!(
            !number.trim().is_empty(),
            "Xvfb exited without a display: {:?}",
            child.wait()
        );
        Xvfb {
            child,
            display: format!(":{}", number.trim()),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GNOME Keyring's Secret Service on a private bus, unlocked, its files under `home`.
#[derive(Debug)]
pub struct Keyring {
    child: Child,
}

impl Keyring {
    pub fn start(bus: &str, home: &Path) -> Keyring {
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("HOME", home)
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon is installed (make test installs gnome-keyring)");
        let password = child.stdin.take();
        // Owned from here on, so a failed wait below still stops the daemon.
        let keyring = Keyring { child };
        password
            .expect("stdin")
            .write_all(b"test-keyring-password")
            .expect("unlock password");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let owned = Command::new("dbus-send")
                .args([
                    &format!("--bus={bus}"),
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                return keyring;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring did not appear on the bus"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
