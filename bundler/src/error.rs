//! The library's one error type and the diagnostics that carry file:line:column.
//! Bad input is collected as a list of diagnostics so the user sees every problem at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in an input file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: &Arc<PathBuf>, line: u32, col: u32) -> Loc {
        Loc { file: file.clone(), line, col }
    }
    pub fn file_only(file: &Path) -> Loc {
        Loc { file: Arc::new(file.to_path_buf()), line: 0, col: 0 }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the input: where, what, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Option<Loc>,
    pub message: String,
    /// Extra facts and the fix, printed as `note:`/`help:` lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(loc: Option<Loc>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, loc, message: message.into(), notes: Vec::new() }
    }
    pub fn warning(loc: Option<Loc>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, loc, message: message.into(), notes: Vec::new() }
    }
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.loc {
            Some(loc) => write!(f, "{loc}: {sev}: {}", self.message)?,
            None => write!(f, "{sev}: {}", self.message)?,
        }
        for n in &self.notes {
            write!(f, "\n  {n}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Diagnostic", 6)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("file", &self.loc.as_ref().map(|l| l.file.display().to_string()))?;
        st.serialize_field("line", &self.loc.as_ref().filter(|l| l.line > 0).map(|l| l.line))?;
        st.serialize_field("column", &self.loc.as_ref().filter(|l| l.line > 0).map(|l| l.col))?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("notes", &self.notes)?;
        st.end()
    }
}

/// A list of diagnostics gathered by a stage; errors make the stage fail.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d)
    }
    pub fn error(&mut self, loc: Option<Loc>, msg: impl Into<String>) -> &mut Diagnostic {
        self.0.push(Diagnostic::error(loc, msg));
        self.0.last_mut().unwrap()
    }
    pub fn warning(&mut self, loc: Option<Loc>, msg: impl Into<String>) -> &mut Diagnostic {
        self.0.push(Diagnostic::warning(loc, msg));
        self.0.last_mut().unwrap()
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0)
    }
    /// Errors first, each group in file order, duplicates dropped.
    pub fn sorted(mut self) -> Diagnostics {
        self.0.sort_by(|a, b| (a.severity, &a.loc, &a.message).cmp(&(b.severity, &b.loc, &b.message)));
        self.0.dedup();
        self
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

impl Diagnostic {
    pub fn with_notes(mut self, notes: &[String]) -> Diagnostic {
        self.notes.extend_from_slice(notes);
        self
    }
}

/// One try at one source of an artifact, as the fetch error reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Attempt {
    /// The URL tried; none for a reason that belongs to no source.
    pub url: Option<String>,
    /// Which attempt at this URL, and of how many (set when the last one gave up).
    pub attempt: Option<u32>,
    pub of: Option<u32>,
    pub reason: String,
    /// The source could not be reached at all (its name does not resolve, nothing listens,
    /// no route): on every source, that means no network.
    pub unreachable: bool,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.url, self.attempt, self.of) {
            (None, _, _) => write!(f, "{}", self.reason),
            (Some(u), None, _) => write!(f, "{u}: {}", self.reason),
            (Some(u), Some(a), None) => write!(f, "{u} (attempt {a}): {}", self.reason),
            (Some(u), Some(a), Some(n)) => write!(f, "{u} (attempt {a} of {n}): {}; giving up on this URL", self.reason),
        }
    }
}

/// Why one artifact could not be fetched: what was wanted and every attempt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactFailure {
    pub artifact: String,
    pub version: String,
    pub file_name: String,
    pub expected_digest: String,
    pub attempts: Vec<Attempt>,
}

impl ArtifactFailure {
    /// Every attempt went to the network and none reached its source.
    pub fn unreachable(&self) -> bool {
        !self.attempts.is_empty() && self.attempts.iter().all(|a| a.unreachable)
    }
}

impl fmt::Display for ArtifactFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}, expected {}):", self.artifact, self.version, self.file_name, self.expected_digest)?;
        for a in &self.attempts {
            write!(f, "\n    {a}")?;
        }
        Ok(())
    }
}

/// The library's error. `exit_code` maps it onto the CLI contract (2 = bad input, 1 = failure).
/// A message never repeats its source: the binary prints the chain (`source()`) once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", render_diags(.0))]
    Input(Diagnostics),
    /// A file bundler itself keeps (state, cache, staging) cannot be read: a failure (1).
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: std::io::Error },
    /// A file the user named (inventory, --catalog, --signing-key, --ca-cert, a bundle, --key)
    /// cannot be read: bad usage (2) when it does not exist, else a failure (1).
    #[error("cannot read {path}")]
    ReadInput { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// A stage of `bundler build` failed; the cause is the source.
    #[error("stage {stage} failed")]
    Stage { stage: String, source: Box<Error> },
    /// Artifacts that could not be fetched, each with every attempt.
    #[error("{} artifact(s) could not be fetched; nothing unverified was kept in the cache:\n{}", .0.len(), .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Fetch(Vec<ArtifactFailure>),
    /// An upstream tarball that does not hold what its package needs (damaged, or not the
    /// upstream layout).
    #[error("{path}: {problem}")]
    Tarball { path: PathBuf, problem: String },
    /// No source of any missing artifact could be reached: no network (or none to these hosts).
    #[error("{}", no_network_text(.failures, .hosts))]
    NoNetwork { failures: Vec<ArtifactFailure>, hosts: Vec<String> },
}

