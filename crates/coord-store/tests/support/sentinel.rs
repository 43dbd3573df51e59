//! [`SentinelSet`]: a master, its replicas and the sentinels that watch them, on loopback ports
//! of this test alone: a fleet's Redis with failover, by hand ([`SentinelSet::failover`]) or by
//! losing the master ([`SentinelSet::kill_master`]), as many times in a row as a test likes;
//! its servers may speak TLS only ([`SentinelSet::start_tls`]).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use coord_store::StoreUrl;
use coord_store::url::RedisUrl;

use super::{RedisServer, TlsCerts, free_ports, query, replicates_on, role, tcp, wait_for};

/// How long a sentinel waits for an answer before it takes a server for down. Not 1000: a
/// sentinel whose master just changed reconnects to its servers up to a second later (it
/// retries connections once a second) but counts their silence from the change, so at 1000 it
/// now and then took the new master, or the replica it was about to promote, for down: a
/// second failover right after the first, or an aborted one tried again 10 s later (7 kills in
/// 52; none in 64 at 1500, and no slower a cycle).
const DOWN_AFTER_MS: u32 = 1500;

/// How long the set may take to settle: at the start, and after a failover. The sentinels take
/// 2.5–4 s from a master's death to the end of a failover; a failed one is tried again after
/// twice the failover timeout (10 s).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A master, its replicas and the sentinels that watch them (quorum a majority of them), on
/// loopback ports of this test alone: a fleet's Redis with failover.
pub struct SentinelSet {
    /// The server that was the master at the start.
    pub master: RedisServer,
    /// The first replica at the start.
    pub replica: RedisServer,
    /// The other replicas at the start (none for [`start`](Self::start)).
    pub more_replicas: Vec<RedisServer>,
    /// The TCP port of `master`, `replica` and each of `more_replicas`, in that order.
    ports: Vec<u16>,
    sentinels: Vec<Sentinel>,
    name: String,
    /// The TLS settings of its servers and sentinels ([`TlsCerts::settings`]), if they speak
    /// TLS.
    tls: Option<Tls>,
    _dir: tempfile::TempDir,
}

/// TLS settings, name and value.
type Tls = Vec<(&'static str, String)>;

/// One `redis-server --sentinel` of a set.
struct Sentinel {
    child: Child,
    port: u16,
}

/// The arguments of a server of a set on `port`, a replica of the one on `master` if any; with
/// `tls`, `port` is its TLS port and it has no other but its unix socket, and it replicates
/// over TLS. A full resync starts at once instead of waiting 5 s for more replicas to join
/// (Redis 7's `repl-diskless-sync-delay`), which a restarted server needs.
fn server_args(port: u16, master: Option<u16>, tls: Option<&Tls>) -> Vec<String> {
    let mut args = vec![
        if tls.is_some() {
            "--tls-port"
        } else {
            "--port"
        }
        .to_owned(),
        port.to_string(),
        "--repl-diskless-sync-delay".to_owned(),
        "0".to_owned(),
    ];
    for (setting, value) in tls.into_iter().flatten() {
        args.extend([format!("--{setting}"), value.clone()]);
    }
    if let Some(master) = master {
        args.extend(["--replicaof".to_owned(), "127.0.0.1".to_owned()]);
        args.push(master.to_string());
    }
    args
}

/// Whether a sentinel's `flags` for an instance say it is a `role` (`master`, `slave`) that
/// is up, with no failover under way: nothing but the role, and `disconnected` (a sentinel
/// whose master just changed reconnects within a second, before it could miss a ping).
fn healthy(flags: &str, role: &str) -> bool {
    flags.split(',').any(|f| f == role)
        && flags.split(',').all(|f| f == role || f == "disconnected")
}

/// Starts a server with `args`.
fn start_server(args: &[String]) -> RedisServer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    RedisServer::start_with(&args)
}

