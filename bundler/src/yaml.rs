//! The only module that reads YAML. Inventories and variable files become located
//! [`Node`] trees typed the way Ansible (PyYAML, YAML 1.1) types them; typed documents
//! such as the artifact catalog go through serde. Hostile input is refused early:
//! size, nesting depth and alias expansion are all bounded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{Diagnostic, Loc};
use crate::value::{Kind, Node, Origin};

/// Inputs larger than this are refused before parsing.
pub const MAX_BYTES: usize = 8 << 20;
/// Total nodes a document may produce, counting every alias expansion.
pub const MAX_NODES: usize = 250_000;
/// Deepest nesting of mappings and lists.
pub const MAX_DEPTH: usize = 64;

fn loc_of(file: &Arc<PathBuf>, m: &Marker) -> Loc {
    // yaml-rust2 reports 0-based columns; editors and compilers speak 1-based.
    Loc::new(file, m.line() as u32, m.col() as u32 + 1)
}

enum Frame {
    Seq(Vec<Node>, Loc, usize),
    Map(Vec<(String, Loc, Node)>, Option<(String, Loc)>, Loc, usize),
}

/// Parse one YAML document into a located tree. An empty document gives `Kind::Null`.
pub fn parse(text: &str, file: &Arc<PathBuf>) -> Result<Node, Diagnostic> {
    let whole = Loc::file_only(file);
    if text.len() > MAX_BYTES {
        return Err(Diagnostic::error(Some(whole), format!("file is {} bytes; bundler reads YAML files up to {} bytes", text.len(), MAX_BYTES))
            .note("help: an inventory or variables file this large is almost certainly not one; check the path"));
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut result: Option<Node> = None;
    let mut docs = 0;

    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                return Err(Diagnostic::error(Some(loc_of(file, m)), format!("this is not valid YAML: {}", e.info())));
            }
        };
        let loc = loc_of(file, &mark);
        let finished: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart => {
                docs += 1;
                if docs > 1 {
                    return Err(Diagnostic::error(Some(loc), "the file holds more than one YAML document")
                        .note("help: an inventory is a single document; remove the extra `---`"));
                }
                None
            }
            Event::StreamEnd => break,
            Event::Alias(id) => {
                let Some(n) = anchors.get(&id) else {
                    return Err(Diagnostic::error(Some(loc), "alias refers to an unknown anchor"));
                };
                nodes += count(n);
                if nodes > MAX_NODES {
                    return Err(too_big(loc));
                }
                let mut n = n.clone();
                n.loc = loc;
                Some((n, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(too_big(loc));
                }
                Some((scalar(&text, style, tag.as_ref(), loc), anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(loc));
                }
                stack.push(Frame::Seq(Vec::new(), loc, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(loc));
                }
                stack.push(Frame::Map(Vec::new(), None, loc, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, l, anchor)) => {
                    nodes += 1;
                    Some((Node::new(Kind::Seq(items), l, Origin::Yaml), anchor))
                }
                _ => unreachable!("parser emits balanced events"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, l, anchor)) => {
                    nodes += 1;
                    Some((Node::new(Kind::Map(apply_merge_keys(entries)?), l, Origin::Yaml), anchor))
                }
                _ => unreachable!("parser emits balanced events"),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => result = Some(node),
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(entries, pending, _, _)) => match pending.take() {
                None => {
                    let key = match &node.kind {
                        Kind::Str(s) => s.clone(),
                        Kind::Null => String::new(),
                        Kind::Seq(_) | Kind::Map(_) => {
                            return Err(Diagnostic::error(Some(node.loc), "a mapping key must be a plain value, not a list or mapping"))
                        }
                        _ => node.scalar_text().unwrap_or_default(),
                    };
                    if key != "<<" {
                        if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == key) {
                            return Err(Diagnostic::error(
                                Some(node.loc.clone()),
                                format!("key `{key}` appears twice in one mapping (first at line {})", first.line),
                            )
                            .note("help: YAML keeps only the last one, which is rarely what was meant; merge the two entries"));
                        }
                    }
                    *pending = Some((key, node.loc));
                }
                Some((key, kloc)) => entries.push((key, kloc, node)),
            },
        }
    }
    Ok(result.unwrap_or_else(|| Node::new(Kind::Null, Loc::new(file, 1, 1), Origin::Yaml)))
}

