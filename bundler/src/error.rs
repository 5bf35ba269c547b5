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

/// The library's error. `exit_code` maps it onto the CLI contract (2 = bad input, 1 = failure).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", render_diags(.0))]
    Input(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
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
            Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 2,
            _ => 1,
        }
    }
    pub fn input(d: Diagnostic) -> Error {
        Error::Input(Diagnostics(vec![d]))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
