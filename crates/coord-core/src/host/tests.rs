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
                    notice,
                    ..HostHeard::new(t(last), t(since))
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

/// A fleet that hands work on after 30 s: a store outage of a minute ends, and host a is heard
/// again before host b.
fn after_a_minute_long_outage(gap: Duration) -> (Hosts, Policy) {
    let p = Policy {
        host_lost_after: Duration::from_secs(30),
        ..Policy::default()
    };
    let (outage_began, ended) = (100 * MIN, 101 * MIN);
    // Recorded with a 30 s gap, a's silence of a minute began its gap-free time anew; with
    // the 5 min gap it did not.
    let since = if gap < Duration::from_secs(60) {
        ended
    } else {
        0
    };
    let hosts = fleet(
        &[("a", ended, since, None), ("b", outage_began, 0, None)],
        None,
    )
    .recorded_with_gap(gap);
    (hosts, p)
}

#[test]
fn an_outage_longer_than_a_short_limit_loses_nobody_whatever_gap_the_store_kept() {
    for gap in [Duration::from_secs(30), HOST_GAP] {
        let (hosts, p) = after_a_minute_long_outage(gap);
        let v = hosts.judge("b", &p, t(101 * MIN + 1_000));
        assert_eq!(
            v.state,
            HostState::Silent,
            "recorded with a {gap:?} gap: {v:?}"
        );
    }
}

/// The same hosts with a heard at `now` too.
fn a_heard(hosts: &Hosts, now: i64) -> Hosts {
    let mut map: BTreeMap<String, HostHeard> =
        hosts.iter().map(|(n, h)| (n.to_owned(), *h)).collect();
    map.get_mut("a").unwrap().last = t(now);
    Hosts {
        heard: map,
        ..hosts.clone()
    }
}

#[test]
fn a_short_limit_holds_as_recorded_and_a_coarser_record_waits_for_its_gap() {
    // a heard without a gap since the outage ended, b never again.
    let (hosts, p) = after_a_minute_long_outage(Duration::from_secs(30));
    let v = a_heard(&hosts, 101 * MIN + 31_000).judge("b", &p, t(101 * MIN + 31_000));
    assert_eq!((v.state, v.since), (HostState::Lost, t(101 * MIN + 30_000)));
    // A store that kept the 5 min gap may have missed a silence of a up to that long: b is
    // lost once silent longer than that.
    let (hosts, p) = after_a_minute_long_outage(HOST_GAP);
    let at = 104 * MIN;
    assert_eq!(
        a_heard(&hosts, at).judge("b", &p, t(at)).state,
        HostState::Silent
    );
    let at = 106 * MIN;
    let v = a_heard(&hosts, at).judge("b", &p, t(at));
    assert_eq!((v.state, v.since), (HostState::Lost, t(105 * MIN)));
}

#[test]
fn an_observer_beside_the_store_witnesses_nothing_from_its_own_host() {
    let now = 300 * MIN;
    let hosts = || {
        fleet(
            &[("a", 100 * MIN, 0, None), ("server", now, 0, None)],
            Some("server"),
        )
    };
    let p = Policy::default();
    assert_eq!(hosts().judge("a", &p, t(now)).state, HostState::Lost);
    let v = hosts().beside_the_store().judge("a", &p, t(now));
    assert_eq!(v.state, HostState::Silent, "{v:?}");
}
