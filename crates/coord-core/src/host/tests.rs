//! Scenario tests for `Hosts::judge`.

use super::*;

const MIN: i64 = 60_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn fleet(hosts: &[(&str, i64, i64, Option<Notice>)], here: Option<&str>) -> Hosts {
    let heard = hosts
        .iter()
        .map(|&(name, last, since, notice)| {
            (
                name.to_owned(),
                HostHeard {
                    last: t(last),
                    since: t(since),
                    notice,
                },
            )
        })
        .collect();
    Hosts::new(heard, here.map(str::to_owned))
}

fn notice(kind: NoticeKind, at: i64) -> Notice {
    Notice { kind, at: t(at) }
}

#[test]
fn a_host_heard_within_the_gap_is_heard_and_past_it_silent() {
    let hosts = fleet(&[("a", 100 * MIN, 0, None)], None);
    let p = Policy::default();
    assert_eq!(hosts.judge("a", &p, t(104 * MIN)).state, HostState::Heard);
    let v = hosts.judge("a", &p, t(106 * MIN));
    assert_eq!(v.state, HostState::Silent);
    assert_eq!(
        v.reason,
        "silent 6m; lost after 2h with another host heard all along"
    );
    assert_eq!(hosts.judge("nobody", &p, t(0)).state, HostState::Silent);
}

#[test]
fn lost_names_every_witness_heard_all_along() {
    let now = 300 * MIN;
    let hosts = fleet(
        &[
            ("a", 100 * MIN, 0, None),
            ("b", now, 50 * MIN, None),
            ("c", now - MIN, 90 * MIN, None),
            // Heard now, but only since after a's silence began and for less than 2h.
            ("d", now, 200 * MIN, None),
            // Heard without a gap long ago, not now.
            ("e", now - 10 * MIN, 0, None),
        ],
        None,
    );
    let v = hosts.judge("a", &Policy::default(), t(now));
    assert_eq!(v.state, HostState::Lost);
    assert_eq!(v.witnesses, ["b", "c"]);
    assert_eq!(v.reason, "silent 3h20m while 2 hosts heard");
    assert_eq!(v.since, t(220 * MIN));
}

#[test]
fn the_observer_is_no_witness_by_running_only_by_what_the_store_heard_of_it() {
    // After a store outage the observer's own host was heard again only just now.
    let now = 300 * MIN;
    let hosts = fleet(
        &[("a", 100 * MIN, 0, None), ("me", now, now, None)],
        Some("me"),
    );
    assert_eq!(
        hosts.judge("a", &Policy::default(), t(now)).state,
        HostState::Silent
    );
    assert_eq!(
        hosts.judge("me", &Policy::default(), t(now)).state,
        HostState::Heard
    );
}

#[test]
fn a_notice_holds_until_the_host_is_heard_again() {
    let p = Policy::default();
    let now = 600 * MIN;
    let others = ("o", now, 0, None);
    let asleep = fleet(
        &[
            (
                "a",
                100 * MIN,
                0,
                Some(notice(NoticeKind::Asleep, 100 * MIN)),
            ),
            others,
        ],
        None,
    );
    let v = asleep.judge("a", &p, t(now));
    assert_eq!(v.state, HostState::Asleep);
    assert_eq!(v.reason, "asleep for 8h20m (said so), lost after 1d");
    // Heard a minute after it said it sleeps: it did not sleep, or woke without saying.
    let woke = fleet(
        &[
            (
                "a",
                101 * MIN,
                0,
                Some(notice(NoticeKind::Asleep, 100 * MIN)),
            ),
            others,
        ],
        None,
    );
    assert_eq!(woke.judge("a", &p, t(now)).state, HostState::Lost);
    let down = fleet(
        &[("a", 100 * MIN, 0, Some(notice(NoticeKind::Down, 100 * MIN)))],
        None,
    );
    assert_eq!(down.judge("a", &p, t(100 * MIN + 5)).state, HostState::Down);
    // A lost mark decides nothing: the host is judged afresh.
    let marked = fleet(
        &[
            ("a", now, 0, Some(notice(NoticeKind::Lost, 100 * MIN))),
            others,
        ],
        None,
    );
    assert_eq!(marked.judge("a", &p, t(now)).state, HostState::Heard);
}
