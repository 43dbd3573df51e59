//! `coord service install|uninstall`: the per-host watcher (`coord watch --all`) as a service of
//! the user's systemd, so that it starts with the user's session and comes back if it dies.
//!
//! The unit is one file, `coord-watch.service` in the user's systemd directory, written
//! atomically (a second install with the same settings writes nothing) and removed exactly. It
//! runs this coord with the store and fleet the installing shell names, since a user service
//! does not see the shell's environment. Starting it (`systemctl --user`) is the caller's.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::{self, read_if_exists};
use crate::error::SetupError;

/// The unit's file name.
pub const UNIT_NAME: &str = "coord-watch.service";

/// What an install or uninstall did to the unit file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Written where there was none.
    Created,
    /// Rewritten with other settings.
    Updated,
    /// Already as asked: nothing written.
    Unchanged,
    /// Removed.
    Removed,
    /// There was none to remove.
    Absent,
}

/// Where the user unit lives: `$XDG_CONFIG_HOME/systemd/user/` or `~/.config/systemd/user/`.
#[must_use]
pub fn unit_path(home: &Path, xdg_config_home: Option<&Path>) -> PathBuf {
    xdg_config_home
        .filter(|p| p.is_absolute())
        .map_or_else(|| home.join(".config"), Path::to_owned)
        .join("systemd/user")
        .join(UNIT_NAME)
}

/// The unit that runs `coord watch --all` with `coord` and the settings in `env` (name, value).
#[must_use]
pub fn unit_text(coord: &Path, env: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "# Written by `coord service install`; removed by `coord service uninstall`.\n\
         [Unit]\n\
         Description=coord: the per-host watcher of agent sessions\n\
         \n\
         [Service]\n",
    );
    let coord = quote(&coord.to_string_lossy());
    // The host is up again (a boot, a login, a wake): any word it left that it sleeps or
    // shuts down no longer holds. A failure to say so never keeps the watcher from starting.
    let _ = writeln!(text, "ExecStartPre=-{coord} host wake");
    let _ = writeln!(text, "ExecStart={coord} watch --all");
    for (name, value) in env {
        let _ = writeln!(text, "Environment={}", quote(&format!("{name}={value}")));
    }
    text.push_str(
        "Restart=always\n\
         RestartSec=2\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
    );
    text
}

/// A word for systemd's command line and `Environment=`: quoted when it holds anything but
/// plain characters, with `\`, `"`, `%` and `$` escaped.
fn quote(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=:@+,".contains(c));
    if plain {
        return word.to_owned();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the unit at `path` with `text`, unless it holds that already.
pub fn install_unit(path: &Path, text: &str) -> Result<UnitOutcome, SetupError> {
    let before = read_if_exists(path)?;
    if before.as_deref() == Some(text) {
        return Ok(UnitOutcome::Unchanged);
    }
    atomic::replace(path, before.as_deref(), text.as_bytes())?;
    Ok(if before.is_some() {
        UnitOutcome::Updated
    } else {
        UnitOutcome::Created
    })
}

/// Removes the unit at `path`, if there is one.
pub fn uninstall_unit(path: &Path) -> Result<UnitOutcome, SetupError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(UnitOutcome::Removed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(UnitOutcome::Absent),
        Err(e) => Err(SetupError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_this_coord_with_the_shells_store() {
        let text = unit_text(
            Path::new("/opt/my tools/coord"),
            &[("COORD_URL", "redis://:p%w$d@h:6379/0")],
        );
        assert!(
            text.contains("ExecStart=\"/opt/my tools/coord\" watch --all\n")
                && text.contains("ExecStartPre=-\"/opt/my tools/coord\" host wake\n"),
            "{text}"
        );
        assert!(
            text.contains("Environment=\"COORD_URL=redis://:p%%w$$d@h:6379/0\"\n"),
            "{text}"
        );
        assert!(text.contains("Restart=always"));
        assert!(text.contains("WantedBy=default.target"));
    }

    #[test]
    fn the_unit_goes_where_systemd_looks_for_user_units() {
        let home = Path::new("/home/a");
        assert_eq!(
            unit_path(home, None),
            Path::new("/home/a/.config/systemd/user/coord-watch.service")
        );
        assert_eq!(
            unit_path(home, Some(Path::new("/x/cfg"))),
            Path::new("/x/cfg/systemd/user/coord-watch.service")
        );
        assert_eq!(
            unit_path(home, Some(Path::new("relative"))),
            Path::new("/home/a/.config/systemd/user/coord-watch.service")
        );
    }

    #[test]
    fn install_is_idempotent_and_uninstall_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = unit_path(dir.path(), None);
        let text = unit_text(Path::new("/usr/bin/coord"), &[]);
        assert_eq!(install_unit(&path, &text).unwrap(), UnitOutcome::Created);
        assert_eq!(install_unit(&path, &text).unwrap(), UnitOutcome::Unchanged);
        let other = unit_text(Path::new("/usr/local/bin/coord"), &[]);
        assert_eq!(install_unit(&path, &other).unwrap(), UnitOutcome::Updated);
        assert_eq!(fs::read_to_string(&path).unwrap(), other);
        assert_eq!(uninstall_unit(&path).unwrap(), UnitOutcome::Removed);
        assert_eq!(uninstall_unit(&path).unwrap(), UnitOutcome::Absent);
        assert!(!path.exists());
    }
}
