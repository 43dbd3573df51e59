//! Codex's `notify` program in `config.toml`: coord's turn-end signal, which needs no trust.
//!
//! coord's value is `["<coord>", "hook", "codex-notify"]`. Codex runs one program only, so a
//! user's own `notify` is kept working by chaining: coord goes in front,
//! `["<coord>", "hook", "codex-notify", <their program>, <their args>…]`, and runs their program
//! with the JSON appended after its own work. Uninstall takes coord's three words out again and
//! gives the first of theirs back its original spacing, so their line returns as it was.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, value};

use crate::command::is_coord_program;
use crate::error::SetupError;
use crate::report::Change;
use crate::status::NotifyStatus;

/// The words after the program in coord's `notify`.
const COORD_ARGS: [&str; 2] = ["hook", "codex-notify"];

/// The `notify` array, `None` when absent; an error when it is not an array of strings.
fn array<'a>(doc: &'a DocumentMut, path: &Path) -> Result<Option<&'a Array>, SetupError> {
    match doc.get("notify") {
        None => Ok(None),
        Some(item) => match item.as_array() {
            Some(array) if array.iter().all(|v| v.as_str().is_some()) => Ok(Some(array)),
            _ => Err(not_argv(path, item)),
        },
    }
}

fn not_argv(path: &Path, item: &Item) -> SetupError {
    SetupError::Shape {
        path: path.to_owned(),
        key: "notify".to_owned(),
        expected: "an array of strings",
        found: item.type_name(),
    }
}

