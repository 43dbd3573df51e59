//! Replacing a settings file so that it is never seen half written, and never lost.
//!
//! An agent reads its settings at any moment and may write them itself, so a file is replaced
//! whole: the new bytes go to a temporary file in the same directory, are flushed to disk, and
//! the temporary file is renamed over the old one, which keeps its permissions. Before that, the
//! old file is copied to `<file>.coord-backup`, and read once more: if the agent changed it since
//! coord read it, nothing is written. A symbolic link (a dotfiles checkout) is followed, so the
//! link stays a link. Missing directories are created private to the user (0700), a missing
//! file private too (0600).

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::SetupError;

/// The suffix of the copy made before a file is changed.
pub(crate) const BACKUP_SUFFIX: &str = ".coord-backup";

/// What a replacement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    /// The copy of the previous content, `None` when the file was created.
    pub backup: Option<PathBuf>,
}

/// The content of `path`, or `None` when there is no such file.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>, SetupError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SetupError::io(path, e)),
    }
}

/// Replaces the file at `path`, read earlier as `original` (`None`: it did not exist), with
/// `contents`.
pub(crate) fn replace(
    path: &Path,
    original: Option<&str>,
    contents: &[u8],
) -> Result<Written, SetupError> {
    let target = resolve_link(path)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| SetupError::io(&dir, e))?;

    if read_if_exists(&target)?.as_deref() != original {
        return Err(SetupError::ChangedMeanwhile(path.to_owned()));
    }
    let (permissions, backup) = if original.is_some() {
        let permissions = fs::metadata(&target)
            .map_err(|e| SetupError::io(&target, e))?
            .permissions();
        (permissions, Some(back_up(&target)?))
    } else {
        (Permissions::from_mode(0o600), None)
    };

    let mut temp = tempfile::Builder::new()
        .prefix(".coord-")
        .tempfile_in(&dir)
        .map_err(|e| SetupError::io(&dir, e))?;
    let temp_path = temp.path().to_owned();
    let io_err = |e| SetupError::io(&temp_path, e);
    temp.write_all(contents).map_err(io_err)?;
    temp.as_file()
        .set_permissions(permissions)
        .map_err(io_err)?;
    temp.as_file().sync_all().map_err(io_err)?;
    temp.persist(&target)
        .map_err(|e| SetupError::io(&target, e.error))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SetupError::io(&dir, e))?;
    Ok(Written { backup })
}

/// The file a path names, its symbolic links followed.
fn resolve_link(path: &Path) -> Result<PathBuf, SetupError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|e| SetupError::io(path, e))
        }
        _ => Ok(path.to_owned()),
    }
}

/// Copies `target` to `<target>.coord-backup` (replacing an older backup) and flushes the copy.
fn back_up(target: &Path) -> Result<PathBuf, SetupError> {
    let mut name = target.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    let backup = PathBuf::from(name);
    fs::copy(target, &backup).map_err(|e| SetupError::io(&backup, e))?;
    File::open(&backup)
        .and_then(|f| f.sync_all())
        .map_err(|e| SetupError::io(&backup, e))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_dirs_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/settings.json");
        let written = replace(&path, None, b"{}\n").unwrap();
        assert_eq!(written.backup, None);
        assert_eq!(fs::read(&path).unwrap(), b"{}\n");
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn keeps_permissions_and_backs_up() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("settings.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        let written = replace(&path, Some("old"), b"new").unwrap();
        let backup = tmp.path().join("settings.json.coord-backup");
        assert_eq!(written.backup.as_deref(), Some(backup.as_path()));
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o640);
        let leftovers = fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary file left behind");
    }

    #[test]
    fn refuses_a_file_changed_since_it_was_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("settings.json");
        fs::write(&path, "theirs").unwrap();
        let err = replace(&path, Some("ours"), b"new").unwrap_err();
        assert!(matches!(err, SetupError::ChangedMeanwhile(_)), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "theirs");
        assert!(!tmp.path().join("settings.json.coord-backup").exists());
    }

    #[test]
    fn follows_a_symbolic_link() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("dotfiles/settings.json");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, "old").unwrap();
        let link = tmp.path().join("settings.json");
        symlink(&real, &link).unwrap();
        replace(&link, Some("old"), b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }
}
