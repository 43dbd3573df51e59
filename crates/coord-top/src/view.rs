//! Drawing one frame: a summary line, the fleet (the columns of `coord ps`, the state in its
//! colour), the explanation of the selected row, the task queue beside the hosts (the columns
//! of `coord hosts`) and the event log, and the keys. It draws what the snapshot holds and the
//! app state asks for; it decides nothing.

use coord_core::{Event, State, Task, TaskState, Timestamp};
use coord_service::Entry;
use coord_service::hosts::HostEntry;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::app::{App, Column, Pane, work};
use crate::palette;
use crate::snapshot::Snapshot;

/// The widest a column other than the last may grow, in cells.
const MAX_COLUMN: u16 = 32;

/// Draws the whole view.
pub fn draw(frame: &mut Frame, app: &App, snapshot: &Snapshot) {
    let [summary, fleet, detail, lower, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(5),
        Constraint::Percentage(35),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(summary_line(app, snapshot)), summary);
    draw_fleet(frame, fleet, app, snapshot);
    frame.render_widget(
        Paragraph::new(detail_lines(app, snapshot))
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Why ")),
        detail,
    );
    let [tasks, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(lower);
    // The hosts are few: as many rows as there are (with borders and titles), up to half.
    let rows = u16::try_from(snapshot.hosts.len()).unwrap_or(u16::MAX);
    let hosts_height = rows.saturating_add(3).min(right.height / 2);
    let [hosts, events] =
        Layout::vertical([Constraint::Length(hosts_height), Constraint::Fill(1)]).areas(right);
    draw_tasks(frame, tasks, app, snapshot);
    draw_hosts(frame, hosts, app, snapshot);
    draw_events(frame, events, app, snapshot);
    frame.render_widget(Paragraph::new(keys_line(app, snapshot)), keys);
}

/// How many sessions there are in each state, coloured, after the count shown.
fn summary_line(app: &App, snapshot: &Snapshot) -> Line<'static> {
    let entries = &snapshot.fleet.entries;
    let shown = app.sessions(snapshot).len();
    let mut spans = vec![
        Span::styled("coord top", palette::heading(app.color)),
        Span::raw(format!("  {shown} of {} sessions", entries.len())),
    ];
    for state in State::ALL {
        let n = entries.iter().filter(|e| e.verdict.state == state).count();
        if n > 0 {
            spans.push(Span::raw(format!("  {n} ")));
            spans.push(Span::styled(
                state.as_str(),
                palette::state(state, app.color),
            ));
        }
    }
    Line::from(spans)
}

fn pane_block(app: &App, pane: Pane, title: String) -> Block<'static> {
    let block = Block::bordered().title(title);
    if app.pane == pane {
        block
            .border_style(palette::focused(app.color))
            .title_style(palette::focused(app.color))
    } else {
        block
    }
}

fn draw_fleet(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let rows = app.sessions(snapshot);
    let now = snapshot.now();
    let arrow = if app.reversed { "▼" } else { "▲" };
    let header = Column::ALL.map(|c| {
        if c == app.sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_owned()
        }
    });
    let cells: Vec<Vec<Line>> = rows
        .iter()
        .map(|e| fleet_cells(e, now, app.color))
        .collect();
    let title = format!(
        " Fleet · sort {} {arrow} · filter {} ",
        app.sort.title().to_lowercase(),
        app.filter.describe()
    );
    let mut state = TableState::new().with_selected(app.session_at(&rows));
    frame.render_stateful_widget(
        table(&header, cells, app).block(pane_block(app, Pane::Fleet, title)),
        area,
        &mut state,
    );
}

/// A session's cells, in the order of [`Column::ALL`].
fn fleet_cells(e: &Entry, now: Timestamp, color: bool) -> Vec<Line<'static>> {
    let s = &e.session;
    let state = e.verdict.state;
    let work = work(e);
    vec![
        Line::raw(s.id.clone()),
        Line::raw(s.runtime.as_str()),
        Line::raw(s.task.clone()),
        Line::raw(s.location()),
        Line::styled(state.as_str(), palette::state(state, color)),
        Line::raw(palette::ago(s.last_seen, now)),
        Line::raw(if work.is_empty() {
            "-".to_owned()
        } else {
            work.join(",")
        }),
        Line::raw(e.verdict.reason.clone()),
    ]
}