fn words(array: &Array) -> Vec<String> {
    array
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Whether `argv` is coord's `notify` (with or without a chained program).
fn is_coords(argv: &[String]) -> bool {
    argv.len() >= 3 && is_coord_program(&argv[0]) && argv[1..3] == COORD_ARGS
}

/// Makes `notify` coord's, calling `coord`.
pub(crate) fn install(
    doc: &mut DocumentMut,
    path: &Path,
    coord: &str,
) -> Result<Option<Change>, SetupError> {
    let Some(current) = array(doc, path)?.map(words) else {
        let mut argv = Array::new();
        argv.push(coord);
        argv.extend(COORD_ARGS);
        doc.insert("notify", value(argv));
        return Ok(Some(Change::NotifySet {
            argv: vec![coord.to_owned(), COORD_ARGS[0].into(), COORD_ARGS[1].into()],
        }));
    };
    let Some(array) = doc.get_mut("notify").and_then(Item::as_array_mut) else {
        return Ok(None);
    };
    if is_coords(&current) {
        if current[0] == coord {
            return Ok(None);
        }
        array.replace(0, coord);
        return Ok(Some(Change::NotifyRetargeted {
            from: current[0].clone(),
            to: coord.to_owned(),
        }));
    }
    let first_decor = array.get(0).map(|first| first.decor().clone());
    for (i, word) in [coord, COORD_ARGS[0], COORD_ARGS[1]]
        .into_iter()
        .enumerate()
    {
        array.insert(i, word);
    }
    if let Some(decor) = first_decor {
        // Their first word keeps its own suffix but now follows a comma; coord's word takes the
        // place (and the spacing) their first word had.
        if let Some(theirs) = array.get_mut(3) {
            *theirs.decor_mut() = decor.clone();
            theirs.decor_mut().set_prefix(" ");
        }
        if let Some(coord_word) = array.get_mut(0) {
            *coord_word.decor_mut() = decor;
        }
    }
    Ok(Some(if current.is_empty() {
        Change::NotifySet { argv: words(array) }
    } else {
        Change::NotifyChained { theirs: current }
    }))
}

/// Takes coord out of `notify`: removes it, or gives back the user's chained program.
pub(crate) fn uninstall(doc: &mut DocumentMut, path: &Path) -> Result<Option<Change>, SetupError> {
    let Some(current) = array(doc, path)?.map(words) else {
        return Ok(None);
    };
    if !is_coords(&current) {
        return Ok(None);
    }
    if current.len() == 3 {
        doc.remove("notify");
        return Ok(Some(Change::NotifyRemoved));
    }
    let Some(array) = doc.get_mut("notify").and_then(Item::as_array_mut) else {
        return Ok(None);
    };
    let coord_prefix = array
        .get(0)
        .and_then(|first| first.decor().prefix().cloned());
    for _ in 0..3 {
        array.remove(0);
    }
    if let (Some(prefix), Some(theirs)) = (coord_prefix, array.get_mut(0)) {
        theirs.decor_mut().set_prefix(prefix);
    }
    Ok(Some(Change::NotifyRestored {
        argv: current[3..].to_vec(),
    }))
}

/// How `notify` stands.
pub(crate) fn status(
    doc: &DocumentMut,
    path: &Path,
    coord: &str,
) -> Result<NotifyStatus, SetupError> {
    let Some(argv) = array(doc, path)?.map(words) else {
        return Ok(NotifyStatus::Missing);
    };
    if !is_coords(&argv) {
        return Ok(NotifyStatus::Other { argv });
    }
    Ok(NotifyStatus::Installed {
        calls_this_coord: argv[0] == coord,
        program: PathBuf::from(&argv[0]),
        chained: argv[3..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COORD: &str = "/usr/bin/coord";

    fn doc(text: &str) -> DocumentMut {
        text.parse().unwrap()
    }

    fn round_trip(original: &str) -> String {
        let path = Path::new("config.toml");
        let mut d = doc(original);
        install(&mut d, path, COORD).unwrap().unwrap();
        let installed = d.to_string();
        uninstall(&mut d, path).unwrap().unwrap();
        assert_eq!(d.to_string(), original, "uninstall restores byte for byte");
        installed
    }

    #[test]
    fn sets_notify_when_there_is_none() {
        let path = Path::new("config.toml");
        let mut d = doc("model = \"m\"\n\n[tui]\nx = 1\n");
        let change = install(&mut d, path, COORD).unwrap();
        assert!(matches!(change, Some(Change::NotifySet { .. })));
        assert_eq!(
            d.to_string(),
            "model = \"m\"\nnotify = [\"/usr/bin/coord\", \"hook\", \"codex-notify\"]\n\n[tui]\nx = 1\n"
        );
        assert_eq!(install(&mut d, path, COORD).unwrap(), None);
        assert_eq!(
            uninstall(&mut d, path).unwrap(),
            Some(Change::NotifyRemoved)
        );
        assert_eq!(d.to_string(), "model = \"m\"\n\n[tui]\nx = 1\n");
    }

    #[test]
    fn chains_the_users_notify_and_restores_it() {
        let installed =
            round_trip("# mine\nnotify = [\"notify-send\", \"Codex\"] # keep\nmodel = \"m\"\n");
        assert_eq!(
            installed,
            "# mine\nnotify = [\"/usr/bin/coord\", \"hook\", \"codex-notify\", \"notify-send\", \"Codex\"] # keep\nmodel = \"m\"\n"
        );
        round_trip("notify = [\n    \"python3\",\n    \"/home/me/notify.py\",\n]\n");
        round_trip("notify = [ 'a' ]\n");
    }

    #[test]
    fn retargets_an_old_coord_and_keeps_the_chain() {
        let path = Path::new("config.toml");
        let mut d = doc("notify = [\"/old/coord\", \"hook\", \"codex-notify\", \"x\"]\n");
        let change = install(&mut d, path, COORD).unwrap();
        assert!(matches!(change, Some(Change::NotifyRetargeted { .. })));
        assert_eq!(
            status(&d, path, COORD).unwrap(),
            NotifyStatus::Installed {
                program: COORD.into(),
                calls_this_coord: true,
                chained: vec!["x".into()],
            }
        );
    }

    #[test]
    fn a_notify_that_is_not_an_argv_is_refused() {
        let path = Path::new("config.toml");
        let mut d = doc("notify = \"notify-send\"\n");
        assert!(matches!(
            install(&mut d, path, COORD),
            Err(SetupError::Shape { .. })
        ));
        let mut d = doc("notify = [1]\n");
        assert!(uninstall(&mut d, path).is_err());
    }
}