fn too_big(loc: Loc) -> Diagnostic {
    Diagnostic::error(Some(loc), format!("the document expands to more than {MAX_NODES} values (aliases included); refusing to read it"))
        .note("note: this is the shape of a YAML alias bomb; a real inventory is far smaller")
}

fn too_deep(loc: Loc) -> Diagnostic {
    Diagnostic::error(Some(loc), format!("values are nested more than {MAX_DEPTH} levels deep; refusing to read it"))
}

fn count(n: &Node) -> usize {
    match &n.kind {
        Kind::Seq(v) => 1 + v.iter().map(count).sum::<usize>(),
        Kind::Map(m) => 1 + m.iter().map(|(_, _, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// `<<: *base` and `<<: [*a, *b]`: keys of the merged mappings that the mapping lacks.
fn apply_merge_keys(entries: Vec<(String, Loc, Node)>) -> Result<Vec<(String, Loc, Node)>, Diagnostic> {
    if !entries.iter().any(|(k, _, _)| k == "<<") {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged = Vec::new();
    for (k, l, v) in entries {
        if k == "<<" {
            let sources = match v.kind {
                Kind::Map(_) => vec![v],
                Kind::Seq(items) => items,
                _ => return Err(Diagnostic::error(Some(v.loc), "`<<` must merge a mapping or a list of mappings")),
            };
            for s in sources {
                match s.kind {
                    Kind::Map(m) => merged.extend(m),
                    _ => return Err(Diagnostic::error(Some(s.loc), "`<<` must merge a mapping or a list of mappings")),
                }
            }
        } else {
            own.push((k, l, v));
        }
    }
    for (k, l, v) in merged {
        if !own.iter().any(|(o, _, _)| *o == k) {
            own.push((k, l, v));
        }
    }
    Ok(own)
}

fn scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>, loc: Loc) -> Node {
    if let Some(t) = tag {
        if t.handle == "!" && t.suffix == "vault" {
            return Node::new(Kind::Vault(text.to_string()), loc, Origin::Yaml);
        }
        if t.suffix == "str" || t.suffix == "unsafe" {
            return Node::str(text, loc, Origin::Yaml);
        }
    }
    if style != TScalarStyle::Plain {
        return Node::str(text, loc, Origin::Yaml);
    }
    let kind = resolve_plain(text);
    let raw = match &kind {
        Kind::Str(_) => None,
        _ => Some(text.to_string()),
    };
    Node { kind, loc, origin: Origin::Yaml, raw }
}

/// YAML 1.1 implicit typing as PyYAML (and so Ansible) does it.
pub fn resolve_plain(t: &str) -> Kind {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Kind::Bool(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Kind::Bool(false),
        _ => {}
    }
    if let Some(i) = yaml11_int(t) {
        return Kind::Int(i);
    }
    if let Some(f) = yaml11_float(t) {
        return Kind::Float(f);
    }
    Kind::Str(t.to_string())
}

fn split_sign(t: &str) -> (i64, &str) {
    match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    }
}

fn yaml11_int(t: &str) -> Option<i64> {
    let (sign, body) = split_sign(t);
    if body.is_empty() {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let v = if let Some(b) = body.strip_prefix("0b") {
        if b.is_empty() || !b.chars().all(|c| c == '0' || c == '1' || c == '_') {
            return None;
        }
        i64::from_str_radix(&clean[2..], 2).ok()?
    } else if let Some(h) = body.strip_prefix("0x") {
        if h.is_empty() || !h.chars().all(|c| c.is_ascii_hexdigit() || c == '_') {
            return None;
        }
        i64::from_str_radix(&clean[2..], 16).ok()?
    } else if body.contains(':') {
        // sexagesimal: 1:30 is 90
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| ('1'..='9').contains(&c)) || !first.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        let mut v: i64 = first.replace('_', "").parse().ok()?;
        for p in parts {
            if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<i64>().ok()? > 59 {
                return None;
            }
            v = v.checked_mul(60)?.checked_add(p.parse().ok()?)?;
        }
        v
    } else if body.len() > 1 && body.starts_with('0') {
        if !body.chars().all(|c| ('0'..='7').contains(&c) || c == '_') {
            return None;
        }
        i64::from_str_radix(&clean, 8).ok()?
    } else {
        if !body.starts_with(|c: char| c.is_ascii_digit()) || !body.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        clean.parse().ok()?
    };
    v.checked_mul(sign)
}

fn yaml11_float(t: &str) -> Option<f64> {
    let (sign, body) = split_sign(t);
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign as f64 * f64::INFINITY),
        _ => {}
    }
    if matches!(t, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    // [0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  or  \.[0-9_]+([eE][-+][0-9]+)?
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let dot = mantissa.find('.')?;
    let (int, frac) = (&mantissa[..dot], &mantissa[dot + 1..]);
    let ok_int = int.is_empty() || (int.starts_with(|c: char| c.is_ascii_digit()) && int.chars().all(|c| c.is_ascii_digit() || c == '_'));
    let ok_frac = frac.chars().all(|c| c.is_ascii_digit() || c == '_') && (!int.is_empty() || !frac.is_empty());
    if !ok_int || !ok_frac || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    if let Some(e) = exp {
        let (_, digits) = split_sign(e);
        if !(e.starts_with('+') || e.starts_with('-')) || digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let v: f64 = clean.parse().ok()?;
    Some(sign as f64 * v)
}

/// Write a typed document (kubeconfigs, manifests) as YAML.
pub fn to_string<T: serde::Serialize>(v: &T) -> String {
    serde_yaml::to_string(v).expect("plain data serialises")
}

/// Read a typed document (the artifact catalog) with serde, mapping errors to a location.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str, file: &std::path::Path) -> Result<T, Diagnostic> {
    if text.len() > MAX_BYTES {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "file is too large to be a catalog"));
    }
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location().map(|l| Loc::new(&Arc::new(file.to_path_buf()), l.line() as u32, l.column() as u32));
        let msg = e.to_string();
        // serde_yaml appends " at line X column Y"; the location is printed in front already.
        let msg = match msg.find(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        Diagnostic::error(loc.or_else(|| Some(Loc::file_only(file))), msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Node, Diagnostic> {
        parse(s, &Arc::new(PathBuf::from("t.yaml")))
    }

    #[test]
    fn yaml11_typing() {
        assert!(matches!(resolve_plain("1.30"), Kind::Float(f) if (f - 1.3).abs() < 1e-9));
        assert!(matches!(resolve_plain("yes"), Kind::Bool(true)));
        assert!(matches!(resolve_plain("Off"), Kind::Bool(false)));
        assert!(matches!(resolve_plain("010"), Kind::Int(8)));
        assert!(matches!(resolve_plain("1:30"), Kind::Int(90)));
        assert!(matches!(resolve_plain("0x1f"), Kind::Int(31)));
        assert!(matches!(resolve_plain("1e3"), Kind::Str(_)));
        assert!(matches!(resolve_plain("v1.9.11"), Kind::Str(_)));
        assert!(matches!(resolve_plain("192.168.0.1"), Kind::Str(_)));
        assert!(matches!(resolve_plain("~"), Kind::Null));
        assert!(matches!(resolve_plain("y"), Kind::Str(_)));
    }

    #[test]
    fn locations_are_one_based() {
        let n = p("all:\n  hosts:\n    node1:\n").unwrap();
        let all = n.get("all").unwrap();
        let hosts = all.get("hosts").unwrap();
        let (k, kloc, v) = &hosts.as_map().unwrap()[0];
        assert_eq!(k, "node1");
        assert_eq!((kloc.line, kloc.col), (3, 5));
        assert!(v.is_null());
    }

    #[test]
    fn merge_keys_and_aliases() {
        let n = p("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n").unwrap();
        let x = n.get("x").unwrap();
        assert!(matches!(x.get("a").unwrap().kind, Kind::Int(1)));
        assert!(matches!(x.get("b").unwrap().kind, Kind::Int(3)));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            s.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        let e = p(&s).unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(10_000);
        assert!(p(&s).is_err());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = p("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.loc.unwrap().line, 3);
        assert!(e.message.contains("appears twice"));
    }
}
