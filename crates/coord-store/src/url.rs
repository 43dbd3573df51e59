//! `COORD_URL`: which store to use, and where the default one lives.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// A parsed store location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded store: an SQLite file.
    Sqlite(PathBuf),
}

impl StoreUrl {
    /// Parses `COORD_URL`; `None` or an empty value picks the default embedded store.
    ///
    /// `env` looks up environment variables (`XDG_STATE_HOME`, `HOME`) so callers and tests
    /// decide where they come from.
    pub fn parse(
        url: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StoreError> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(StoreUrl::Sqlite(default_path(env)?));
        };
        let bad = |why: &str| StoreError::Url {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://… (for example sqlite:///path/to/coord.db)"))?;
        match scheme {
            "sqlite" => {
                let path = Path::new(rest);
                if rest.is_empty() || !path.is_absolute() {
                    return Err(bad(
                        "an absolute path is needed: sqlite:///path/to/coord.db",
                    ));
                }
                Ok(StoreUrl::Sqlite(path.to_owned()))
            }
            other => Err(bad(&format!(
                "unsupported scheme `{other}` (supported: sqlite)"
            ))),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
        }
    }
}

/// `$XDG_STATE_HOME/coord/coord.db`, else `~/.local/state/coord/coord.db`.
fn default_path(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, StoreError> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let state = match non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME").ok_or(StoreError::NoHome)?).join(".local/state"),
    };
    Ok(state.join("coord").join("coord.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_default_follows_xdg_then_home() {
        let xdg = StoreUrl::parse(None, env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])).unwrap();
        assert_eq!(xdg, StoreUrl::Sqlite("/s/coord/coord.db".into()));
        let home = StoreUrl::parse(Some(""), env(&[("HOME", "/h")])).unwrap();
        assert_eq!(
            home,
            StoreUrl::Sqlite("/h/.local/state/coord/coord.db".into())
        );
        assert!(matches!(
            StoreUrl::parse(None, env(&[])),
            Err(StoreError::NoHome)
        ));
    }

    #[test]
    fn sqlite_urls_need_an_absolute_path() {
        let u = StoreUrl::parse(Some("sqlite:///tmp/x.db"), env(&[])).unwrap();
        assert_eq!(u, StoreUrl::Sqlite("/tmp/x.db".into()));
        assert_eq!(u.to_string(), "sqlite:///tmp/x.db");
        assert!(StoreUrl::parse(Some("sqlite://x.db"), env(&[])).is_err());
        assert!(StoreUrl::parse(Some("/tmp/x.db"), env(&[])).is_err());
        let err = StoreUrl::parse(Some("ftp://h/x"), env(&[])).unwrap_err();
        assert!(
            err.to_string().contains("unsupported scheme `ftp`"),
            "{err}"
        );
    }
}
