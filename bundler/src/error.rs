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
    /// The state folder's certificate authority or certificates are damaged or half there.
    #[error("PKI: {problem}")]
    Pki { files: Vec<PathBuf>, problem: String },
    /// The signing key (the state folder's or `--signing-key`) is not one bundler can use.
    #[error("{problem}")]
    SigningKey { path: PathBuf, problem: String },
    /// A file bundler wrote or keeps (a package, a cache entry, the state folder's pending
    /// set), or a bundle it was asked to check, holds what it must not.
    #[error("{path}: {problem}")]
    Damaged { path: PathBuf, problem: String },
    /// A copy that does not have the digest it must have.
    #[error("{path}: the copy does not match {expected} (it has {actual})")]
    Mismatch { path: PathBuf, expected: String, actual: String },
    /// Another process holds the folder this one needs.
    #[error("{problem}")]
    Busy { path: PathBuf, pid: Option<i32>, problem: String },
    /// A folder's lock file cannot be locked (the file system refuses locks).
    #[error("cannot lock the {what} {path}")]
    Lock { path: PathBuf, what: String, source: std::io::Error },
    /// A template (under packaging/, named by the package spec) that cannot be rendered.
    #[error("{problem}")]
    Template { template: String, problem: String },
    /// `--offline` with artifacts that are neither in the cache nor in a file:// mirror.
    #[error("{}", offline_text(.cache, .missing))]
    Offline { cache: PathBuf, missing: Vec<Missing> },
    /// The OS vendor's key could not be fetched with the fingerprint the catalog pins: bad
    /// usage (2), the operator must give a source of the real key.
    #[error("OS package key {name} (fingerprint {fingerprint}) could not be fetched and verified; nothing was cached:\n{}\nhelp: give a source of the vendor's own key file with --mirror or --os-mirror (a tree with {file_name} at its top, as a CentOS mirror's os/x86_64 or a DVD), or pin the key your OS packages are really signed with in --catalog (os_key.fingerprint)", if .reasons.is_empty() { "  no source: --no-upstream and no mirror".to_string() } else { .reasons.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n") })]
    OsKey { name: String, fingerprint: String, file_name: String, reasons: Vec<String> },
    /// OS packages without a valid signature by the pinned vendor key: bad usage (2).
    #[error("{} OS package(s) refused; nothing of them was cached:\n{}\nhelp: an OS package must carry {key_name}'s RPM signature (key id {}, fingerprint {fingerprint}); fetch it from the vendor's own mirror or DVD (--os-mirror URL, the tree holding Packages/), or, for your own vendor, pin that vendor's key in --catalog (os_key)", .refused.len(), .refused.join("\n"), key_id(.fingerprint))]
    OsPackages { key_name: String, fingerprint: String, refused: Vec<String> },
    /// Images that could not be pulled, each with why.
    #[error("{} image(s) could not be pulled; nothing unverified was cached:\n{}", .0.len(), .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Images(Vec<ImageFailure>),
    /// `certs check`: certificates that expire within the warning window.
    #[error("{} certificate(s) expire within {days} days: {}\nhelp: `bundler certs renew --inventory ...` re-issues leaves; then rebuild and roll out the bundle", .files.len(), .files.join(", "))]
    Expiring { files: Vec<String>, days: i64 },
    /// `verify`: bundles that do not verify, each with the checks that failed.
    #[error("{}", .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("\n"))]
    Unverified(Vec<Unverified>),
    /// `cache verify`: cached files that do not match the digest they are stored under.
    #[error("{} cached file(s) do not match the digest they are stored under:\n  {}\nhelp: delete them; the next `bundler fetch` or `bundler build` downloads them again", .0.len(), .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  "))]
    CacheDamaged(Vec<PathBuf>),
    /// One package could not be written; the cause is the source.
    #[error("package {name}")]
    Package { name: String, source: Box<Error> },
    /// The machine bundler runs on could not give what it needs (an HTTP client, random bytes).
    #[error("{0}")]
    Host(String),
    /// bundler broke its own rule (a bug): what it found, to report.
    #[error("internal error: {0}; please report this as a bug")]
    Internal(String),
    /// `BUNDLER_TEST_FAIL_AT`: a failure a test asked for.
    #[error("injected by BUNDLER_TEST_FAIL_AT")]
    Injected,
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