fn draw_tasks(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let rows = app.tasks(snapshot);
    let now = snapshot.now();
    let header = [
        "ID", "STATE", "HOLDER", "TOKEN", "TRIES", "CHANGED", "TITLE",
    ]
    .map(String::from);
    let cells = rows.iter().map(|t| task_cells(t, now)).collect();
    let mut state = TableState::new().with_selected(app.task_at(&rows));
    let title = format!(" Tasks ({}) ", rows.len());
    frame.render_stateful_widget(
        table(&header, cells, app).block(pane_block(app, Pane::Tasks, title)),
        area,
        &mut state,
    );
}

fn task_cells(t: &Task, now: Timestamp) -> Vec<Line<'static>> {
    let (holder, token) = match &t.state {
        TaskState::Claimed { session, token, .. } => (session.clone(), token.to_string()),
        TaskState::Done { session } => (session.clone(), String::new()),
        _ => (String::new(), String::new()),
    };
    vec![
        Line::raw(t.id.clone()),
        Line::raw(t.state.name()),
        Line::raw(holder),
        Line::raw(token),
        Line::raw(format!("{}/{}", t.attempts, t.max_attempts)),
        Line::raw(palette::ago(t.updated_at, now)),
        Line::raw(t.title.clone()),
    ]
}

fn draw_hosts(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let rows = app.hosts(snapshot);
    let now = snapshot.now();
    let header = ["HOST", "STATE", "LAST HEARD", "SESSIONS", "REASON"].map(String::from);
    let cells = rows
        .iter()
        .map(|h| {
            let state = h.verdict.state;
            vec![
                Line::raw(h.name.clone()),
                Line::styled(state.as_str(), palette::host(state, app.color)),
                Line::raw(palette::ago(h.heard.last, now)),
                Line::raw(h.sessions.len().to_string()),
                Line::raw(h.verdict.reason.clone()),
            ]
        })
        .collect();
    let mut state = TableState::new().with_selected(app.host_at(&rows));
    let title = format!(" Hosts ({}) ", rows.len());
    frame.render_stateful_widget(
        table(&header, cells, app).block(pane_block(app, Pane::Hosts, title)),
        area,
        &mut state,
    );
}

fn draw_events(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let rows = app.events(snapshot);
    let now = snapshot.now();
    let header = ["SEQ", "WHEN", "SESSION", "WHAT"].map(String::from);
    let cells = rows
        .iter()
        .map(|e| {
            vec![
                Line::raw(e.seq.to_string()),
                Line::raw(palette::ago(e.at, now)),
                Line::raw(e.session.clone()),
                Line::raw(e.kind.to_string()),
            ]
        })
        .collect();
    let mut state = TableState::new().with_selected(app.event_at(&rows));
    let title = " Events (latest first) ".to_owned();
    frame.render_stateful_widget(
        table(&header, cells, app).block(pane_block(app, Pane::Events, title)),
        area,
        &mut state,
    );
}

/// A table whose columns fit their widest cell (up to [`MAX_COLUMN`]), the last taking the rest.
fn table(header: &[String], cells: Vec<Vec<Line<'static>>>, app: &App) -> Table<'static> {
    let mut widths: Vec<u16> = header.iter().map(|h| h.chars().count() as u16).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width() as u16).min(MAX_COLUMN);
        }
    }
    let last = widths.len().saturating_sub(1);
    let constraints = widths.iter().enumerate().map(|(i, w)| {
        if i == last {
            Constraint::Fill(1)
        } else {
            Constraint::Length(*w)
        }
    });
    let header =
        Row::new(header.iter().map(|h| Cell::from(h.clone()))).style(palette::heading(app.color));
    Table::new(cells.into_iter().map(Row::new), constraints)
        .header(header)
        .column_spacing(2)
        .row_highlight_style(palette::selected(app.color))
}

/// What the focused pane's selected row means: a session's state and the rule that decided it
/// (`coord explain` in short), a task's holder and progress, an event in full.
fn detail_lines(app: &App, snapshot: &Snapshot) -> Vec<Line<'static>> {
    let now = snapshot.now();
    let hint = || vec![Line::raw("↑↓ select a row to see why it is where it is")];
    match app.pane {
        Pane::Fleet => {
            let rows = app.sessions(snapshot);
            app.session_at(&rows)
                .map_or_else(hint, |i| session_detail(rows[i], now, app.color))
        }
        Pane::Tasks => {
            let rows = app.tasks(snapshot);
            app.task_at(&rows)
                .map_or_else(hint, |i| task_detail(rows[i], now))
        }
        Pane::Hosts => {
            let rows = app.hosts(snapshot);
            app.host_at(&rows)
                .map_or_else(hint, |i| host_detail(rows[i], now, app.color))
        }
        Pane::Events => {
            let rows = app.events(snapshot);
            app.event_at(&rows)
                .map_or_else(hint, |i| event_detail(rows[i], now))
        }
    }
}

