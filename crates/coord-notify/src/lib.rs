//! Notifications for coord: telling a person the moment a session needs them (blocked, stale,
//! limited, dead, or its turn done), on the desktop, through a webhook or by a command.
//!
//! Layered from pure to I/O:
//! - [`config`]: the config file (`notify_after`, the `[[notify]]` rules), read and checked.
//! - [`event`]: the [`Trigger`] a rule names and the [`Event`] every channel sends.
//! - [`notifier`]: [`Notifier`], pure: which settled changes go to which rule, debounced and
//!   rate-limited, the time passed in.
//! - [`channels`]: one attempt at sending through a [`Channel`], bounded in time.
//! - [`sender`]: [`Sender`], the background thread that sends and retries, never blocking.
//! - [`stats`]: the per-channel counters and the status file `coord doctor` reads.
//! - [`dispatch`]: [`Dispatcher`], the notifier and the sender together, for the watcher.
//!
//! It decides no state: the verdicts come from `coord_core::classify`, through the caller.

pub mod channels;
pub mod config;
pub mod dispatch;
pub mod event;
pub mod notifier;
pub mod sender;
pub mod stats;
#[cfg(test)]
mod testing;

pub use channels::{Channel, SendError};
pub use config::{Config, ConfigError, Rule};
pub use dispatch::Dispatcher;
pub use event::{Event, Trigger};
pub use notifier::{Notification, Notifier, Round};
pub use sender::{Backoff, Options, Sender};
pub use stats::{ChannelStats, LastError, Status};
