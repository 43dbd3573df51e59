//! What systemd-logind says the machine is about to do, as the host's own word: its
//! `PrepareForSleep` and `PrepareForShutdown` signals on the system bus, heard by the per-host
//! watcher, become [`Service::announce`] (asleep before the machine sleeps, awake after it
//! wakes, down before it shuts down), so a laptop that closes its lid is `asleep` rather than
//! lost, and a reboot hands its work on at once.
//!
//! A delay inhibitor (logind's `Inhibit("sleep:shutdown", …, "delay")`) is held while nothing
//! is announced: logind then waits, up to its `InhibitDelayMaxSec`, until the word is written
//! and the inhibitor let go. Without one (logind may refuse it) the word races the machine.
//! The system bus is `DBUS_SYSTEM_BUS_ADDRESS` where set, as for every D-Bus client.

use zbus::blocking::{Connection, MessageIterator, Proxy};
use zbus::zvariant::OwnedFd;
use zbus::{MatchRule, message};

use crate::hosts::{Announced, Said};
use crate::{Result, Service};

const DESTINATION: &str = "org.freedesktop.login1";
const PATH: &str = "/org/freedesktop/login1";
const INTERFACE: &str = "org.freedesktop.login1.Manager";

/// A connection to logind, listening for what the machine is about to do.
pub struct Logind {
    proxy: Proxy<'static>,
    signals: MessageIterator,
    /// The delay inhibitor, while held.
    inhibitor: Option<OwnedFd>,
}

impl Logind {
    /// Connects to the system bus and listens to logind's signals.
    pub fn connect() -> zbus::Result<Self> {
        let conn = Connection::system()?;
        let rule = MatchRule::builder()
            .msg_type(message::Type::Signal)
            .sender(DESTINATION)?
            .path(PATH)?
            .interface(INTERFACE)?
            .build();
        let signals = MessageIterator::for_match_rule(rule, &conn, None)?;
        let proxy = Proxy::new_owned(conn, DESTINATION, PATH, INTERFACE)?;
        let mut logind = Self {
            proxy,
            signals,
            inhibitor: None,
        };
        logind.inhibit();
        Ok(logind)
    }

    /// Whether logind granted the delay inhibitor, which it holds now.
    #[must_use]
    pub fn inhibits(&self) -> bool {
        self.inhibitor.is_some()
    }

    /// Takes the delay inhibitor again, if it is not held (a refusal leaves it so).
    fn inhibit(&mut self) {
        if self.inhibitor.is_none() {
            let why = "coord records that this host sleeps or shuts down";
            self.inhibitor = self
                .proxy
                .call("Inhibit", &("sleep:shutdown", "coord", why, "delay"))
                .ok();
        }
    }

    /// Waits for logind's next word; returns what the host is to say, or `None` when the bus
    /// went away.
    pub fn next_word(&mut self) -> Option<Said> {
        loop {
            let msg = self.signals.next()?.ok()?;
            let header = msg.header();
            let Some(member) = header.member() else {
                continue;
            };
            let Ok(before) = msg.body().deserialize::<bool>() else {
                continue;
            };
            return Some(match (member.as_str(), before) {
                ("PrepareForSleep", true) => Said::Sleep,
                ("PrepareForShutdown", true) => Said::Shutdown,
                // Awake again, or a shutdown called off.
                ("PrepareForSleep" | "PrepareForShutdown", false) => Said::Wake,
                _ => continue,
            });
        }
    }

    /// Says `said` for the host, then lets the machine go (sleep, shutdown: the inhibitor
    /// is let go) or takes the inhibitor again (awake).
    pub fn announce(&mut self, service: &Service, said: Said) -> Result<Announced> {
        let done = service.announce(said);
        if said == Said::Wake {
            self.inhibit();
        } else {
            self.inhibitor = None;
        }
        done
    }
}
