//! [`ClusterSet`]: a Redis Cluster of this test alone (three masters, one replica each, on
//! loopback ports), whose slots a test can move, all at once or key by key ([`Move`], for the
//! `ASK` redirections of a slot half moved), and whose masters it can lose.

use std::fs::File;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use coord_store::StoreUrl;
use coord_store::url::RedisUrl;

use super::{RedisServer, free_ports, query, replicates, tcp, wait_for};

/// How many masters a set has; each has one replica.
const MASTERS: usize = 3;

/// How long the cluster may take to form, and a restarted node to rejoin it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long every node may take to agree on a slot's new master after a move.
const MOVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a replica may take to replace its failed master: 1 s until the node times out,
/// then 0.5–1 s before its election; a failed election is tried again after 2 s.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one `MIGRATE` may take (its own timeout is 5 s).
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many keys [`Move::finish`] migrates in one `MIGRATE`.
const MIGRATE_BATCH: usize = 100;

/// A Redis Cluster of three masters with one replica each: six `redis-server`s of this test
/// alone on loopback ports (each with its unix socket too), killed when dropped.
pub struct ClusterSet {
    nodes: Vec<RedisServer>,
    /// The TCP port of each of `nodes`.
    ports: Vec<u16>,
    /// The nodes' cluster configuration files and `redis-cli`'s output.
    dir: tempfile::TempDir,
}

/// A range of slots and the nodes that serve it, as one node's `CLUSTER SLOTS` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Range {
    first: u16,
    last: u16,
    master: u16,
    /// Sorted.
    replicas: Vec<u16>,
}