impl SentinelSet {
    /// Starts a master, one replica and one sentinel, and waits until the sentinel knows the
    /// replica, in sync.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, 1, 1)
    }

    /// Starts a master, `replicas` replicas (at least one) and `sentinels` sentinels (at least
    /// one; quorum `sentinels / 2 + 1`, a server down after [`DOWN_AFTER_MS`], failover
    /// timeout 5 s), and waits until every replica is in sync and every sentinel knows every
    /// replica and every other sentinel, and has heard from each replica.
    pub fn start_with(name: &str, replicas: usize, sentinels: usize) -> Self {
        Self::launch(name, replicas, sentinels, None)
    }

    /// Starts a master, one replica and one sentinel as [`start`](Self::start) does, the servers
    /// speaking TLS only with `certs` (their ports are TLS ports), the replica replicating over
    /// TLS, and the sentinel taking plain connections and making TLS ones to the servers. Its
    /// [`url`](Self::url) is `rediss+sentinel://`.
    ///
    /// One sentinel: with `tls-replication` a sentinel speaks TLS to other sentinels as well,
    /// which would need TLS ports for them too.
    pub fn start_tls(name: &str, certs: &TlsCerts) -> Self {
        Self::launch(name, 1, 1, Some(certs.settings()))
    }

    /// Starts a set as [`start_with`](Self::start_with) does, its servers and sentinels with
    /// the TLS settings `tls` if any.
    fn launch(name: &str, replicas: usize, sentinels: usize, tls: Option<Tls>) -> Self {
        assert!(replicas >= 1, "a sentinel set has at least one replica");
        assert!(sentinels >= 1, "a sentinel set has at least one sentinel");
        let ports = free_ports(1 + replicas + sentinels);
        let (server_ports, sentinel_ports) = ports.split_at(1 + replicas);
        let master_port = server_ports[0];
        let master = start_server(&server_args(master_port, None, tls.as_ref()));
        let mut started: Vec<RedisServer> = server_ports[1..]
            .iter()
            .map(|&port| start_server(&server_args(port, Some(master_port), tls.as_ref())))
            .collect();
        // In sync before the sentinels start: the master's first INFO shows them every replica.
        for (server, &port) in started.iter().zip(&server_ports[1..]) {
            wait_for(
                &format!("the replica on {port} to sync with {master_port}"),
                SETTLE_TIMEOUT,
                || replicates_on(&mut server.bounded(port)?, port, master_port),
            );
        }
        let tls_conf = tls
            .iter()
            .flatten()
            .fold(String::new(), |conf, (setting, value)| {
                conf + setting + " " + value + "\n"
            });
        let dir = tempfile::tempdir().expect("a temporary directory");
        let quorum = sentinels / 2 + 1;
        let sentinels = sentinel_ports
            .iter()
            .map(|&port| {
                let conf = dir.path().join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                         sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n\
                         sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}\n\
                         sentinel failover-timeout {name} 5000\n{tls_conf}",
                        dir = dir.path().display()
                    ),
                )
                .expect("the sentinel's configuration");
                let child = Command::new("redis-server")
                    .arg(&conf)
                    .arg("--sentinel")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| {
                        panic!("cannot run redis-server --sentinel ({e}): install redis-server")
                    });
                Sentinel { child, port }
            })
            .collect();
        let replica = started.remove(0);
        let set = Self {
            master,
            replica,
            more_replicas: started,
            ports: server_ports.to_vec(),
            sentinels,
            name: name.to_owned(),
            tls,
            _dir: dir,
        };
        wait_for(
            "the sentinels to know every replica and each other",
            SETTLE_TIMEOUT,
            || set.settled(true),
        );
        set
    }

    /// The store URL of the set: every sentinel and the master's name; `rediss+sentinel://`
    /// if its servers speak TLS.
    pub fn url(&self) -> RedisUrl {
        self.url_with(self.tls.is_some())
    }

    /// The `redis+sentinel://` URL of the set, even if its servers speak TLS only.
    pub fn plain_url(&self) -> RedisUrl {
        self.url_with(false)
    }

    /// The URL of the set, for a master reached over TLS or not.
    fn url_with(&self, tls: bool) -> RedisUrl {
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let scheme = if tls { "rediss" } else { "redis" };
        let text = format!("{scheme}+sentinel://{}/{}", sentinels.join(","), self.name);
        match StoreUrl::parse(Some(&text), |_| None) {
            Ok(StoreUrl::Redis(url)) => url,
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    /// Waits until every replica that runs has every write the master (the one the sentinels
    /// name) took: `WAIT` after a write of this connection's own, as `WAIT` waits only for a
    /// connection's own writes (with none, it answers at once, the replicas still behind).
    pub fn replicated(&self) {
        let master = self.master_port();
        let server = self.server_on(master);
        let replicas = (0..self.ports.len())
            .filter(|&i| self.ports[i] != master && self.server(i).is_started())
            .count();
        let mut raw = server.raw();
        let _: i64 = redis::cmd("INCR")
            .arg("test:replicated")
            .query(&mut raw)
            .expect("a write to wait for");
        let synced: usize = redis::cmd("WAIT")
            .arg(replicas)
            .arg(5000)
            .query(&mut raw)
            .expect("WAIT");
        assert_eq!(synced, replicas, "the replicas have the writes");
    }

    /// The port of the server the (first) sentinel names as the master.
    pub fn master_port(&self) -> u16 {
        let port = self.sentinels[0].port;
        let mut conn = tcp(port).expect("the sentinel");
        let (_, master): (String, u16) = query(
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.name),
            &mut conn,
            port,
        )
        .expect("the master's address");
        master
    }

    /// Has the sentinels promote a replica (once the set has settled), and waits until they all
    /// name it and the old master follows it.
    pub fn failover(&self) {
        let before = wait_for(
            "the sentinels to hear from every replica before a failover",
            SETTLE_TIMEOUT,
            || self.settled(true),
        );
        let port = self.sentinels[0].port;
        let _: () = query(
            redis::cmd("SENTINEL").arg("failover").arg(&self.name),
            &mut tcp(port).expect("the sentinel"),
            port,
        )
        .expect("SENTINEL FAILOVER");
        wait_for(
            &format!("the failover from the master on {before}"),
            SETTLE_TIMEOUT,
            || {
                let now = self.named()?;
                if now == before {
                    return Err(format!("the sentinels still name {before}"));
                }
                match role(&mut self.bounded(before)?, before)?.as_str() {
                    "slave" => Ok(()),
                    other => Err(format!("the old master on {before} is still a {other}")),
                }
            },
        );
    }

    /// Waits until every sentinel names the server on `port` as the master.
    pub fn wait_for_master(&self, port: u16) {
        wait_for(
            &format!("the sentinels to name {port} the master"),
            SETTLE_TIMEOUT,
            || match self.named()? {
                named if named == port => Ok(()),
                named => Err(format!("they name {named}")),
            },
        );
    }

    /// The port of [`replica`](Self::replica).
    pub fn replica_port(&self) -> u16 {
        self.ports[1]
    }

    /// Kills (SIGKILL) whichever server of the set is the master now, once the set has settled;
    /// waits until every sentinel names a new master that answers `ROLE` as one, with every
    /// server that runs its replica, link up, and no failover under way; returns its port.
    pub fn kill_master(&mut self) -> u16 {
        let old = wait_for(
            "the set to settle before its master is killed",
            SETTLE_TIMEOUT,
            || self.settled(false),
        );
        let i = self.index_of(old).expect("settled on a server of the set");
        assert!(
            (0..self.ports.len()).any(|j| j != i && self.server(j).is_started()),
            "no replica runs to take over from the master on {old}"
        );
        self.server_mut(i).stop();
        wait_for(
            &format!("the sentinels to promote a replica after the master on {old} died"),
            SETTLE_TIMEOUT,
            || match self.settled(false)? {
                master if master == old => Err(format!("they still name {old}")),
                master => Ok(master),
            },
        )
    }

    /// Starts again every stopped server of the set, as a replica of the master the sentinels
    /// name: what they would make of it themselves, but some 10 s after it came back as a
    /// master with its own arguments. Waits until each has synced with it and every sentinel
    /// sees it up.
    pub fn restart_stopped(&mut self) {
        let master = wait_for(
            "the set to settle before its stopped servers start again",
            SETTLE_TIMEOUT,
            || self.settled(false),
        );
        for i in 0..self.ports.len() {
            if !self.server_mut(i).is_up() {
                let args = server_args(self.ports[i], Some(master), self.tls.as_ref());
                self.server_mut(i).start_again_with(args);
            }
        }
        wait_for(
            &format!("the restarted servers to follow the master on {master}"),
            SETTLE_TIMEOUT,
            || match self.settled(false)? {
                now if now == master => Ok(()),
                now => Err(format!("the sentinels moved on to {now}")),
            },
        );
    }

    /// The master every sentinel names, or why there is none.
    fn named(&self) -> Result<u16, String> {
        let mut named = None;
        for sentinel in &self.sentinels {
            let mut conn = tcp(sentinel.port)?;
            let (_, port): (String, u16) = query(
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.name),
                &mut conn,
                sentinel.port,
            )?;
            match named {
                Some(other) if other != port => {
                    return Err(format!("the sentinels name {other} and {port}"));
                }
                _ => named = Some(port),
            }
        }
        Ok(named.expect("a set has a sentinel"))
    }

    /// The master the set has settled on, or why it has not: every sentinel names it, sees it
    /// up with no failover under way, knows the other sentinels and sees every server that
    /// runs up as its replica; the master answers as one, and every other server that runs
    /// replicates it, link up. If `heard`, each sentinel has also heard from each replica
    /// (`INFO`) that it follows that master, link up, which it needs to promote one at once
    /// (`SENTINEL FAILOVER`); a master that dies gives it the time (it polls a second, and is
    /// down only after [`DOWN_AFTER_MS`]), so that waiting for it after a restart or a failover
    /// would only slow a cycle down by a second or so.
    fn settled(&self, heard: bool) -> Result<u16, String> {
        let master = self.named()?;
        let i = self
            .index_of(master)
            .ok_or_else(|| format!("the sentinels name {master}, not a server of the set"))?;
        if !self.server(i).is_started() {
            return Err(format!("the sentinels name {master}, which is stopped"));
        }
        let replicas: Vec<u16> = (0..self.ports.len())
            .filter(|&j| j != i && self.server(j).is_started())
            .map(|j| self.ports[j])
            .collect();
        for sentinel in &self.sentinels {
            let port = sentinel.port;
            let mut conn = tcp(port)?;
            let seen: HashMap<String, String> = query(
                redis::cmd("SENTINEL").arg("master").arg(&self.name),
                &mut conn,
                port,
            )?;
            let field = |f: &str| seen.get(f).map_or("?", String::as_str);
            if !healthy(field("flags"), "master") {
                return Err(format!(
                    "sentinel {port} sees the master as {}",
                    field("flags")
                ));
            }
            if field("num-other-sentinels") != (self.sentinels.len() - 1).to_string() {
                return Err(format!(
                    "sentinel {port} knows {} other sentinels",
                    field("num-other-sentinels")
                ));
            }
            let known: Vec<HashMap<String, String>> = query(
                redis::cmd("SENTINEL").arg("replicas").arg(&self.name),
                &mut conn,
                port,
            )?;
            for &replica in &replicas {
                let seen = known
                    .iter()
                    .find(|r| r.get("port").is_some_and(|p| *p == replica.to_string()))
                    .ok_or_else(|| format!("sentinel {port} does not know replica {replica}"))?;
                let field = |f: &str| seen.get(f).map_or("?", String::as_str);
                if !healthy(field("flags"), "slave")
                    || heard
                        && (field("master-port") != master.to_string()
                            || field("master-link-status") != "ok")
                {
                    return Err(format!(
                        "sentinel {port} sees replica {replica} as {}, of {}, link {}",
                        field("flags"),
                        field("master-port"),
                        field("master-link-status")
                    ));
                }
            }
        }
        match role(&mut self.bounded(master)?, master)?.as_str() {
            "master" => {}
            other => return Err(format!("the named master {master} is a {other}")),
        }
        for replica in replicas {
            replicates_on(&mut self.bounded(replica)?, replica, master)?;
        }
        Ok(master)
    }

    /// A connection to the server on `port` (through its unix socket, as it may speak TLS
    /// only) that gives up when it does not answer, for the waits.
    fn bounded(&self, port: u16) -> Result<redis::Connection, String> {
        let i = self
            .index_of(port)
            .ok_or_else(|| format!("no server of the set on {port}"))?;
        self.server(i).bounded(port)
    }

    /// The index (in `ports`) of the server on `port`.
    fn index_of(&self, port: u16) -> Option<usize> {
        self.ports.iter().position(|&p| p == port)
    }

    /// The server on `port`, which must be one of the set's.
    fn server_on(&self, port: u16) -> &RedisServer {
        let i = self
            .index_of(port)
            .unwrap_or_else(|| panic!("no server of the set on {port}"));
        self.server(i)
    }

    /// The server at `i` in `ports`.
    fn server(&self, i: usize) -> &RedisServer {
        match i {
            0 => &self.master,
            1 => &self.replica,
            _ => &self.more_replicas[i - 2],
        }
    }

    /// The server at `i` in `ports`, to stop or start.
    fn server_mut(&mut self, i: usize) -> &mut RedisServer {
        match i {
            0 => &mut self.master,
            1 => &mut self.replica,
            _ => &mut self.more_replicas[i - 2],
        }
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        for sentinel in &mut self.sentinels {
            let _ = sentinel.child.kill();
            let _ = sentinel.child.wait();
        }
    }
}
