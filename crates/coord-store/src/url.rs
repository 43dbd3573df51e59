//! `COORD_URL`: which store to use, and where the default one lives.
//!
//! A Redis URL may carry a password; it never leaves this module in clear: [`RedisUrl`]'s
//! `Display` and `Debug` and every error that names a URL show `***` in its place.

use std::fmt;
use std::path::{Path, PathBuf};

use redis::{ConnectionAddr, IntoConnectionInfo};

use crate::StoreError;

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
            "http" => HttpUrl::parse(rest, env("COORD_TOKEN"))
                .map(StoreUrl::Http)
                .map_err(|why| bad(&why)),
            other => Err(StoreError::Url {
                url: mask_password(url),
                why: format!(
                    "unsupported scheme `{other}` (supported: sqlite, redis, rediss, redis+unix, \
                     redis+sentinel, rediss+sentinel, http)"
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

/// Where a Redis server listens, and how to log in to it: `redis://[user:pass@]host:port/db`,
/// `rediss://…` (TLS, certificates checked against the system's roots),
/// `redis+unix:///path/to.sock[?db=N][&user=U&pass=P]`, or the sentinels that know it:
/// `redis+sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db]` (`rediss+sentinel://`:
/// the master over TLS; the login is the master's, the sentinels take none).
///
/// Parsed by the `redis` crate; shown with the password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    addr: RedisAddr,
    db: i64,
    username: Option<String>,
    password: Option<String>,
}

/// A Redis server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RedisAddr {
    Tcp {
        host: String,
        port: u16,
        tls: bool,
    },
    Unix(PathBuf),
    /// The sentinels that name the master called `master`.
    Sentinel {
        nodes: Vec<(String, u16)>,
        master: String,
        tls: bool,
    },
}

impl RedisUrl {
    fn parse(url: &str) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Url {
            url: mask_password(url),
            why,
        };
        let info = url.into_connection_info().map_err(|e| bad(e.to_string()))?;
        let addr = match info.addr() {
            ConnectionAddr::Tcp(host, port) => RedisAddr::Tcp {
                host: host.clone(),
                port: *port,
                tls: false,
            },
            ConnectionAddr::TcpTls { insecure: true, .. } => {
                return Err(bad(
                    "certificate checks cannot be turned off (#insecure)".to_owned()
                ));
            }
            ConnectionAddr::TcpTls { host, port, .. } => RedisAddr::Tcp {
                host: host.clone(),
                port: *port,
                tls: true,
            },
            ConnectionAddr::Unix(path) if path.is_absolute() => RedisAddr::Unix(path.clone()),
            _ => return Err(bad("unsupported address".to_owned())),
        };
        let settings = info.redis_settings();
        Ok(Self {
            addr,
            db: settings.db(),
            username: settings.username().map(str::to_owned),
            password: settings.password().map(str::to_owned),
        })
    }

    /// Parses `redis+sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db]` (`rest` is what
    /// follows the scheme): each sentinel's address, then the master's name and database, the
    /// login read by the `redis` crate as for a plain URL.
    fn parse_sentinel(url: &str, tls: bool, rest: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::Url {
            url: mask_password(url),
            why: why.to_owned(),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (login, hosts) = match authority.rsplit_once('@') {
            Some((login, hosts)) => (format!("{login}@"), hosts),
            None => (String::new(), authority),
        };
        let (master, db) = path.split_once('/').unwrap_or((path, "0"));
        if master.is_empty() {
            return Err(bad(
                "the master's name is needed: redis+sentinel://host:port/MASTER",
            ));
        }
        let mut nodes = Vec::new();
        for host in hosts.split(',') {
            let parsed = Self::parse(&format!("redis://{login}{host}/{db}"))
                .map_err(|_| bad("expected host:port[,host:port…] of the sentinels"))?;
            let RedisAddr::Tcp { host, port, .. } = parsed.addr else {
                return Err(bad("expected host:port[,host:port…] of the sentinels"));
            };
            nodes.push((host, port));
        }
        let first = hosts.split(',').next().unwrap_or_default();
        let login = Self::parse(&format!("redis://{login}{first}/{db}"))
            .map_err(|_| bad("the login or the database cannot be read"))?;
        Ok(Self {
            addr: RedisAddr::Sentinel {
                nodes,
                master: master.to_owned(),
                tls,
            },
            ..login
        })
    }

    /// The sentinels to ask, and the name of the master, for a URL that names sentinels.
    pub(crate) fn sentinels(&self) -> Option<(Vec<redis::ConnectionInfo>, &str)> {
        let RedisAddr::Sentinel { nodes, master, .. } = &self.addr else {
            return None;
        };
        let infos = nodes
            .iter()
            .filter_map(|(host, port)| {
                ConnectionAddr::Tcp(host.clone(), *port)
                    .into_connection_info()
                    .ok()
                    .map(|i| {
                        i.set_redis_settings(
                            redis::RedisConnectionInfo::default().set_skip_set_lib_name(),
                        )
                    })
            })
            .collect();
        Some((infos, master))
    }

    /// What the `redis` crate needs to connect to the data node at `host:port` that the
    /// sentinels named, with this URL's login, database and TLS.
    pub(crate) fn node_info(
        &self,
        host: &str,
        port: u16,
    ) -> redis::RedisResult<redis::ConnectionInfo> {
        let tls = matches!(self.addr, RedisAddr::Sentinel { tls: true, .. });
        Self {
            addr: RedisAddr::Tcp {
                host: host.to_owned(),
                port,
                tls,
            },
            ..self.clone()
        }
        .connection_info()
    }

    /// What the `redis` crate needs to connect. The client does not announce its name and
    /// version (`CLIENT SETINFO`): that is one round trip less for every short-lived process.
    /// A URL of sentinels connects to the first of them.
    pub(crate) fn connection_info(&self) -> redis::RedisResult<redis::ConnectionInfo> {
        let addr = match &self.addr {
            RedisAddr::Tcp {
                host,
                port,
                tls: false,
            } => ConnectionAddr::Tcp(host.clone(), *port),
            RedisAddr::Tcp {
                host,
                port,
                tls: true,
            } => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: false,
                tls_params: None,
            },
            RedisAddr::Unix(path) => ConnectionAddr::Unix(path.clone()),
            RedisAddr::Sentinel { nodes, .. } => {
                let (host, port) = nodes.first().cloned().unwrap_or_default();
                ConnectionAddr::Tcp(host, port)
            }
        };
        let mut settings = redis::RedisConnectionInfo::default()
            .set_db(self.db)
            .set_skip_set_lib_name();
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        Ok(addr.into_connection_info()?.set_redis_settings(settings))
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = self.password.as_ref().map(|_| "***");
        match &self.addr {
            RedisAddr::Tcp { host, port, tls } => {
                f.write_str(if *tls { "rediss://" } else { "redis://" })?;
                match (&self.username, password) {
                    (None, None) => {}
                    (Some(user), None) => write!(f, "{user}@")?,
                    (user, Some(p)) => write!(f, "{}:{p}@", user.as_deref().unwrap_or_default())?,
                }
                if host.contains(':') {
                    write!(f, "[{host}]:{port}/{}", self.db)
                } else {
                    write!(f, "{host}:{port}/{}", self.db)
                }
            }
            RedisAddr::Sentinel { nodes, master, tls } => {
                f.write_str(if *tls {
                    "rediss+sentinel://"
                } else {
                    "redis+sentinel://"
                })?;
                match (&self.username, password) {
                    (None, None) => {}
                    (Some(user), None) => write!(f, "{user}@")?,
                    (user, Some(p)) => write!(f, "{}:{p}@", user.as_deref().unwrap_or_default())?,
                }
                let hosts: Vec<String> = nodes
                    .iter()
                    .map(|(h, p)| {
                        if h.contains(':') {
                            format!("[{h}]:{p}")
                        } else {
                            format!("{h}:{p}")
                        }
                    })
                    .collect();
                write!(f, "{}/{master}/{}", hosts.join(","), self.db)
            }
            RedisAddr::Unix(path) => {
                write!(f, "redis+unix://{}?db={}", path.display(), self.db)?;
                if let Some(user) = &self.username {
                    write!(f, "&user={user}")?;
                }
                if let Some(p) = password {
                    write!(f, "&pass={p}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.to_string()).finish()
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

    fn redis(url: &str) -> RedisUrl {
        match StoreUrl::parse(Some(url), env(&[])) {
            Ok(StoreUrl::Redis(r)) => r,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn redis_urls_parse_with_their_defaults() {
        let r = redis("redis://user:pa%40ss@cache.internal:6380/2");
        assert_eq!(
            r.addr,
            RedisAddr::Tcp {
                host: "cache.internal".into(),
                port: 6380,
                tls: false
            }
        );
        assert_eq!(r.db, 2);
        assert_eq!(r.username.as_deref(), Some("user"));
        assert_eq!(r.password.as_deref(), Some("pa@ss"));
        let plain = redis("redis://localhost");
        assert_eq!(plain.to_string(), "redis://localhost:6379/0");
        assert_eq!(plain.password, None);
        let tls = redis("rediss://:secret@[::1]:7000/1");
        assert_eq!(tls.to_string(), "rediss://:***@[::1]:7000/1");
        let unix = redis("redis+unix:///run/redis.sock?db=3");
        assert_eq!(unix.addr, RedisAddr::Unix("/run/redis.sock".into()));
        assert_eq!(unix.db, 3);
        assert_eq!(unix.to_string(), "redis+unix:///run/redis.sock?db=3");
    }

    #[test]
    fn sentinel_urls_name_every_sentinel_the_master_and_its_login() {
        let r = redis("redis+sentinel://me:pa%40ss@10.0.0.1:26379,[::1]:26380/cache/2");
        assert_eq!(
            r.addr,
            RedisAddr::Sentinel {
                nodes: vec![("10.0.0.1".into(), 26379), ("::1".into(), 26380)],
                master: "cache".into(),
                tls: false,
            }
        );
        assert_eq!((r.db, r.username.as_deref()), (2, Some("me")));
        assert_eq!(r.password.as_deref(), Some("pa@ss"));
        assert_eq!(
            r.to_string(),
            "redis+sentinel://me:***@10.0.0.1:26379,[::1]:26380/cache/2"
        );
        let tls = redis("rediss+sentinel://s1:26379/m");
        assert_eq!(tls.to_string(), "rediss+sentinel://s1:26379/m/0");
        let node = tls.node_info("10.0.0.9", 6380).unwrap();
        assert!(
            matches!(node.addr(), ConnectionAddr::TcpTls { host, port: 6380, .. } if host == "10.0.0.9")
        );
        let why = |url: &str| {
            StoreUrl::parse(Some(url), env(&[]))
                .unwrap_err()
                .to_string()
        };
        assert!(why("redis+sentinel://s1:26379").contains("master"));
        assert!(why("redis+sentinel://s1:26379/").contains("master"));
        assert!(why("redis+sentinel://s1:x/m").contains("host:port"));
        assert!(!why("redis+sentinel://u:hunter2@s1:x/m").contains("hunter2"));
    }

    #[test]
    fn a_password_never_shows() {
        let r = redis("redis://user:hunter2@host:6379/0");
        assert_eq!(r.to_string(), "redis://user:***@host:6379/0");
        assert!(!format!("{r:?}").contains("hunter2"));
        let url = StoreUrl::Redis(r);
        assert!(!format!("{url} {url:?}").contains("hunter2"));
        let unix = redis("redis+unix:///r.sock?user=me&pass=hunter2");
        assert_eq!(
            unix.to_string(),
            "redis+unix:///r.sock?db=0&user=me&pass=***"
        );
        for bad in [
            "redis://user:hunter2@host:notaport/0",
            "redis://user:hunter2@host:6379/notadb",
            "redis+unix:///r.sock?pass=hunter2&db=x",
            "redis://user:hunt/er2@host:6379/0",
            "rediss://user:hunter2@host:6379/0#insecure",
            "gopher://user:hunter2@host",
            "user:hunter2@host",
        ] {
            let err = StoreUrl::parse(Some(bad), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(
                !err.contains("hunter2") && !err.contains("er2@"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_redis_urls_say_why() {
        let why = |url: &str| {
            StoreUrl::parse(Some(url), env(&[]))
                .unwrap_err()
                .to_string()
        };
        assert!(
            why("redis://h:6379/notadb").contains("database"),
            "{}",
            why("redis://h/x")
        );
        assert!(why("rediss://h:6379/0#insecure").contains("#insecure"));
        assert!(why("redis://").contains("redis://"));
        assert!(why("ftp://h").contains("supported: sqlite, redis, rediss, redis+unix"));
    }
}
