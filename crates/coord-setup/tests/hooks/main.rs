//! Installs, removes and inspects hooks in real files under a temporary home: what a user's
//! settings look like before and after, byte for byte.

mod claude;
mod codex;
mod fixture;
