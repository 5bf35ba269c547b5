//! Reads the INI inventory form the way Ansible's ini plugin does: `[group]`,
//! `[group:vars]`, `[group:children]`, `#`/`;` comment lines, host ranges, and values typed
//! by a Python-literal reader.

use std::path::PathBuf;
use std::sync::Arc;

use super::pattern;
use super::pyliteral::parse_value;
use super::raw::{valid_group_name, RawInventory};
use crate::error::{Diagnostic, Loc};
use crate::value::Origin;

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

pub fn read(text: &str, file: &Arc<PathBuf>) -> Result<RawInventory, Diagnostic> {
    if text.len() > crate::yaml::MAX_BYTES {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "file is too large to be an inventory"));
    }
    let mut inv = RawInventory::default();
    let mut section = Section::Hosts("ungrouped".to_string());
    let mut children_refs: Vec<(String, Loc)> = Vec::new();
    let mut saw_anything = false;
    for (i, line) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        let loc = Loc::new(file, lineno, indent as u32 + 1);
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        saw_anything = true;
        if t.starts_with('[') {
            let Some(inner) = t.strip_suffix(']').map(|s| &s[1..]) else {
                inv.diags.error(Some(loc), format!("section header `{t}` has no closing `]`"));
                continue;
            };
            let (name, kind) = match inner.split_once(':') {
                Some((n, k)) => (n.trim(), Some(k.trim())),
                None => (inner.trim(), None),
            };
            if !valid_group_name(name) {
                inv.diags.error(Some(loc.clone()), format!("`{name}` is not a valid group name"));
            }
            let g = inv.group_mut(name, Some(&loc));
            g.declared = true;
            section = match kind {
                None => Section::Hosts(name.to_string()),
                Some("vars") => Section::Vars(name.to_string()),
                Some("children") => Section::Children(name.to_string()),
                Some(other) => {
                    inv.diags.error(
                        Some(loc),
                        format!("section `[{inner}]`: `{other}` is not a section type; use `[{name}]`, `[{name}:vars]` or `[{name}:children]`"),
                    );
                    Section::Hosts(name.to_string())
                }
            };
            continue;
        }
        match &section {
            Section::Hosts(g) => {
                let g = g.clone();
                host_line(&mut inv, &g, t, &loc);
            }
            Section::Children(g) => {
                let child = t.to_string();
                if !valid_group_name(&child) {
                    inv.diags.error(Some(loc), format!("`{child}` in `[{g}:children]` is not a valid group name"));
                    continue;
                }
                let g = g.clone();
                inv.group_mut(&g, None).children.push((child.clone(), loc.clone()));
                children_refs.push((child, loc));
            }
            Section::Vars(g) => {
                let Some((k, v)) = t.split_once('=') else {
                    inv.diags.error(Some(loc), format!("expected `key=value` in `[{g}:vars]`, found `{t}`"));
                    continue;
                };
                let k = k.trim().to_string();
                let vloc = Loc::new(file, lineno, (line.find('=').unwrap_or(0) + 2) as u32);
                let node = parse_value(v.trim(), &vloc, Origin::IniVars);
                let g = g.clone();
                let grp = inv.group_mut(&g, None);
                grp.vars.retain(|(o, _)| *o != k);
                grp.vars.push((k, node));
            }
        }
    }
    if !saw_anything {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "this file is not an inventory: it is empty"));
    }
    // In INI a child group must be defined somewhere in the file (Ansible errors too).
    for (child, loc) in children_refs {
        let declared = inv.groups.get(super::raw::canonical_group(&child)).is_some_and(|g| g.declared);
        if !declared {
            inv.diags
                .error(Some(loc), format!("group `{child}` is listed as a child but never defined in this file"))
                .notes
                .push(format!("help: add a `[{child}]` section with its hosts, or remove the line"));
        }
    }
    Ok(inv)
}

/// `name key=value key2="two words"  # comment`
fn host_line(inv: &mut RawInventory, group: &str, line: &str, loc: &Loc) {
    let tokens = match shlex_with_comments(line) {
        Ok(t) => t,
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
            return;
        }
    };
    let Some((first, rest)) = tokens.split_first() else {
        return;
    };
    let mut vars = Vec::new();
    for (tok, col) in rest {
        let vloc = Loc::new(&loc.file, loc.line, *col as u32 + 1);
        match tok.split_once('=') {
            Some((k, v)) if !k.is_empty() => vars.push((k.to_string(), parse_value(v, &vloc, Origin::IniHost))),
            _ => {
                let mut d = Diagnostic::error(Some(vloc), format!("expected `key=value` after host `{}`, found `{tok}`", first.0));
                if tok.starts_with(';') {
                    d = d.note("note: on a host line only ` # ...` starts a comment; Ansible rejects ` ; ...` there too");
                }
                inv.diags.push(d);
            }
        }
    }
    match pattern::expand(&first.0) {
        Ok(names) => {
            for n in names {
                inv.add_host(group, &n, loc, if vars.is_empty() && rest.is_empty() { None } else { Some(vars.clone()) });
            }
        }
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
        }
    }
}

/// POSIX shell-like splitting with `#` comments, giving each token's starting column.
fn shlex_with_comments(line: &str) -> Result<Vec<(String, usize)>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut chars = line.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => {
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            Some(_) => cur.push(c),
            None => match c {
                ' ' | '\t' => {
                    if let Some(s) = start.take() {
                        out.push((std::mem::take(&mut cur), s));
                    }
                }
                '#' if start.is_none() => break,
                '\'' | '"' => {
                    start.get_or_insert(i);
                    quote = Some(c);
                }
                '\\' => {
                    start.get_or_insert(i);
                    if let Some((_, n)) = chars.next() {
                        cur.push(n);
                    }
                }
                _ => {
                    start.get_or_insert(i);
                    cur.push(c);
                }
            },
        }
    }
    if quote.is_some() {
        return Err("unterminated quote on this host line".to_string());
    }
    if let Some(s) = start {
        out.push((cur, s));
    }
    Ok(out)
}
