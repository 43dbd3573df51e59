//! The task label a working directory declares.
//!
//! A `.claude-task` file in the session's directory, or in the nearest ancestor up to the root
//! of its repository, names what the session works on: its first non-empty line.

use std::fs;
use std::path::Path;

/// The label declared for `cwd`, if any.
#[must_use]
pub fn task_label(cwd: &Path) -> Option<String> {
    for dir in cwd.ancestors() {
        if let Ok(text) = fs::read_to_string(dir.join(".claude-task"))
            && let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty())
        {
            return Some(line.to_owned());
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_file_up_to_the_repository_root_names_the_task() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        let deep = repo.join("src/module");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir(repo.join(".git")).unwrap();
        fs::write(root.path().join(".claude-task"), "outside the repo\n").unwrap();
        assert_eq!(
            task_label(&deep),
            None,
            "the search stops at the repository root"
        );
        fs::write(
            repo.join(".claude-task"),
            "\n  fix the flaky test  \nmore\n",
        )
        .unwrap();
        assert_eq!(task_label(&deep).as_deref(), Some("fix the flaky test"));
        fs::write(deep.join(".claude-task"), "module work").unwrap();
        assert_eq!(task_label(&deep).as_deref(), Some("module work"));
    }
}
