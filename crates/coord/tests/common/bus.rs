//! A private `dbus-daemon` for one test, on a unix socket in a temp dir: the session or system
//! bus a test points coord at (`DBUS_SESSION_BUS_ADDRESS`, `DBUS_SYSTEM_BUS_ADDRESS`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `dbus-daemon` on a unix socket in a temp dir, killed when dropped.
pub struct Bus {
    child: Child,
    /// Its address, `unix:path=…`.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    /// Starts one and waits until it listens.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start dbus-daemon ({e}): install it (on Debian or Ubuntu: apt-get \
                     install dbus-daemon, or run scripts/test)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "dbus-daemon did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        Self {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
