//! Ansible types INI values with Python's `ast.literal_eval`: `24` is an int, `True` a bool,
//! `"x"` a string without quotes, `[1, 2]` a list; anything it cannot read stays a string
//! (so `true` and `v1.9.2 # pinned` are strings).

use crate::error::Loc;
use crate::value::{Kind, Node, Origin};

pub fn parse_value(text: &str, loc: &Loc, origin: Origin) -> Node {
    let mut p = P { s: text.as_bytes(), i: 0, loc, origin, depth: 0 };
    let parsed = p.value().and_then(|v| {
        p.ws();
        if p.comment_or_end() {
            Some(v)
        } else {
            None
        }
    });
    match parsed {
        Some(mut n) => {
            if !matches!(n.kind, Kind::Str(_)) {
                n.raw = Some(text.to_string());
            }
            n
        }
        None => Node::str(text, loc.clone(), origin),
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    loc: &'a Loc,
    origin: Origin,
    depth: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] == b' ' || self.s[self.i] == b'\t') {
            self.i += 1;
        }
    }
    fn comment_or_end(&self) -> bool {
        self.i == self.s.len() || self.s[self.i] == b'#'
    }
    fn node(&self, kind: Kind) -> Node {
        Node::new(kind, self.loc.clone(), self.origin)
    }
    fn value(&mut self) -> Option<Node> {
        self.ws();
        self.depth += 1;
        if self.depth > 32 {
            return None;
        }
        let c = *self.s.get(self.i)?;
        let r = match c {
            b'\'' | b'"' => self.string(c),
            b'[' | b'(' => self.seq(if c == b'[' { b']' } else { b')' }),
            b'{' => self.dict(),
            _ => self.atom(),
        };
        self.depth -= 1;
        r
    }
    fn string(&mut self, q: u8) -> Option<Node> {
        self.i += 1;
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if c == q {
                return Some(self.node(Kind::Str(String::from_utf8(out).ok()?)));
            }
            if c == b'\\' {
                let e = *self.s.get(self.i)?;
                self.i += 1;
                out.push(match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'\\' | b'\'' | b'"' => e,
                    _ => return None,
                });
            } else {
                out.push(c);
            }
        }
        None
    }
    fn seq(&mut self, close: u8) -> Option<Node> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                return Some(self.node(Kind::Seq(items)));
            }
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i)? {
                b',' => self.i += 1,
                c if *c == close => {}
                _ => return None,
            }
        }
    }
    fn dict(&mut self) -> Option<Node> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&b'}') {
                self.i += 1;
                return Some(self.node(Kind::Map(items)));
            }
            let k = self.value()?;
            let key = k.scalar_text()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return None;
            }
            self.i += 1;
            let v = self.value()?;
            items.push((key, self.loc.clone(), v));
            self.ws();
            match self.s.get(self.i)? {
                b',' => self.i += 1,
                b'}' => {}
                _ => return None,
            }
        }
    }
    fn atom(&mut self) -> Option<Node> {
        let start = self.i;
        while self.i < self.s.len() && !b" \t,]})#:".contains(&self.s[self.i]) {
            self.i += 1;
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        match t {
            "True" => return Some(self.node(Kind::Bool(true))),
            "False" => return Some(self.node(Kind::Bool(false))),
            "None" => return Some(self.node(Kind::Null)),
            _ => {}
        }
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        let clean = body.replace('_', "");
        if body.chars().all(|c| c.is_ascii_digit() || c == '_') {
            // Python 3 rejects leading zeros in decimal literals (`010`).
            if body.len() > 1 && body.starts_with('0') && body.chars().any(|c| c != '0' && c != '_') {
                return None;
            }
            let v: i64 = clean.parse().ok()?;
            return Some(self.node(Kind::Int(if neg { -v } else { v })));
        }
        if body.chars().all(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | 'e' | 'E' | '+' | '-')) && body.matches('.').count() <= 1 {
            let v: f64 = clean.parse().ok()?;
            return Some(self.node(Kind::Float(if neg { -v } else { v })));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn pv(s: &str) -> Kind {
        parse_value(s, &Loc::new(&Arc::new(PathBuf::from("x")), 1, 1), Origin::IniVars).kind
    }

    #[test]
    fn python_literals() {
        assert!(matches!(pv("24"), Kind::Int(24)));
        assert!(matches!(pv("True"), Kind::Bool(true)));
        assert!(matches!(pv("true"), Kind::Str(s) if s == "true"));
        assert!(matches!(pv("\"v1.9.2\""), Kind::Str(s) if s == "v1.9.2"));
        assert!(matches!(pv("v1.9.2 # pinned"), Kind::Str(s) if s == "v1.9.2 # pinned"));
        assert!(matches!(pv("'v1.9.2' # pinned"), Kind::Str(s) if s == "v1.9.2"));
        assert!(matches!(pv("[1, 'a']"), Kind::Seq(v) if v.len() == 2));
        assert!(matches!(pv("{'address': '10.0.0.1', 'port': 443}"), Kind::Map(v) if v.len() == 2));
        assert!(matches!(pv("192.168.0.1"), Kind::Str(_)));
        assert!(matches!(pv("010"), Kind::Str(_)));
        assert!(matches!(pv("1.30"), Kind::Float(_)));
    }
}
