//! Events the library sends while it works (downloads, retries, warnings) and the `Reporter`
//! trait that receives them. The binary shows them; the library never prints, and a warning
//! sent as an event cannot be dropped by a command that forgot to print it.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Already in the cache and re-verified.
    Cached,
    Downloaded,
    /// Continued from a partial file with a Range request.
    Resumed,
    /// Copied from a `file://` mirror.
    Copied,
}

/// What the stages tell whoever shows progress. The library never prints.
pub enum Event<'a> {
    Waiting {
        name: &'a str,
    },
    Start {
        name: &'a str,
        url: &'a str,
        total: Option<u64>,
        offset: u64,
    },
    Progress {
        name: &'a str,
        done: u64,
        total: Option<u64>,
    },
    Retry {
        name: &'a str,
        url: &'a str,
        attempt: u32,
        reason: &'a str,
        delay: Duration,
    },
    Damaged {
        name: &'a str,
        path: &'a Path,
    },
    Done {
        name: &'a str,
        outcome: Outcome,
        bytes: u64,
    },
    Failed {
        name: &'a str,
        reason: &'a str,
    },
    /// A plan or certificate warning, the whole line as it is shown (`file:line: warning: ...`).
    /// Sent as soon as it is known, so a build that fails later still shows it.
    Warning {
        text: &'a str,
    },
}

pub trait Reporter: Sync {
    fn event(&self, e: &Event);
}

pub struct Silent;
impl Reporter for Silent {
    fn event(&self, _: &Event) {}
}