/// An artifact `--offline` could not find: its file name and digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Missing {
    pub file_name: String,
    pub digest: String,
}

/// One image that could not be pulled.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImageFailure {
    pub image: String,
    pub version: String,
    pub reference: String,
    /// The digest it must have; empty when it is pinned on this first pull.
    pub digest: String,
    pub reason: String,
}

impl fmt::Display for ImageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digest.is_empty() {
            write!(f, "{} {} ({}, pinned on first pull): {}", self.image, self.version, self.reference, self.reason)
        } else {
            write!(f, "{} {} ({}@{}): {}", self.image, self.version, self.reference, self.digest, self.reason)
        }
    }
}

/// One bundle that does not verify, with each failed check (`file: check: detail`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unverified {
    pub bundle: PathBuf,
    pub failed: Vec<String>,
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not verify:", self.bundle.display())?;
        for c in &self.failed {
            write!(f, "\n  {c}")?;
        }
        Ok(())
    }
}

/// The long key id: the fingerprint's last 16 hex digits.
fn key_id(fingerprint: &str) -> &str {
    &fingerprint[fingerprint.len().saturating_sub(16)..]
}

fn offline_text(cache: &Path, missing: &[Missing]) -> String {
    let lines: Vec<String> = missing.iter().map(|m| format!("  {}  {}", m.file_name, m.digest)).collect();
    format!(
        "--offline: {} artifact(s) are not in the cache {} or any file:// mirror; bring these files (by name, with these digests):\n{}\nhelp: on a machine with internet run `bundler fetch --inventory ... --export DIR`, carry DIR over, and use `--mirror file://DIR`",
        missing.len(),
        cache.display(),
        lines.join("\n")
    )
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
            Error::Input(_) | Error::Usage(_) | Error::OsKey { .. } | Error::OsPackages { .. } => 2,
            Error::ReadInput { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 2,
            Error::Stage { source, .. } | Error::Package { source, .. } => source.exit_code(),
            _ => 1,
        }
    }
    pub fn input(d: Diagnostic) -> Error {
        Error::Input(Diagnostics(vec![d]))
    }
    /// `build`'s stage name for an error out of that stage; bad input stays bad input.
    pub fn in_stage(self, stage: &str) -> Error {
        match self {
            e @ (Error::Input(_) | Error::Usage(_) | Error::OsKey { .. } | Error::OsPackages { .. } | Error::ReadInput { .. } | Error::Stage { .. }) => e,
            e => Error::Stage { stage: stage.to_string(), source: Box::new(e) },
        }
    }
    /// The facts of the error as named fields, for `--json` diagnostics.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::{json, Value};
        // A wrapper's fields are its cause's plus its own.
        let (mut m, own) = match self {
            Error::Stage { stage, source } => (source.fields(), json!({"stage": stage})),
            Error::Package { name, source } => (source.fields(), json!({"package": name})),
            other => (serde_json::Map::new(), other.own_fields()),
        };
        if let Value::Object(own) = own {
            m.extend(own);
        }
        m.entry("kind").or_insert_with(|| Value::String(self.kind().into()));
        m
    }
    /// The facts a variant carries itself (`null` for none).
    fn own_fields(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        match self {
            Error::Read { path, source } | Error::Write { path, source } | Error::ReadInput { path, source } | Error::Lock { path, source, .. } => {
                json!({"path": path, "io_error": format!("{:?}", source.kind())})
            }
            Error::Tarball { path, problem } | Error::SigningKey { path, problem } | Error::Damaged { path, problem } => {
                json!({"path": path, "problem": problem})
            }
            Error::Fetch(f) => json!({"artifacts": f}),
            Error::NoNetwork { failures, hosts } => json!({"artifacts": failures, "hosts": hosts}),
            Error::Pki { files, problem } => json!({"files": files, "problem": problem}),
            Error::Mismatch { path, expected, actual } => json!({"path": path, "expected_digest": expected, "actual_digest": actual}),
            Error::Busy { path, pid, problem } => json!({"path": path, "pid": pid, "problem": problem}),
            Error::Template { template, problem } => json!({"template": template, "problem": problem}),
            Error::Offline { cache, missing } => json!({"cache": cache, "missing": missing}),
            Error::Images(f) => json!({"images": f}),
            Error::OsKey { name, fingerprint, reasons, .. } => json!({"key": name, "fingerprint": fingerprint, "reasons": reasons}),
            Error::OsPackages { key_name, fingerprint, refused } => json!({"key": key_name, "fingerprint": fingerprint, "refused": refused}),
            Error::Expiring { files, days } => json!({"certificates": files, "days": days}),
            Error::Unverified(u) => json!({"bundles": u}),
            Error::CacheDamaged(p) => json!({"files": p}),
            Error::Stage { .. } | Error::Package { .. } => Value::Null,
            Error::Input(_) | Error::Usage(_) | Error::Host(_) | Error::Internal(_) | Error::Injected => Value::Null,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "input",
            Error::Read { .. } => "read",
            Error::Write { .. } => "write",
            Error::ReadInput { .. } => "read-input",
            Error::Usage(_) => "usage",
            Error::Stage { source, .. } | Error::Package { source, .. } => source.kind(),
            Error::Pki { .. } => "pki",
            Error::SigningKey { .. } => "signing-key",
            Error::Damaged { .. } => "damaged",
            Error::Mismatch { .. } => "digest-mismatch",
            Error::Busy { .. } => "busy",
            Error::Lock { .. } => "lock",
            Error::Template { .. } => "template",
            Error::Offline { .. } => "offline",
            Error::Images(_) => "images",
            Error::OsKey { .. } => "os-key",
            Error::OsPackages { .. } => "os-packages",
            Error::Expiring { .. } => "expiring",
            Error::Unverified(_) => "unverified",
            Error::CacheDamaged(_) => "cache-damaged",
            Error::Host(_) => "host",
            Error::Internal(_) => "internal",
            Error::Injected => "injected",
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

    #[test]
    fn typed_failures_carry_their_facts_as_fields() {
        let img = ImageFailure {
            image: "pause".into(),
            version: "3.0".into(),
            reference: "k8s.gcr.io/pause-amd64:3.0".into(),
            digest: String::new(),
            reason: "401".into(),
        };
        let e = Error::Images(vec![img]).in_stage("images");
        assert_eq!(e.exit_code(), 1);
        let m = e.fields();
        assert_eq!((m["kind"].as_str(), m["stage"].as_str()), (Some("images"), Some("images")));
        assert_eq!(m["images"][0]["image"], "pause");
        assert!(chain(&e)[1].contains("pause 3.0 (k8s.gcr.io/pause-amd64:3.0, pinned on first pull): 401"), "{:?}", chain(&e));

        // A package's failure names the package and keeps its cause's kind, facts and exit code.
        let inner = Error::Damaged { path: "/c/x.rpm".into(), problem: "changed while it was copied".into() };
        let e = Error::Package { name: "k8s-node".into(), source: Box::new(inner) }.in_stage("packages");
        let m = e.fields();
        assert_eq!((m["kind"].as_str(), m["package"].as_str(), m["path"].as_str()), (Some("damaged"), Some("k8s-node"), Some("/c/x.rpm")));
        assert_eq!(chain(&e), ["stage packages failed", "package k8s-node", "/c/x.rpm: changed while it was copied"]);
        let nf = Error::ReadInput { path: "hosts.yaml".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) };
        assert_eq!(Error::Package { name: "p".into(), source: Box::new(nf) }.exit_code(), 2);

        let e = Error::Mismatch { path: "/x/f".into(), expected: "sha256:aa".into(), actual: "sha256:bb".into() };
        assert_eq!((e.fields()["expected_digest"].as_str(), e.fields()["actual_digest"].as_str()), (Some("sha256:aa"), Some("sha256:bb")));
    }
}
