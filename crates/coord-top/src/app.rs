//! The view's state and what each key does to it: which pane has the keys, the fleet's sort
//! column and direction, the state filter, the selected row of each pane (sessions, tasks,
//! hosts, events). Pure: it takes a key
//! and a snapshot and says whether to quit, reload or just redraw, so every key is tested
//! without a terminal.

use std::cmp::Ordering;

use coord_core::{Event, State, Task};
use coord_service::Entry;
use coord_service::hosts::HostEntry;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::snapshot::Snapshot;

/// The panes, in the order Tab visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The sessions and their states.
    Fleet,
    /// The task queue.
    Tasks,
    /// The hosts and their states.
    Hosts,
    /// The event log.
    Events,
}

impl Pane {
    /// Every pane, in the order Tab visits them (the order they are drawn in).
    pub const ALL: [Pane; 4] = [Pane::Fleet, Pane::Tasks, Pane::Hosts, Pane::Events];
}

/// The fleet's columns, in the order they are shown; each can sort the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The session id.
    Id,
    /// What runs it (claude-code, codex, shell…).
    Runtime,
    /// Its task label.
    Task,
    /// `host:pid`.
    Location,
    /// Its state, from the most alive to the least.
    State,
    /// When it was last heard, the most recent first.
    LastSeen,
    /// The tasks it holds and the leader mark.
    Work,
    /// Why it is in its state.
    Reason,
}

impl Column {
    /// Every column, in the order shown.
    pub const ALL: [Column; 8] = [
        Column::Id,
        Column::Runtime,
        Column::Task,
        Column::Location,
        Column::State,
        Column::LastSeen,
        Column::Work,
        Column::Reason,
    ];

    /// The column's title.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Column::Id => "ID",
            Column::Runtime => "RUNTIME",
            Column::Task => "TASK",
            Column::Location => "HOST:PID",
            Column::State => "STATE",
            Column::LastSeen => "LAST SEEN",
            Column::Work => "WORK",
            Column::Reason => "REASON",
        }
    }

    fn index(self) -> usize {
        Column::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// How two entries compare on this column (ties are left to the caller).
    fn compare(self, a: &Entry, b: &Entry) -> Ordering {
        let (sa, sb) = (&a.session, &b.session);
        match self {
            Column::Id => sa.id.cmp(&sb.id),
            Column::Runtime => sa.runtime.as_str().cmp(sb.runtime.as_str()),
            Column::Task => sa.task.cmp(&sb.task),
            Column::Location => (&sa.host, sa.pid).cmp(&(&sb.host, sb.pid)),
            Column::State => a.verdict.state.cmp(&b.verdict.state),
            Column::LastSeen => sb.last_seen.cmp(&sa.last_seen),
            Column::Work => work(b).len().cmp(&work(a).len()),
            Column::Reason => a.verdict.reason.cmp(&b.verdict.reason),
        }
    }
}

/// The tasks a session holds, and `leader` if it leads (as `coord ps` shows them).
#[must_use]
pub fn work(e: &Entry) -> Vec<String> {
    let mut work = e.claims.clone();
    if e.leads {
        work.push("leader".to_owned());
    }
    work
}

/// Which sessions the fleet pane lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Every session that has not ended (what `coord ps` lists).
    NotEnded,
    /// Every session, the ended too (`coord ps --all`).
    All,
    /// Only the sessions in one state (`coord ps --state`).
    Only(State),
}

impl Filter {
    /// Whether a session in `state` is listed.
    #[must_use]
    pub fn shows(self, state: State) -> bool {
        match self {
            Filter::NotEnded => state != State::Ended,
            Filter::All => true,
            Filter::Only(only) => state == only,
        }
    }

    /// The filter as the view names it.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Filter::NotEnded => "not ended".to_owned(),
            Filter::All => "all".to_owned(),
            Filter::Only(state) => state.to_string(),
        }
    }
}

/// What the loop does after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Draw again from the snapshot at hand.
    Redraw,
    /// Read the store again, now.
    Reload,
    /// Leave and restore the terminal.
    Quit,
    /// Take the person to this session's agent (`coord attach`).
    Attach(String),
}

