use std::process::Command;

fn main() {
    // Packed relative relocations (DT_RELR): the position-independent binary's 85,000
    // relative relocations take 29 KB instead of 2 MB, which the loader reads at every
    // start and which stayed in the resident's memory (docs/performance.md). Only where
    // the C library can load them (glibc 2.36, Debian 12's): an older one refuses the
    // binary.
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") && glibc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc (`getconf GNU_LIBC_VERSION`: "glibc 2.36") is 2.36 or later.
fn glibc_loads_relr() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut version = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or_default()
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let major = version.next().unwrap_or(0);
    let minor = version.next().unwrap_or(0);
    (major, minor) >= (2, 36)
}