fn no_network_text(failures: &[ArtifactFailure], hosts: &[String]) -> String {
    format!(
        "no network: {} artifact(s) are not in the cache and none of their sources could be reached (no name resolution or connection to {}), \
so nothing was downloaded. On a machine without internet access, give a mirror that has them: `--mirror URL` for a reachable HTTP mirror, \
or run `bundler fetch --inventory ... --export DIR` on a connected machine, carry DIR over, and build with `--offline --mirror file://DIR`.",
        failures.len(),
        hosts.join(", ")
    )
}

fn render_diags(d: &Diagnostics) -> String {
    let errors = d.0.iter().filter(|d| d.is_error()).count();
    let mut out: Vec<String> = d.0.iter().map(|d| d.to_string()).collect();
    out.push(format!("{errors} error{} found; nothing was downloaded or written", if errors == 1 { "" } else { "s" }));
    out.join("\n")
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Usage(_) => 2,
            Error::ReadInput { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 2,
            Error::Stage { source, .. } => source.exit_code(),
            _ => 1,
        }
    }
    pub fn input(d: Diagnostic) -> Error {
        Error::Input(Diagnostics(vec![d]))
    }
    /// `build`'s stage name for an error out of that stage; bad input stays bad input.
    pub fn in_stage(self, stage: &str) -> Error {
        match self {
            e @ (Error::Input(_) | Error::Usage(_) | Error::ReadInput { .. } | Error::Stage { .. }) => e,
            e => Error::Stage { stage: stage.to_string(), source: Box::new(e) },
        }
    }
    /// The facts of the error as named fields, for `--json` diagnostics.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::{json, Value};
        let mut m = serde_json::Map::new();
        match self {
            Error::Read { path, source } | Error::Write { path, source } | Error::ReadInput { path, source } => {
                m.insert("path".into(), json!(path));
                m.insert("io_error".into(), json!(format!("{:?}", source.kind())));
            }
            Error::Stage { stage, source } => {
                m = source.fields();
                m.insert("stage".into(), json!(stage));
            }
            Error::Tarball { path, problem } => {
                m.insert("path".into(), json!(path));
                m.insert("problem".into(), json!(problem));
            }
            Error::Fetch(f) => {
                m.insert("artifacts".into(), json!(f));
            }
            Error::NoNetwork { failures, hosts } => {
                m.insert("kind".into(), json!("no-network"));
                m.insert("artifacts".into(), json!(failures));
                m.insert("hosts".into(), json!(hosts));
            }
            Error::Input(_) | Error::Usage(_) | Error::Failed(_) => {}
        }
        m.entry("kind").or_insert_with(|| Value::String(self.kind().into()));
        m
    }
    fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "input",
            Error::Read { .. } => "read",
            Error::Write { .. } => "write",
            Error::ReadInput { .. } => "read-input",
            Error::Usage(_) => "usage",
            Error::Failed(_) => "failed",
            Error::Stage { source, .. } => source.kind(),
            Error::Fetch(_) => "fetch",
            Error::NoNetwork { .. } => "no-network",
            Error::Tarball { .. } => "tarball",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        let mut v = vec![e.to_string()];
        let mut s = e.source();
        while let Some(x) = s {
            v.push(x.to_string());
            s = x.source();
        }
        v
    }

    #[test]
    fn an_io_error_says_its_cause_once_in_the_chain() {
        let e = Error::Read { path: "/x/y".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) };
        let c = chain(&e);
        assert_eq!(c[0], "cannot read /x/y");
        assert_eq!(c.len(), 2);
        assert!(!c[0].contains(&c[1]), "{c:?}");
        let s = e.in_stage("packages");
        assert_eq!(chain(&s), ["stage packages failed", "cannot read /x/y", &c[1]]);
    }

    #[test]
    fn a_missing_internal_file_is_a_failure_and_a_missing_input_is_bad_usage() {
        let nf = || std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(Error::Read { path: "state/x".into(), source: nf() }.exit_code(), 1);
        assert_eq!(Error::Read { path: "state/x".into(), source: nf() }.in_stage("pki").exit_code(), 1);
        assert_eq!(Error::ReadInput { path: "hosts.yaml".into(), source: nf() }.exit_code(), 2);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Error::ReadInput { path: "hosts.yaml".into(), source: denied }.exit_code(), 1);
    }

    #[test]
    fn fields_carry_the_facts() {
        let a = Attempt { url: Some("http://x/f".into()), attempt: Some(1), of: None, reason: "dns".into(), unreachable: true };
        let f = ArtifactFailure {
            artifact: "etcd".into(),
            version: "v3.0.17".into(),
            file_name: "f".into(),
            expected_digest: "sha256:ab".into(),
            attempts: vec![a],
        };
        assert!(f.unreachable());
        let e = Error::NoNetwork { failures: vec![f], hosts: vec!["x".into()] }.in_stage("fetch");
        let m = e.fields();
        assert_eq!(m["stage"], "fetch");
        assert_eq!(m["kind"], "no-network");
        assert_eq!(m["artifacts"][0]["artifact"], "etcd");
        assert_eq!(m["artifacts"][0]["attempts"][0]["url"], "http://x/f");
        assert_eq!(e.exit_code(), 1);
    }
}