/// The view's state.
#[derive(Clone, Debug)]
pub struct App {
    /// The pane the arrows act on.
    pub pane: Pane,
    /// The fleet's sort column.
    pub sort: Column,
    /// Whether the fleet's order is reversed.
    pub reversed: bool,
    /// Which sessions the fleet lists.
    pub filter: Filter,
    /// Whether styles carry colour.
    pub color: bool,
    /// What the last action said (an attach that could not be made), until the next key.
    pub notice: Option<String>,
    selected_session: Option<String>,
    selected_task: Option<String>,
    selected_host: Option<String>,
    selected_event: Option<u64>,
}

impl App {
    /// The view as it opens: the fleet pane, sorted by id (as `coord ps`), ended sessions hidden.
    #[must_use]
    pub fn new(color: bool) -> Self {
        Self {
            pane: Pane::Fleet,
            sort: Column::Id,
            reversed: false,
            filter: Filter::NotEnded,
            color,
            notice: None,
            selected_session: None,
            selected_task: None,
            selected_host: None,
            selected_event: None,
        }
    }

    /// The sessions listed, in the order shown.
    #[must_use]
    pub fn sessions<'s>(&self, snapshot: &'s Snapshot) -> Vec<&'s Entry> {
        let mut rows: Vec<&Entry> = snapshot
            .fleet
            .entries
            .iter()
            .filter(|e| self.filter.shows(e.verdict.state))
            .collect();
        rows.sort_by(|a, b| {
            let order = self
                .sort
                .compare(a, b)
                .then_with(|| a.session.id.cmp(&b.session.id));
            if self.reversed {
                order.reverse()
            } else {
                order
            }
        });
        rows
    }

    /// The tasks listed, oldest first (as `coord task list`).
    #[must_use]
    pub fn tasks<'s>(&self, snapshot: &'s Snapshot) -> Vec<&'s Task> {
        snapshot.tasks.iter().collect()
    }

    /// The hosts listed, by name (as `coord hosts`).
    #[must_use]
    pub fn hosts<'s>(&self, snapshot: &'s Snapshot) -> Vec<&'s HostEntry> {
        snapshot.hosts.iter().collect()
    }

    /// The events listed, the latest first.
    #[must_use]
    pub fn events<'s>(&self, snapshot: &'s Snapshot) -> Vec<&'s Event> {
        snapshot.events.iter().rev().collect()
    }

    /// The position of the selected session among those listed, if it is listed.
    #[must_use]
    pub fn session_at(&self, rows: &[&Entry]) -> Option<usize> {
        position(rows, self.selected_session.as_ref(), |e| &e.session.id)
    }

    /// The position of the selected task among those listed.
    #[must_use]
    pub fn task_at(&self, rows: &[&Task]) -> Option<usize> {
        position(rows, self.selected_task.as_ref(), |t| &t.id)
    }

    /// The position of the selected host among those listed.
    #[must_use]
    pub fn host_at(&self, rows: &[&HostEntry]) -> Option<usize> {
        position(rows, self.selected_host.as_ref(), |h| &h.name)
    }

    /// The position of the selected event among those listed.
    #[must_use]
    pub fn event_at(&self, rows: &[&Event]) -> Option<usize> {
        position(rows, self.selected_event.as_ref(), |e| &e.seq)
    }

    /// Applies a key.
    pub fn on_key(&mut self, key: KeyEvent, snapshot: &Snapshot) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        self.notice = None;
        match key.code {
            KeyCode::Char('c' | 'd') if ctrl => return Outcome::Quit,
            KeyCode::Char('q') | KeyCode::Esc => return Outcome::Quit,
            KeyCode::Char('r') | KeyCode::F(5) => return Outcome::Reload,
            KeyCode::Enter if self.pane == Pane::Fleet => {
                let rows = self.sessions(snapshot);
                if let Some(at) = self.session_at(&rows) {
                    return Outcome::Attach(rows[at].session.id.clone());
                }
            }
            KeyCode::Char('l') if ctrl => return Outcome::Reload,
            KeyCode::Tab => self.pane = self.next_pane(1),
            KeyCode::BackTab => self.pane = self.next_pane(Pane::ALL.len() - 1),
            KeyCode::Char('s') => self.sort_by(self.step_column(1)),
            KeyCode::Char('S') => self.sort_by(self.step_column(Column::ALL.len() - 1)),
            KeyCode::Char('i') => self.reversed = !self.reversed,
            KeyCode::Char(d @ '1'..='9') => {
                let n = d as usize - '1' as usize;
                if let Some(column) = Column::ALL.get(n) {
                    self.sort_by(*column);
                }
            }
            KeyCode::Char('f' | '/') => self.filter = self.next_filter(snapshot),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(snapshot, -1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(snapshot, 1),
            KeyCode::PageUp => self.move_by(snapshot, -10),
            KeyCode::PageDown => self.move_by(snapshot, 10),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(snapshot, isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.move_by(snapshot, isize::MAX),
            _ => {}
        }
        Outcome::Redraw
    }

    fn next_pane(&self, step: usize) -> Pane {
        let at = Pane::ALL.iter().position(|p| *p == self.pane).unwrap_or(0);
        Pane::ALL[(at + step) % Pane::ALL.len()]
    }

    fn step_column(&self, step: usize) -> Column {
        Column::ALL[(self.sort.index() + step) % Column::ALL.len()]
    }

    /// Sorts by `column`; choosing the column already sorted on reverses the order.
    fn sort_by(&mut self, column: Column) {
        if column == self.sort {
            self.reversed = !self.reversed;
        } else {
            self.sort = column;
            self.reversed = false;
        }
    }

    /// The next filter: not ended, all, then each state present in the fleet in turn.
    fn next_filter(&self, snapshot: &Snapshot) -> Filter {
        let present = State::ALL
            .into_iter()
            .filter(|s| snapshot.fleet.entries.iter().any(|e| e.verdict.state == *s));
        let cycle: Vec<Filter> = [Filter::NotEnded, Filter::All]
            .into_iter()
            .chain(present.map(Filter::Only))
            .collect();
        let at = cycle.iter().position(|f| *f == self.filter);
        match at {
            Some(i) => cycle[(i + 1) % cycle.len()],
            None => Filter::NotEnded,
        }
    }

    /// Moves the focused pane's selection by `by` rows (saturating at either end); with
    /// nothing selected, the first row is.
    fn move_by(&mut self, snapshot: &Snapshot, by: isize) {
        match self.pane {
            Pane::Fleet => {
                let rows = self.sessions(snapshot);
                let at = step(self.session_at(&rows), rows.len(), by);
                self.selected_session = at.map(|i| rows[i].session.id.clone());
            }
            Pane::Tasks => {
                let rows = self.tasks(snapshot);
                let at = step(self.task_at(&rows), rows.len(), by);
                self.selected_task = at.map(|i| rows[i].id.clone());
            }
            Pane::Hosts => {
                let rows = self.hosts(snapshot);
                let at = step(self.host_at(&rows), rows.len(), by);
                self.selected_host = at.map(|i| rows[i].name.clone());
            }
            Pane::Events => {
                let rows = self.events(snapshot);
                let at = step(self.event_at(&rows), rows.len(), by);
                self.selected_event = at.map(|i| rows[i].seq);
            }
        }
    }
}

fn position<T, K: PartialEq>(
    rows: &[&T],
    selected: Option<&K>,
    key: impl Fn(&T) -> &K,
) -> Option<usize> {
    let selected = selected?;
    rows.iter().position(|r| key(r) == selected)
}

/// The row `by` away from `at` among `len`, within bounds. With nothing selected, the move
/// starts before the first row: down selects the first, End the last.
fn step(at: Option<usize>, len: usize, by: isize) -> Option<usize> {
    if len == 0 {
        return None;
    }
    let target = match at {
        Some(at) => at.saturating_add_signed(by),
        None => by.saturating_sub(1).max(0).unsigned_abs(),
    };
    Some(target.min(len - 1))
}

#[cfg(test)]
mod tests;
