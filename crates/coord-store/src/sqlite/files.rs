//! The files of the embedded store besides the database: creating it whole before anyone can
//! open it (private to its user), and the `-lasting` file whose shared lock says a lasting
//! process holds the store.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags};

use super::schema;
use crate::{Result, StoreError};

/// The suffix of the file a lasting handle holds a shared lock on while it is open.
pub(super) const LASTING_SUFFIX: &str = "-lasting";

/// The file beside the store `path` named with `suffix`.
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens the `-lasting` file beside the store `path` (mode 0600) and takes a shared lock on it,
/// held until the file is closed (the kernel lets it go if the process dies).
pub(super) fn hold_presence(path: &Path) -> Result<File> {
    let presence = sibling(path, LASTING_SUFFIX);
    let io = |source| StoreError::Io {
        path: presence.clone(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&presence)
        .map_err(io)?;
    file.lock_shared().map_err(io)?;
    Ok(file)
}

/// Whether a lasting handle holds the store whose `-lasting` file is `presence`: its shared
/// lock keeps an exclusive one from being taken.
pub(super) fn lasting_process_holds(presence: &Path) -> bool {
    let Ok(file) = File::open(presence) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// How many stores this process began to make: it names their temporary files.
static STORES_MADE: AtomicU64 = AtomicU64::new(0);

/// Creates a new store at `path`, complete (schema, WAL mode) before anyone can open it: it is
/// built under a temporary name and linked into place, so processes that start at the same
/// moment on a new machine (two hooks of one agent) never see a half-made store; the one that
/// links second drops its copy.
pub(super) fn create(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    let n = STORES_MADE.fetch_add(1, Ordering::Relaxed);
    tmp.push(format!(".new-{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    create_private_file(&tmp)?;
    let built = Connection::open_with_flags(
        &tmp,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)
    .and_then(|conn| schema::migrate(&conn).map(|()| conn))
    .and_then(|conn| conn.close().map_err(|(_, e)| e.into()));
    let linked = built.and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    });
    let _ = fs::remove_file(&tmp);
    linked
}

fn create_private_file(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}
