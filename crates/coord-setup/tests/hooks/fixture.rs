//! A private home and project per test, and small helpers to read and write their files.

use std::fs;
use std::path::{Path, PathBuf};

use coord_setup::{Agent, Delivery, Options, Paths, Report, Scope, SetupError, Status};
use tempfile::TempDir;

/// The coord binary every test installs (a path that needs no quoting).
pub const COORD: &str = "/opt/coord/bin/coord";

/// A temporary home directory and project.
pub struct Fixture {
    _dir: TempDir,
    pub paths: Paths,
    pub opts: Options,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Resolved, so that paths compare equal to the ones Codex's trust keys spell.
        let root = fs::canonicalize(dir.path()).unwrap();
        let paths = Paths {
            home: root.join("home"),
            claude_config_dir: None,
            codex_home: None,
            project_dir: root.join("project"),
        };
        fs::create_dir_all(&paths.home).unwrap();
        fs::create_dir_all(&paths.project_dir).unwrap();
        Self {
            _dir: dir,
            paths,
            opts: Options {
                coord: PathBuf::from(COORD),
                trust_codex_hooks: false,
                delivery: Delivery::Shell,
            },
        }
    }

    pub fn trusting(mut self) -> Self {
        self.opts.trust_codex_hooks = true;
        self
    }

    pub fn home(&self, relative: &str) -> PathBuf {
        self.paths.home.join(relative)
    }

    pub fn project(&self, relative: &str) -> PathBuf {
        self.paths.project_dir.join(relative)
    }

    pub fn install(&self, agent: Agent, scope: Scope) -> Result<Report, SetupError> {
        coord_setup::install(agent, scope, &self.paths, &self.opts)
    }

    pub fn uninstall(&self, agent: Agent, scope: Scope) -> Result<Report, SetupError> {
        coord_setup::uninstall(agent, scope, &self.paths, &self.opts)
    }

    pub fn status(&self, agent: Agent, scope: Scope) -> Status {
        coord_setup::status(agent, scope, &self.paths, &self.opts).unwrap()
    }
}

pub fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap()
}

pub fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".coord-backup");
    PathBuf::from(name)
}

/// The names in a directory, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
