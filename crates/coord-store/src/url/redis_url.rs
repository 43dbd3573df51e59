//! A Redis location in `COORD_URL`: one server, the sentinels that name a master, or the
//! nodes of a cluster; parsed with the `redis` crate's own rules wherever it has them, and
//! shown with the password masked.

use std::fmt;
use std::path::PathBuf;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use super::mask_password;
use crate::StoreError;

/// Where a Redis server listens, and how to log in to it: `redis://[user:pass@]host:port/db`,
/// `rediss://…` (TLS, certificates checked against the system's roots),
/// `redis+unix:///path/to.sock[?db=N][&user=U&pass=P]`; the sentinels that know it:
/// `redis+sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db]` (`rediss+sentinel://`:
/// the master over TLS; the login is the master's, the sentinels take none); or the nodes of
/// a cluster: `redis+cluster://[user:pass@]host:port[,host:port…]` (`rediss+cluster://`: TLS),
/// any of which lead to the others.
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
        nodes: Nodes,
        master: String,
        tls: bool,
    },
    /// Nodes of a cluster.
    Cluster {
        nodes: Nodes,
        tls: bool,
    },
}

/// Hosts and ports, in the order a URL gives them.
type Nodes = Vec<(String, u16)>;

impl RedisUrl {
    /// Parses a URL of one server (`redis`, `rediss`, `redis+unix`).
    pub(super) fn parse(url: &str) -> Result<Self, StoreError> {
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
    /// follows the scheme).
    pub(super) fn parse_sentinel(url: &str, tls: bool, rest: &str) -> Result<Self, StoreError> {
        let (nodes, path, login) = Self::parse_nodes(url, rest, "sentinels")?;
        let (master, db) = path.split_once('/').unwrap_or((path, "0"));
        if master.is_empty() {
            return Err(bad_url(
                url,
                "the master's name is needed: redis+sentinel://host:port/MASTER",
            ));
        }
        let db = Self::parse(&format!("redis://localhost/{db}"))
            .map_err(|_| bad_url(url, "the database is not a number"))?
            .db;
        Ok(Self {
            addr: RedisAddr::Sentinel {
                nodes,
                master: master.to_owned(),
                tls,
            },
            db,
            ..login
        })
    }

    /// Parses `redis+cluster://[user:pass@]host:port[,host:port…]` (`rest` is what follows the
    /// scheme). A cluster has one database, so the URL names none.
    pub(super) fn parse_cluster(url: &str, tls: bool, rest: &str) -> Result<Self, StoreError> {
        let (nodes, path, login) = Self::parse_nodes(url, rest, "cluster's nodes")?;
        if !path.is_empty() && path != "0" {
            return Err(bad_url(
                url,
                "a cluster has one database: redis+cluster://host:port[,host:port…]",
            ));
        }
        Ok(Self {
            addr: RedisAddr::Cluster { nodes, tls },
            ..login
        })
    }

    /// The `host:port` list of a URL of many nodes (`rest` is what follows the scheme), the
    /// path after it, and the login read by the `redis` crate as for a plain URL.
    fn parse_nodes<'a>(
        url: &str,
        rest: &'a str,
        what: &str,
    ) -> Result<(Nodes, &'a str, Self), StoreError> {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (login, hosts) = match authority.rsplit_once('@') {
            Some((login, hosts)) => (format!("{login}@"), hosts),
            None => (String::new(), authority),
        };
        let expected = format!("expected host:port[,host:port…] of the {what}");
        let mut nodes = Vec::new();
        for host in hosts.split(',') {
            let parsed = Self::parse(&format!("redis://{host}"));
            let Ok(Self {
                addr: RedisAddr::Tcp { host, port, .. },
                ..
            }) = parsed
            else {
                return Err(bad_url(url, &expected));
            };
            nodes.push((host, port));
        }
        let first = hosts.split(',').next().unwrap_or_default();
        let login = Self::parse(&format!("redis://{login}{first}"))
            .map_err(|_| bad_url(url, "the login cannot be read"))?;
        Ok((nodes, path, login))
    }

    /// The sentinels to ask, and the name of the master, for a URL that names sentinels.
    pub(crate) fn sentinels(&self) -> Option<(Vec<ConnectionInfo>, &str)> {
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

    /// What the `redis` crate needs to reach each node a URL of a cluster names, with its
    /// login and TLS.
    pub(crate) fn cluster_nodes(&self) -> Option<Vec<ConnectionInfo>> {
        let RedisAddr::Cluster { nodes, tls } = &self.addr else {
            return None;
        };
        nodes
            .iter()
            .map(|(host, port)| self.at(host, *port, *tls).connection_info().ok())
            .collect()
    }

    /// What the `redis` crate needs to connect to the data node at `host:port` that the
    /// sentinels named, with this URL's login, database and TLS.
    pub(crate) fn node_info(&self, host: &str, port: u16) -> redis::RedisResult<ConnectionInfo> {
        let tls = matches!(self.addr, RedisAddr::Sentinel { tls: true, .. });
        self.at(host, port, tls).connection_info()
    }

    /// This URL's login and database at one server.
    fn at(&self, host: &str, port: u16, tls: bool) -> Self {
        Self {
            addr: RedisAddr::Tcp {
                host: host.to_owned(),
                port,
                tls,
            },
            ..self.clone()
        }
    }

    /// What the `redis` crate needs to connect. The client does not announce its name and
    /// version (`CLIENT SETINFO`): that is one round trip less for every short-lived process.
    /// A URL of many nodes connects to the first of them.
    pub(crate) fn connection_info(&self) -> redis::RedisResult<ConnectionInfo> {
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
            RedisAddr::Sentinel { nodes, .. } | RedisAddr::Cluster { nodes, .. } => {
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

    /// `user:***@`, `user@` or nothing.
    fn write_login(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.username, &self.password) {
            (None, None) => Ok(()),
            (Some(user), None) => write!(f, "{user}@"),
            (user, Some(_)) => write!(f, "{}:***@", user.as_deref().unwrap_or_default()),
        }
    }
}

/// A URL error that names `url` with its password masked.
fn bad_url(url: &str, why: &str) -> StoreError {
    StoreError::Url {
        url: mask_password(url),
        why: why.to_owned(),
    }
}

/// `host:port`, the host in brackets if it is an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Many nodes as `host:port,host:port…`.
fn node_list(nodes: &Nodes) -> String {
    let hosts: Vec<String> = nodes.iter().map(|(h, p)| host_port(h, *p)).collect();
    hosts.join(",")
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |tls: bool| if tls { "s" } else { "" };
        match &self.addr {
            RedisAddr::Tcp { host, port, tls } => {
                write!(f, "redis{}://", s(*tls))?;
                self.write_login(f)?;
                write!(f, "{}/{}", host_port(host, *port), self.db)
            }
            RedisAddr::Sentinel { nodes, master, tls } => {
                write!(f, "redis{}+sentinel://", s(*tls))?;
                self.write_login(f)?;
                write!(f, "{}/{master}/{}", node_list(nodes), self.db)
            }
            RedisAddr::Cluster { nodes, tls } => {
                write!(f, "redis{}+cluster://", s(*tls))?;
                self.write_login(f)?;
                f.write_str(&node_list(nodes))
            }
            RedisAddr::Unix(path) => {
                write!(f, "redis+unix://{}?db={}", path.display(), self.db)?;
                if let Some(user) = &self.username {
                    write!(f, "&user={user}")?;
                }
                if self.password.is_some() {
                    f.write_str("&pass=***")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreUrl;

    fn why(url: &str) -> String {
        StoreUrl::parse(Some(url), |_| None)
            .unwrap_err()
            .to_string()
    }

    fn redis(url: &str) -> RedisUrl {
        match StoreUrl::parse(Some(url), |_| None) {
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
            let err = StoreUrl::parse(Some(bad), |_| None)
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
        assert!(
            why("redis://h:6379/notadb").contains("database"),
            "{}",
            why("redis://h/x")
        );
        assert!(why("rediss://h:6379/0#insecure").contains("#insecure"));
        assert!(why("redis://").contains("redis://"));
        assert!(why("ftp://h").contains("supported: sqlite, redis, rediss, redis+unix"));
    }

    #[test]
    fn cluster_urls_name_every_node_and_the_login() {
        let r = redis("redis+cluster://me:pa%40ss@10.0.0.1:7000,[::1]:7001,10.0.0.3:7002");
        assert_eq!(
            r.addr,
            RedisAddr::Cluster {
                nodes: vec![
                    ("10.0.0.1".into(), 7000),
                    ("::1".into(), 7001),
                    ("10.0.0.3".into(), 7002)
                ],
                tls: false,
            }
        );
        assert_eq!(r.password.as_deref(), Some("pa@ss"));
        assert_eq!(
            r.to_string(),
            "redis+cluster://me:***@10.0.0.1:7000,[::1]:7001,10.0.0.3:7002"
        );
        let nodes = r.cluster_nodes().unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[1].redis_settings().password(), Some("pa@ss"));
        assert!(matches!(nodes[1].addr(), ConnectionAddr::Tcp(h, 7001) if h == "::1"));
        let tls = redis("rediss+cluster://n1:7000/");
        assert_eq!(tls.to_string(), "rediss+cluster://n1:7000");
        assert!(matches!(
            tls.cluster_nodes().unwrap()[0].addr(),
            ConnectionAddr::TcpTls { port: 7000, .. }
        ));
        assert!(redis("redis://h:1/0").cluster_nodes().is_none());
        assert!(why("redis+cluster://n1:7000/3").contains("one database"));
        assert!(why("redis+cluster://n1:x").contains("host:port"));
        assert!(!why("redis+cluster://u:hunter2@n1:x").contains("hunter2"));
    }
}
