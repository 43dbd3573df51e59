//! Which Codex trust entries are coord's, and what coord may vouch for.
//!
//! Trusting a hook is the user's security decision: coord writes trust only when asked
//! (`--trust`), and only for a handler that is exactly what coord itself installs (its command,
//! its timeout, no matcher, nothing else), at the position it holds now. An entry is coord's
//! when its key is under coord's `hooks.json` and its hash is the hash of a coord handler (as
//! found in the file before or after the edit, or as coord writes it): a user's handler never
//! has such a hash, so removing coord's entries never touches the user's trust, whatever
//! positions the user's edits moved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml_edit::DocumentMut;

use crate::error::SetupError;
use crate::hooks_json::{Found, Wanted};
use crate::report::{Change, TRUST_COMMAND, TrustReport, TrustedHandler};
use crate::status::TrustStatus;
use crate::toml_file::TomlFile;
use crate::trust;

/// A trust entry coord vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Vouched {
    /// The handler's event.
    pub event: String,
    /// The entry's key.
    pub key: String,
    /// The hash it must hold.
    pub hash: String,
}

/// The hash of the handler coord writes for `want`.
fn wanted_hash(want: &Wanted) -> String {
    trust::hash(want.event, None, &want.target.object(want.timeout))
}

/// The hash Codex computes for a found handler now.
fn found_hash(found: &Found) -> String {
    trust::hash(&found.event, found.matcher.as_deref(), &found.fields)
}

fn found_key(hooks_json: &Path, found: &Found) -> String {
    trust::key(hooks_json, &found.event, found.group, found.handler)
}

/// Every hash that marks an entry as coord's.
pub(crate) fn coord_hashes<'a>(
    found: impl IntoIterator<Item = &'a Found>,
    wanted: &[Wanted],
) -> BTreeSet<String> {
    found
        .into_iter()
        .map(found_hash)
        .chain(wanted.iter().map(wanted_hash))
        .collect()
}

/// Settles trust after an install changed coord's handlers from `found` (before, after): writes
/// coord's entries when the user asked (`trust`), and says how the handlers stand.
pub(crate) fn on_install(
    config: &mut TomlFile,
    hooks_json: &Path,
    found: (&[Found], &[Found]),
    wanted: &[Wanted],
    trust: bool,
) -> Result<(Vec<Change>, TrustReport), SetupError> {
    let (before, after) = found;
    let (vouched, not_trusted) = vouched(hooks_json, after, wanted);
    if trust {
        let hashes = coord_hashes(before.iter().chain(after), wanted);
        let (changes, handlers) =
            write(&mut config.doc, &config.path, hooks_json, &vouched, &hashes)?;
        return Ok((
            changes,
            TrustReport::Trusted {
                handlers,
                not_trusted,
            },
        ));
    }
    let report = if not_trusted.is_empty() && all_stored(&config.doc, &vouched) {
        TrustReport::Trusted {
            handlers: vouched
                .into_iter()
                .map(|v| TrustedHandler {
                    event: v.event,
                    key: v.key,
                    written_now: false,
                })
                .collect(),
            not_trusted,
        }
    } else {
        TrustReport::LeftToReview {
            command: Some(TRUST_COMMAND.to_owned()),
        }
    };
    Ok((Vec::new(), report))
}

/// The entries coord may write for the handlers `found` after an install, and the events whose
/// coord handler was edited by hand and so is not vouched for.
fn vouched(hooks_json: &Path, found: &[Found], wanted: &[Wanted]) -> (Vec<Vouched>, Vec<String>) {
    let mut entries = Vec::new();
    let mut edited = Vec::new();
    for want in wanted {
        let hash = wanted_hash(want);
        for f in found
            .iter()
            .filter(|f| f.event == want.event && f.coord.event == want.event)
        {
            if want.target.is_in(&f.fields) && found_hash(f) == hash {
                entries.push(Vouched {
                    event: want.event.to_owned(),
                    key: found_key(hooks_json, f),
                    hash: hash.clone(),
                });
            } else if !edited.iter().any(|e| e == want.event) {
                edited.push(want.event.to_owned());
            }
        }
    }
    (entries, edited)
}

/// The keys under `hooks_json` whose entry holds one of `hashes`.
fn coord_entries(doc: &DocumentMut, hooks_json: &Path, hashes: &BTreeSet<String>) -> Vec<String> {
    let prefix = format!("{}:", hooks_json.display());
    trust::stored(doc)
        .into_iter()
        .filter(|(key, hash)| key.starts_with(&prefix) && hashes.contains(hash))
        .map(|(key, _)| key)
        .collect()
}

/// Writes the `vouched` entries and removes coord's entries at any other position.
fn write(
    doc: &mut DocumentMut,
    config: &Path,
    hooks_json: &Path,
    vouched: &[Vouched],
    hashes: &BTreeSet<String>,
) -> Result<(Vec<Change>, Vec<TrustedHandler>), SetupError> {
    let mut changes = Vec::new();
    for key in coord_entries(doc, hooks_json, hashes) {
        if !vouched.iter().any(|v| v.key == key) && trust::remove(doc, &key) {
            changes.push(Change::TrustRemoved { key });
        }
    }
    let mut trusted = Vec::new();
    for v in vouched {
        let written_now = trust::set(doc, config, &v.key, &v.hash)?;
        if written_now {
            changes.push(Change::TrustWritten {
                event: v.event.clone(),
                key: v.key.clone(),
            });
        }
        trusted.push(TrustedHandler {
            event: v.event.clone(),
            key: v.key.clone(),
            written_now,
        });
    }
    Ok((changes, trusted))
}

/// Whether every entry in `vouched` is already stored with its hash.
fn all_stored(doc: &DocumentMut, vouched: &[Vouched]) -> bool {
    let stored = trust::stored(doc);
    vouched
        .iter()
        .all(|v| stored.get(&v.key).is_some_and(|h| *h == v.hash))
}

/// Removes every coord entry (see the module header).
pub(crate) fn remove(
    doc: &mut DocumentMut,
    hooks_json: &Path,
    hashes: &BTreeSet<String>,
) -> Vec<Change> {
    coord_entries(doc, hooks_json, hashes)
        .into_iter()
        .filter(|key| trust::remove(doc, key))
        .map(|key| Change::TrustRemoved { key })
        .collect()
}

/// How Codex trusts the coord handler `found`.
pub(crate) fn status(
    stored: &BTreeMap<String, String>,
    hooks_json: &Path,
    found: &Found,
) -> TrustStatus {
    match stored.get(&found_key(hooks_json, found)) {
        None => TrustStatus::Untrusted,
        Some(hash) if *hash == found_hash(found) => TrustStatus::Trusted,
        Some(_) => TrustStatus::Modified,
    }
}

/// coord's entries at positions no coord handler holds now.
pub(crate) fn stale(
    doc: &DocumentMut,
    hooks_json: &Path,
    found: &[Found],
    wanted: &[Wanted],
) -> Vec<String> {
    let current: BTreeSet<String> = found.iter().map(|f| found_key(hooks_json, f)).collect();
    coord_entries(doc, hooks_json, &coord_hashes(found, wanted))
        .into_iter()
        .filter(|key| !current.contains(key))
        .collect()
}
