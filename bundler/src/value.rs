//! Located values: what the YAML and INI readers produce, so every later check can point
//! at the file, line and column a value came from.

use crate::error::Loc;

/// Where a value was written, which changes how it was typed and what a good message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Yaml,
    /// `key=value` in an INI `[group:vars]` section: a trailing `# ...` stays in the value.
    IniVars,
    /// `key=value` on an INI host line.
    IniHost,
    /// A default of this tool, not written by the user.
    Default,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// An inline `!vault` value: ciphertext bundler cannot open; reading it is an error.
    Vault(String),
    Seq(Vec<Node>),
    /// Keys keep their text and where they were written.
    Map(Vec<(String, Loc, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: Kind,
    pub loc: Loc,
    pub origin: Origin,
    /// The scalar as written, when typing changed it (`1.30` read as the number 1.3).
    pub raw: Option<String>,
}

impl Node {
    pub fn new(kind: Kind, loc: Loc, origin: Origin) -> Node {
        Node { kind, loc, origin, raw: None }
    }
    pub fn str(s: &str, loc: Loc, origin: Origin) -> Node {
        Node::new(Kind::Str(s.to_string()), loc, origin)
    }
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "an empty value",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Vault(_) => "an ansible-vault encrypted value",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
    pub fn as_map(&self) -> Option<&[(String, Loc, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
    /// The scalar's text as a user wrote it, or its canonical form.
    pub fn scalar_text(&self) -> Option<String> {
        if let Some(r) = &self.raw {
            return Some(r.clone());
        }
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}