fn session_detail(e: &Entry, now: Timestamp, color: bool) -> Vec<Line<'static>> {
    let (s, v) = (&e.session, &e.verdict);
    let work = work(e);
    vec![
        Line::from(vec![
            Span::styled(s.id.clone(), palette::heading(color)),
            Span::raw(" is "),
            Span::styled(v.state.as_str(), palette::state(v.state, color)),
            Span::raw(format!(": {}", v.reason)),
        ]),
        Line::raw(format!("rule  {}", v.rule.describe())),
        Line::raw(format!(
            "since {} · registered {} · {} at {} · holds {}",
            palette::ago(v.since, now),
            palette::ago(s.registered_at, now),
            s.runtime.as_str(),
            s.location(),
            if work.is_empty() {
                "nothing".to_owned()
            } else {
                work.join(", ")
            }
        )),
    ]
}

fn task_detail(t: &Task, now: Timestamp) -> Vec<Line<'static>> {
    let state = match &t.state {
        TaskState::Pending => "pending".to_owned(),
        TaskState::Claimed {
            session,
            token,
            lease_until,
        } => format!(
            "claimed by {session} with token {token}, lease {}",
            if *lease_until > now {
                format!("for {}", coord_core::Compact(lease_until.since(now)))
            } else {
                "run out".to_owned()
            }
        ),
        TaskState::Done { session } => format!("done by {session}"),
        TaskState::Failed { reason } => format!("failed: {reason}"),
    };
    let progress = t
        .progress
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    vec![
        Line::raw(format!("{}: {}", t.id, t.title)),
        Line::raw(format!(
            "{state} · {} of {} attempts lost · added {}",
            t.attempts,
            t.max_attempts,
            palette::ago(t.created_at, now)
        )),
        Line::raw(format!("progress {progress}")),
    ]
}

/// A host's state and why (`coord hosts` in full): when it was last heard and since when
/// without a gap, what it said, its sessions and the hosts that witness its silence.
fn host_detail(h: &HostEntry, now: Timestamp, color: bool) -> Vec<Line<'static>> {
    let v = &h.verdict;
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let said = h.heard.notice.map_or_else(
        || "said nothing".to_owned(),
        |n| format!("noted {} {}", n.kind.as_str(), palette::ago(n.at, now)),
    );
    vec![
        Line::from(vec![
            Span::styled(h.name.clone(), palette::heading(color)),
            Span::raw(" is "),
            Span::styled(v.state.as_str(), palette::host(v.state, color)),
            Span::raw(format!(": {}", v.reason)),
        ]),
        Line::raw(format!(
            "last heard {} · heard without a gap since {} · {} since {} · {said}",
            palette::ago(h.heard.last, now),
            palette::ago(h.heard.since, now),
            v.state,
            palette::ago(v.since, now),
        )),
        Line::raw(format!(
            "sessions {} · witnesses {}",
            list(&h.sessions),
            list(&v.witnesses)
        )),
    ]
}

fn event_detail(e: &Event, now: Timestamp) -> Vec<Line<'static>> {
    vec![
        Line::raw(format!(
            "event {} · {} · {}",
            e.seq,
            palette::ago(e.at, now),
            e.session
        )),
        Line::raw(e.kind.to_string()),
    ]
}

/// The keys; instead, what the last action said or a failed reading, when there is one.
fn keys_line(app: &App, snapshot: &Snapshot) -> Line<'static> {
    if let Some(notice) = &app.notice {
        return Line::styled(notice.clone(), palette::error(app.color));
    }
    if let Some(error) = &snapshot.error {
        return Line::styled(
            format!("cannot read the store: {error} (the view shows the last reading)"),
            palette::error(app.color),
        );
    }
    let keys = [
        ("q", "quit"),
        ("tab", "pane"),
        ("↑↓", "select"),
        ("enter", "attach"),
        ("s/S 1-8", "sort"),
        ("i", "reverse"),
        ("f", "filter"),
        ("r", "reload"),
    ];
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(k, palette::heading(app.color)));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans).style(Style::new())
}

#[cfg(test)]
mod tests;