impl ClusterSet {
    /// Starts six nodes, has `redis-cli --cluster create` make them a cluster (three masters,
    /// one replica each), and waits until every node reports `cluster_state:ok`, they all give
    /// the same `CLUSTER SLOTS`, and every replica is in sync. A missing `redis-cli` fails the
    /// test.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ports = free_ports(4 * MASTERS);
        let (ports, bus_ports) = ports.split_at(2 * MASTERS);
        let nodes = ports
            .iter()
            .zip(bus_ports)
            .map(|(port, bus)| {
                let conf = dir.path().join(format!("nodes-{port}.conf"));
                RedisServer::start_with(&[
                    "--port",
                    &port.to_string(),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    conf.to_str().expect("a UTF-8 temporary path"),
                    "--cluster-node-timeout",
                    "1000",
                    // Not the port + 10000 of the default, which may be taken or above 65535.
                    "--cluster-port",
                    &bus.to_string(),
                    // A replica's full sync starts at once, not after 5 s.
                    "--repl-diskless-sync-delay",
                    "0",
                    // CLUSTER SLOTS lists a replica once its offset moved: an idle master
                    // moves it with a ping to its replicas, every 10 s by default.
                    "--repl-ping-replica-period",
                    "1",
                ])
            })
            .collect();
        let set = Self {
            nodes,
            ports: ports.to_vec(),
            dir,
        };
        set.create();
        wait_for(
            "the cluster to form: three masters, one replica each, in sync",
            START_TIMEOUT,
            || set.shaped(),
        );
        set
    }

    /// The slots of the cluster if every node that runs agrees on them and there are three
    /// masters with one replica each, in sync; or why not.
    fn shaped(&self) -> Result<Vec<Range>, String> {
        let ranges = self.agreed()?;
        let masters = masters(&ranges);
        if masters.len() != MASTERS {
            return Err(format!("masters {masters:?}: {ranges:?}"));
        }
        for range in &ranges {
            match range.replicas[..] {
                [replica] => replicates(replica, range.master)?,
                ref other => return Err(format!("{range:?} has replicas {other:?}")),
            }
        }
        Ok(ranges)
    }

    /// Runs `redis-cli --cluster create` on the nodes, bounded, failing with its output.
    fn create(&self) {
        let log = self.dir.path().join("create.log");
        let out = File::create(&log).expect("redis-cli's log");
        let mut child = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(self.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("redis-cli's log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli ({e}): install it (it comes with redis-server: \
                     apt-get install redis-server, or redis-tools)"
                )
            });
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("redis-cli's status") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "redis-cli --cluster create did not finish within {START_TIMEOUT:?}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "redis-cli --cluster create failed ({status}):\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The text of the set's store URL: `redis+cluster://` and its masters now, in slot order.
    pub fn url_text(&self) -> String {
        let nodes: Vec<String> = self
            .masters()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The set's store URL ([`url_text`](Self::url_text)).
    pub fn url(&self) -> RedisUrl {
        let text = self.url_text();
        match StoreUrl::parse(Some(&text), |_| None) {
            Ok(StoreUrl::Redis(url)) => url,
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    /// The ports of the masters now, in slot order.
    pub fn masters(&self) -> Vec<u16> {
        masters(&self.view())
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> u16 {
        self.ask(|port| {
            query(
                redis::cmd("CLUSTER").arg("KEYSLOT").arg(key),
                &mut tcp(port)?,
                port,
            )
        })
    }

    /// The port of the master that serves `slot`, as the first node that answers sees it
    /// (`CLUSTER SLOTS`).
    pub fn master_of(&self, slot: u16) -> u16 {
        range_of(&self.view(), slot)
            .unwrap_or_else(|e| panic!("{e}"))
            .master
    }

    /// The port of a replica of the master on `port` (say, to [`node`](Self::node)`.freeze()`
    /// it).
    pub fn replica_of(&self, port: u16) -> u16 {
        let view = self.view();
        let range = view
            .iter()
            .find(|r| r.master == port)
            .unwrap_or_else(|| panic!("127.0.0.1:{port} serves no slot: {view:?}"));
        *range
            .replicas
            .first()
            .unwrap_or_else(|| panic!("the master on {port} has no replica: {view:?}"))
    }

    /// The node on `port`, to freeze and thaw, say.
    pub fn node(&self, port: u16) -> &RedisServer {
        &self.nodes[self.index_of(port)]
    }

    /// A plain connection to the node on `port` over TCP, which follows no redirection.
    pub fn raw(&self, port: u16) -> redis::Connection {
        assert!(self.ports.contains(&port), "no node of the set on {port}");
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("a connection to the node on {port}: {e}"))
    }

    /// Moves `slot` with its keys to the master on `to`, as resharding does, and waits until
    /// every node agrees.
    pub fn move_slot(&self, slot: u16, to: u16) {
        self.begin_move(slot, to).finish();
    }

    /// Starts moving `slot` to the master on `to`: it is `IMPORTING` there and `MIGRATING` on
    /// its master, which answers `ASK` for a key it no longer has; no key moves yet.
    pub fn begin_move(&self, slot: u16, to: u16) -> Move<'_> {
        let from = self.master_of(slot);
        assert_ne!(from, to, "slot {slot} is already served by {to}");
        assert!(
            self.masters().contains(&to),
            "127.0.0.1:{to} is no master to move slot {slot} to"
        );
        let from_id = node_id(from);
        let to_id = node_id(to);
        setslot(to, slot, &["IMPORTING", &from_id]);
        setslot(from, slot, &["MIGRATING", &to_id]);
        Move {
            set: self,
            slot,
            from,
            to,
            to_id,
        }
    }

    /// Kills (SIGKILL) the master that serves `slot`, waits until its replica has taken over
    /// (every node that runs reports `cluster_state:ok` and gives the same `CLUSTER SLOTS`), and
    /// returns the new master's port. Its replica must answer (not be frozen); the new master
    /// has no replica until [`restart_stopped`](Self::restart_stopped).
    pub fn fail_master_of(&mut self, slot: u16) -> u16 {
        let view = self.view();
        let range = range_of(&view, slot).unwrap_or_else(|e| panic!("{e}"));
        let (old, replicas) = (range.master, range.replicas.clone());
        let i = self.index_of(old);
        self.nodes[i].stop();
        wait_for(
            &format!("a replica {replicas:?} to replace the failed master {old} of slot {slot}"),
            FAILOVER_TIMEOUT,
            || match range_of(&self.agreed()?, slot)?.master {
                master if master == old => Err(format!("{old} still serves slot {slot}")),
                master => Ok(master),
            },
        )
    }

    /// Starts again every stopped node with its cluster configuration (and no data): an old
    /// master comes back as a replica of the master that took its last slot; if that one has
    /// another while a master has none, a replica moves there (`CLUSTER REPLICATE`). Waits
    /// until every node agrees on three masters with one replica each, in sync.
    pub fn restart_stopped(&mut self) {
        let mut restarted = Vec::new();
        for (node, &port) in self.nodes.iter_mut().zip(&self.ports) {
            if !node.is_up() {
                node.start_again();
                restarted.push(port);
            }
        }
        let ranges = wait_for(
            &format!("the restarted nodes {restarted:?} to rejoin as replicas"),
            START_TIMEOUT,
            || {
                let ranges = self.agreed()?;
                for &port in &restarted {
                    let master = ranges
                        .iter()
                        .find(|r| r.replicas.contains(&port))
                        .ok_or_else(|| format!("{port} is no replica yet: {ranges:?}"))?
                        .master;
                    replicates(port, master)?;
                }
                Ok(ranges)
            },
        );
        let mut replicas: Vec<(u16, Vec<u16>)> = masters(&ranges)
            .into_iter()
            .map(|m| {
                let range = ranges
                    .iter()
                    .find(|r| r.master == m)
                    .expect("a master's range");
                (m, range.replicas.clone())
            })
            .collect();
        while let Some(orphan) = replicas.iter().position(|(_, r)| r.is_empty()) {
            let Some(donor) = replicas.iter().position(|(_, r)| r.len() > 1) else {
                break;
            };
            // Rather a restarted node than one in sync all along.
            let spare = &mut replicas[donor].1;
            let pick = spare.iter().position(|p| restarted.contains(p));
            let moved = spare.remove(pick.unwrap_or(spare.len() - 1));
            let master = replicas[orphan].0;
            let _: () = query(
                redis::cmd("CLUSTER").arg("REPLICATE").arg(node_id(master)),
                &mut tcp(moved).unwrap_or_else(|e| panic!("{e}")),
                moved,
            )
            .unwrap_or_else(|e| panic!("CLUSTER REPLICATE {master} on {moved}: {e}"));
            replicas[orphan].1.push(moved);
        }
        wait_for(
            "the cluster to have three masters with one replica each again, in sync",
            START_TIMEOUT,
            || self.shaped(),
        );
    }

    /// The index in `nodes` of the node on `port`.
    fn index_of(&self, port: u16) -> usize {
        self.ports
            .iter()
            .position(|&p| p == port)
            .unwrap_or_else(|| panic!("no node of the set on {port}"))
    }

    /// What `ask` gives on the first node that runs and answers; panics if none does.
    fn ask<T>(&self, ask: impl Fn(u16) -> Result<T, String>) -> T {
        let mut errors = Vec::new();
        for (node, &port) in self.nodes.iter().zip(&self.ports) {
            if node.is_started() {
                match ask(port) {
                    Ok(answer) => return answer,
                    Err(e) => errors.push(e),
                }
            }
        }
        panic!("no node of the cluster answers: {errors:?}")
    }

    /// `CLUSTER SLOTS` of the first node that answers.
    fn view(&self) -> Vec<Range> {
        self.ask(slots)
    }

    /// The slots of the cluster, if every node that runs reports `cluster_state:ok` and gives
    /// the same `CLUSTER SLOTS`; or why not.
    fn agreed(&self) -> Result<Vec<Range>, String> {
        let mut agreed: Option<(u16, Vec<Range>)> = None;
        for (node, &port) in self.nodes.iter().zip(&self.ports) {
            if !node.is_started() {
                continue;
            }
            let info: String = query(redis::cmd("CLUSTER").arg("INFO"), &mut tcp(port)?, port)?;
            if !info.lines().any(|l| l.trim() == "cluster_state:ok") {
                return Err(format!("the cluster is not ok on {port}"));
            }
            let ranges = slots(port)?;
            match &agreed {
                Some((first, seen)) if *seen != ranges => {
                    return Err(format!("{first} sees {seen:?}, {port} sees {ranges:?}"));
                }
                Some(_) => {}
                None => agreed = Some((port, ranges)),
            }
        }
        agreed
            .map(|(_, ranges)| ranges)
            .ok_or_else(|| "no node runs".to_owned())
    }
}

/// A slot being moved from one master to another ([`ClusterSet::begin_move`]), its keys a few
/// at a time. Until [`finish`](Self::finish), its old master answers `ASK` for a key already
/// moved (or absent), and the new one serves such a key only after `ASKING`.
#[must_use = "a slot left half moved stays MIGRATING: finish the move"]
pub struct Move<'a> {
    set: &'a ClusterSet,
    slot: u16,
    from: u16,
    to: u16,
    to_id: String,
}

