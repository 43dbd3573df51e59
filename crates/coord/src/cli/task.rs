//! `coord task`: the work queue.
#![allow(clippy::doc_markdown)]

use std::time::Duration;

use clap::{Args, Subcommand};

use super::{parse_duration, parse_json, parse_label};

/// `coord task`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TaskAction,
}

/// `coord task` actions.
#[derive(Debug, Subcommand)]
pub enum TaskAction {
    /// Add a task to the queue; prints its id.
    Add {
        /// What is to be done.
        #[arg(required = true)]
        title: Vec<String>,
        /// Its id [default: t-<n>].
        #[arg(long)]
        id: Option<String>,
        /// A label a session must carry to be handed it, key=value; repeat for more.
        #[arg(long = "label", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Lost holders before it is failed [default: 3].
        #[arg(long)]
        max_attempts: Option<u32>,
    },
    /// Claim a task (the named one, or the oldest waiting one that fits); prints its id and
    /// the claim's fencing token.
    Claim {
        /// The claiming session [default: COORD_ID, else <host>-<parent pid>].
        #[arg(long, env = "COORD_ID")]
        session: Option<String>,
        /// The task to claim.
        #[arg(long)]
        task: Option<String>,
        /// How long the claim holds without progress.
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        lease: Duration,
        /// Print the claimed task as JSON (with the progress the last holder left).
        #[arg(long)]
        json: bool,
    },
    /// Report progress under a claim (kept for whoever takes over); renews the lease.
    Progress {
        /// The task.
        task: String,
        /// The claim's fencing token.
        #[arg(long)]
        token: u64,
        /// Progress details (JSON).
        #[arg(long, value_parser = parse_json)]
        details: Option<serde_json::Value>,
        /// The renewed lease.
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        lease: Duration,
    },
    /// Finish a task under a claim.
    Complete {
        /// The task.
        task: String,
        /// The claim's fencing token.
        #[arg(long)]
        token: u64,
    },
    /// Give a task up under a claim: failed.
    Fail {
        /// The task.
        task: String,
        /// The claim's fencing token.
        #[arg(long)]
        token: u64,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Give a task back to the queue under a claim.
    Release {
        /// The task.
        task: String,
        /// The claim's fencing token.
        #[arg(long)]
        token: u64,
    },
    /// List the queue: pending and claimed tasks (holder and token), then the last finished.
    List {
        /// Every task kept, finished ones included (they are kept for --keep of the sweep).
        #[arg(long)]
        all: bool,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// One task with its history.
    Show {
        /// The task.
        task: String,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
}
