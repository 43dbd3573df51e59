//! What the view shows, read from the service: the classified fleet (`Service::fleet`, the
//! same call as `coord ps`), the hosts (`Service::host_table`, as `coord hosts`), the task
//! queue (`Service::tasks`, as `coord task list`) and the latest events (`Service::events`, as
//! `coord events`). States come from the service (`classify` for sessions, `Hosts::judge` for
//! hosts); nothing here judges a session or a host.

use std::collections::VecDeque;

use coord_core::{Event, Task, Timestamp};
use coord_service::hosts::HostEntry;
use coord_service::{Fleet, Service};

/// How many of the latest events the view keeps.
pub const KEPT_EVENTS: usize = 500;

/// Events read per round trip to the store.
const PAGE: usize = 1000;

/// Everything on screen at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The fleet with every session's verdict, and the store's time of the reading.
    pub fleet: Fleet,
    /// Every host of the namespace with its state and its sessions, by name.
    pub hosts: Vec<HostEntry>,
    /// The task queue, oldest first.
    pub tasks: Vec<Task>,
    /// The latest events, oldest first.
    pub events: VecDeque<Event>,
    /// Why the last reading failed, if it did (the previous reading stays on screen).
    pub error: Option<String>,
}

impl Snapshot {
    /// Nothing read yet.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            fleet: Fleet {
                now: Timestamp::from_millis(0),
                entries: Vec::new(),
            },
            hosts: Vec::new(),
            tasks: Vec::new(),
            events: VecDeque::new(),
            error: None,
        }
    }

    /// The store's time of the last good reading.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.fleet.now
    }
}

/// Reads snapshots from a service, following the event log from where it last read.
pub struct Feed<'a> {
    service: &'a Service,
    after: u64,
}

impl<'a> Feed<'a> {
    /// A feed that has read nothing yet.
    #[must_use]
    pub fn new(service: &'a Service) -> Self {
        Self { service, after: 0 }
    }

    /// Reads the fleet, the hosts, the tasks and the new events into `snapshot`. A failure is
    /// kept in `snapshot.error` and leaves the last good reading in place: a store that is down
    /// for a moment does not end the view.
    pub fn refresh(&mut self, snapshot: &mut Snapshot) {
        snapshot.error = self.read(snapshot).err().map(|e| e.to_string());
    }

    fn read(&mut self, snapshot: &mut Snapshot) -> coord_service::Result<()> {
        let fleet = self.service.fleet()?;
        // After the fleet, whose observations of this host's sessions are signals of it.
        let (_, hosts) = self.service.host_table()?;
        self.service.tidy()?;
        let tasks = self.service.tasks(false)?;
        loop {
            let page = self.service.events(self.after, PAGE)?;
            let Some(last) = page.last() else { break };
            self.after = last.seq;
            snapshot.events.extend(page);
            let excess = snapshot.events.len().saturating_sub(KEPT_EVENTS);
            snapshot.events.drain(..excess);
        }
        snapshot.fleet = fleet;
        snapshot.hosts = hosts;
        snapshot.tasks = tasks;
        Ok(())
    }
}