impl Move<'_> {
    /// Migrates up to `n` keys of the slot that its old master still has to the new one;
    /// returns how many it moved (0 once none is left).
    pub fn migrate_some(&mut self, n: usize) -> usize {
        let mut conn = tcp(self.from).unwrap_or_else(|e| panic!("{e}"));
        conn.set_read_timeout(Some(MIGRATE_TIMEOUT))
            .expect("a read timeout");
        let keys: Vec<String> = query(
            redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(self.slot)
                .arg(n),
            &mut conn,
            self.from,
        )
        .unwrap_or_else(|e| panic!("the keys of slot {}: {e}", self.slot));
        if keys.is_empty() {
            return 0;
        }
        let _: () = query(
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.to)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys),
            &mut conn,
            self.from,
        )
        .unwrap_or_else(|e| panic!("MIGRATE of slot {} to {}: {e}", self.slot, self.to));
        keys.len()
    }

    /// Migrates the keys left, then assigns the slot to its new master on every master (the
    /// new one first, then the old one, as resharding does), and waits until every node agrees.
    pub fn finish(mut self) {
        while self.migrate_some(MIGRATE_BATCH) > 0 {}
        let mut masters = self.set.masters();
        masters.retain(|&p| p != self.to && p != self.from);
        for port in [self.to, self.from].into_iter().chain(masters) {
            setslot(port, self.slot, &["NODE", &self.to_id]);
        }
        let (slot, to) = (self.slot, self.to);
        wait_for(
            &format!("every node to see slot {slot} on {to}"),
            MOVE_TIMEOUT,
            || match range_of(&self.set.agreed()?, slot)?.master {
                master if master == to => Ok(()),
                master => Err(format!("slot {slot} is still on {master}")),
            },
        );
    }
}

