//! `COORD_URL`: which store to use, and where the default one lives.
//!
//! A Redis URL may carry a password; it never leaves this module in clear: [`RedisUrl`]'s
//! `Display` and `Debug` and every error that names a URL show `***` in its place.

use std::fmt;
use std::path::{Path, PathBuf};

pub use self::redis_url::RedisUrl;
use crate::StoreError;

mod redis_url;

/// A parsed store location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded store: an SQLite file.
    Sqlite(PathBuf),
    /// A Redis server that a fleet of machines shares.
    Redis(RedisUrl),
    /// A `coord serve` that runs every operation on its own store.
    Http(HttpUrl),
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
        let (scheme, rest) = url.split_once("://").ok_or_else(|| StoreError::Url {
            url: mask_password(url),
            why: "expected scheme://… (for example sqlite:///path/to/coord.db)".to_owned(),
        })?;
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
            "redis" | "rediss" | "redis+unix" => RedisUrl::parse(url).map(StoreUrl::Redis),
            "redis+sentinel" | "rediss+sentinel" => {
                RedisUrl::parse_sentinel(url, scheme == "rediss+sentinel", rest)
                    .map(StoreUrl::Redis)
            }
            "redis+cluster" | "rediss+cluster" => {
                RedisUrl::parse_cluster(url, scheme == "rediss+cluster", rest).map(StoreUrl::Redis)
            }
            "http" => HttpUrl::parse(rest, env("COORD_TOKEN"))
                .map(StoreUrl::Http)
                .map_err(|why| bad(&why)),
            other => Err(StoreError::Url {
                url: mask_password(url),
                why: format!(
                    "unsupported scheme `{other}` (supported: sqlite, redis, rediss, redis+unix, \
                     redis+sentinel, rediss+sentinel, redis+cluster, rediss+cluster, http)"
                ),
            }),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            StoreUrl::Redis(r) => r.fmt(f),
            StoreUrl::Http(h) => h.fmt(f),
        }
    }
}

/// Where a `coord serve` listens: `http://host:port`, with the bearer token it may ask for
/// (`COORD_TOKEN`, never part of the URL, never shown).
///
/// There is no `https://`: a server across an untrusted network belongs behind a proxy or a
/// tunnel that adds TLS, and the client then speaks to its local end.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    authority: String,
    token: Option<String>,
}

impl HttpUrl {
    /// Reads the part after `http://`: `host:port`, an optional trailing `/`, nothing else.
    fn parse(rest: &str, token: Option<String>) -> Result<Self, String> {
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = authority.rsplit_once(':').ok_or(
            "expected http://host:port, the address `coord serve --listen` was given".to_owned(),
        )?;
        if host.is_empty() || authority.contains(['/', '@', '?', '#']) {
            return Err("expected http://host:port with no path, user or query".to_owned());
        }
        port.parse::<u16>()
            .map_err(|_| format!("`{port}` is not a port number"))?;
        Ok(Self {
            authority: authority.to_owned(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// `http://host:port`, the prefix of the server's routes.
    #[must_use]
    pub fn base(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// The bearer token to send, if any.
    #[must_use]
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority)
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUrl")
            .field("authority", &self.authority)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `url` with anything that may be a password replaced by `***`, for messages about a URL that
/// did not parse: what stands between the first `:` after `://` (or the start) and the last `@`,
/// and the value of a `pass=` parameter.
fn mask_password(url: &str) -> String {
    let mut out = url.to_owned();
    let start = out.find("://").map_or(0, |i| i + 3);
    if let Some(at) = out[start..].rfind('@').map(|i| start + i)
        && let Some(colon) = out[start..at].find(':').map(|i| start + i)
    {
        out.replace_range(colon + 1..at, "***");
    }
    if let Some(value) = out.find("pass=").map(|i| i + 5) {
        let end = out[value..]
            .find(['&', '#'])
            .map_or(out.len(), |i| value + i);
        out.replace_range(value..end, "***");
    }
    out
}

/// `$XDG_STATE_HOME/coord/coord.db`, else `~/.local/state/coord/coord.db`.
fn default_path(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, StoreError> {
    Ok(state_dir(env)?.join("coord.db"))
}

/// coord's own directory for what it keeps on this host (the embedded store, the hook
/// receiver's token): `$XDG_STATE_HOME/coord`, else `~/.local/state/coord`.
pub fn state_dir(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, StoreError> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let state = match non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME").ok_or(StoreError::NoHome)?).join(".local/state"),
    };
    Ok(state.join("coord"))
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