/// `CLUSTER SETSLOT slot args…` on the node on `port`.
fn setslot(port: u16, slot: u16, args: &[&str]) {
    let _: () = query(
        redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg(args),
        &mut tcp(port).unwrap_or_else(|e| panic!("{e}")),
        port,
    )
    .unwrap_or_else(|e| panic!("CLUSTER SETSLOT {slot} {args:?}: {e}"));
}

/// The cluster ID of the node on `port` (`CLUSTER MYID`).
fn node_id(port: u16) -> String {
    query(
        redis::cmd("CLUSTER").arg("MYID"),
        &mut tcp(port).unwrap_or_else(|e| panic!("{e}")),
        port,
    )
    .unwrap_or_else(|e| panic!("CLUSTER MYID: {e}"))
}

/// `CLUSTER SLOTS` of the node on `port`, in slot order.
fn slots(port: u16) -> Result<Vec<Range>, String> {
    let answer: Vec<redis::Value> =
        query(redis::cmd("CLUSTER").arg("SLOTS"), &mut tcp(port)?, port)?;
    let bad = |what: &redis::Value| format!("127.0.0.1:{port}: CLUSTER SLOTS gave {what:?}");
    let int = |v: &redis::Value| match v {
        redis::Value::Int(i) => u16::try_from(*i).map_err(|_| bad(v)),
        other => Err(bad(other)),
    };
    let mut ranges = Vec::new();
    for entry in &answer {
        let redis::Value::Array(items) = entry else {
            return Err(bad(entry));
        };
        let [first, last, master, replicas @ ..] = &items[..] else {
            return Err(bad(entry));
        };
        let port_of = |node: &redis::Value| match node {
            redis::Value::Array(fields) if fields.len() >= 2 => int(&fields[1]),
            other => Err(bad(other)),
        };
        let mut replicas = replicas
            .iter()
            .map(port_of)
            .collect::<Result<Vec<_>, _>>()?;
        replicas.sort_unstable();
        ranges.push(Range {
            first: int(first)?,
            last: int(last)?,
            master: port_of(master)?,
            replicas,
        });
    }
    ranges.sort_by_key(|r| r.first);
    Ok(ranges)
}

/// The range that holds `slot`, or why there is none.
fn range_of(ranges: &[Range], slot: u16) -> Result<&Range, String> {
    ranges
        .iter()
        .find(|r| (r.first..=r.last).contains(&slot))
        .ok_or_else(|| format!("no node serves slot {slot}: {ranges:?}"))
}

/// The masters of `ranges`, in slot order, each once.
fn masters(ranges: &[Range]) -> Vec<u16> {
    let mut masters = Vec::new();
    for range in ranges {
        if !masters.contains(&range.master) {
            masters.push(range.master);
        }
    }
    masters
}
