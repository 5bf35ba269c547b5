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

/// `[name]`, `[name:kind]`, then blanks and an optional `# comment`; the group name holds no
/// blank, `:` or `]` (ansible-core lib/ansible/plugins/inventory/ini.py, patterns['section']).
fn section_header(t: &str) -> Option<(&str, Option<&str>)> {
    if !t.starts_with('[') {
        return None;
    }
    let inner_end = t.find(']')?;
    let inner = &t[1..inner_end];
    let rest = t[inner_end + 1..].trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    let name_ok = !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == ':' || c == ']');
    let kind_ok = kind.is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (name_ok && kind_ok).then_some((name, kind))
}

/// A line of a `:children` section: a group name, then blanks and an optional `# comment`.
fn child_name(t: &str) -> Option<&str> {
    let end = t.find(|c: char| c.is_whitespace() || c == '#').unwrap_or(t.len());
    let (name, rest) = t.split_at(end);
    let rest = rest.trim_start();
    (!name.is_empty() && !name.contains([':', ']']) && (rest.is_empty() || rest.starts_with('#'))).then_some(name)
}

pub fn read(text: &str, file: &Arc<PathBuf>) -> Result<RawInventory, Diagnostic> {
    if text.len() > crate::yaml::MAX_BYTES {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "file is too large to be an inventory"));
    }
    let mut inv = RawInventory::default();
    let mut section = Section::Hosts("ungrouped".to_string());
    let mut children_refs: Vec<(String, Loc)> = Vec::new();
    let mut vars_refs: Vec<(String, Loc)> = Vec::new();
    let mut saw_anything = false;
    let mut nvars = 0usize;
    for (i, line) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        let loc = Loc::new(file, lineno, indent as u32 + 1);
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        saw_anything = true;
        if let Some((name, kind)) = section_header(t) {
            if !valid_group_name(name) {
                inv.diags.error(Some(loc.clone()), format!("`{name}` is not a valid group name"));
            }
            section = match kind {
                None | Some("hosts") => Section::Hosts(name.to_string()),
                Some("vars") => Section::Vars(name.to_string()),
                Some("children") => Section::Children(name.to_string()),
                Some(other) => {
                    inv.diags.error(
                        Some(loc.clone()),
                        format!("section `{t}`: `{other}` is not a section type; use `[{name}]`, `[{name}:vars]` or `[{name}:children]`"),
                    );
                    Section::Hosts(name.to_string())
                }
            };
            // Only a hosts or children section declares a group; `[x:vars]` alone is an error
            // in Ansible ("not valid for undefined group").
            if matches!(section, Section::Vars(_)) {
                inv.group_mut(name, Some(&loc));
                vars_refs.push((name.to_string(), loc));
            } else {
                inv.declare(name, &loc);
            }
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            inv.diags
                .error(Some(loc), format!("section header `{t}` is not valid: a group name holds no blanks, `:` or `]`"))
                .notes
                .push("help: write it as `[group]`, `[group:vars]` or `[group:children]` with no spaces inside the brackets".into());
            continue;
        }
        match &section {
            Section::Hosts(g) => {
                let g = g.clone();
                nvars += host_line(&mut inv, &g, t, &loc);
            }
            Section::Children(g) => {
                let Some(child) = child_name(t) else {
                    inv.diags.error(Some(loc.clone()), format!("`{t}` in `[{g}:children]` is not a group name"));
                    continue;
                };
                if !valid_group_name(child) {
                    inv.diags.error(Some(loc.clone()), format!("`{child}` in `[{g}:children]` is not a valid group name"));
                    continue;
                }
                let g = g.clone();
                inv.group_mut(&g, None).children.push((child.to_string(), loc.clone()));
                children_refs.push((child.to_string(), loc.clone()));
            }
            Section::Vars(g) => {
                let Some((k, v)) = t.split_once('=') else {
                    inv.diags.error(Some(loc.clone()), format!("expected `key=value` in `[{g}:vars]`, found `{t}`"));
                    continue;
                };
                let k = k.trim().to_string();
                let vloc = Loc::new(file, lineno, (line.find('=').unwrap_or(0) + 2) as u32);
                let node = parse_value(v.trim(), &vloc, Origin::IniVars);
                let g = g.clone();
                nvars += 1;
                // The last of two equal keys wins: readers insert in order.
                inv.group_mut(&g, None).vars.push((k, node));
            }
        }
        if nvars > super::MAX_VARS {
            return Err(Diagnostic::error(Some(loc), format!("the inventory sets more than {} variables; refusing to read it", super::MAX_VARS)));
        }
        if inv.hosts.len() > super::MAX_HOSTS {
            return Err(Diagnostic::error(Some(loc), format!("the inventory defines more than {} hosts; refusing to read it", super::MAX_HOSTS)));
        }
    }
    if !saw_anything {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "this file is not an inventory: it is empty"));
    }
    // In INI a child group must be defined somewhere in the file (Ansible errors too).
    for (child, loc) in children_refs {
        let declared = inv.groups.get(super::raw::canonical_group(&child)).is_some_and(|g| g.declared && g.spelled == child);
        if !declared {
            inv.diags
                .error(Some(loc), format!("group `{child}` is listed as a child but never defined in this file"))
                .notes
                .push(format!("help: add a `[{child}]` section with its hosts, or remove the line"));
        }
    }
    for (g, loc) in vars_refs {
        // By its spelling: `[k8s-cluster:vars]` does not set vars of a declared `k8s_cluster`.
        let declared = g == "all" || g == "ungrouped" || inv.groups.get(super::raw::canonical_group(&g)).is_some_and(|x| x.declared && x.spelled == g);
        if !declared {
            inv.diags
                .error(Some(loc), format!("section `[{g}:vars]` sets variables for group `{g}`, which no `[{g}]` or `[{g}:children]` section defines"))
                .notes
                .push(format!("help: Ansible refuses this too; add a `[{g}]` section or fix the group name"));
        }
    }
    Ok(inv)
}

/// `name key=value key2="two words"  # comment`; gives the number of variables set.
fn host_line(inv: &mut RawInventory, group: &str, line: &str, loc: &Loc) -> usize {
    let tokens = match shlex_with_comments(line) {
        Ok(t) => t,
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
            return 0;
        }
    };
    let Some((first, rest)) = tokens.split_first() else {
        return 0;
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
    let (pattern_text, port) = match pattern::split_port(&first.0) {
        Ok(x) => x,
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
            return 0;
        }
    };
    if let Some(p) = port {
        vars.push(("ansible_port".to_string(), crate::value::Node::new(crate::value::Kind::Int(p.into()), loc.clone(), Origin::IniHost)));
    }
    let n = vars.len();
    match pattern::expand(pattern_text) {
        Ok(names) => {
            if names.iter().any(|n| n.trim() == "---") {
                inv.diags
                    .error(Some(loc.clone()), "`---` is not a host name: it starts a YAML document, but this file is read as INI")
                    .notes
                    .push("help: name the file `.yml`/`.yaml` if it is YAML (Ansible refuses it as INI too)".into());
                return 0;
            }
            let count = names.len();
            for name in names {
                inv.add_host(group, &name, loc, if vars.is_empty() && rest.is_empty() { None } else { Some(vars.clone()) });
            }
            n * count
        }
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
            0
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
            // Python's shlex (posix): inside double quotes a backslash escapes only `"` and `\\`.
            Some('"') if c == '\\' => match chars.peek() {
                Some((_, n)) if *n == '"' || *n == '\\' => {
                    cur.push(*n);
                    chars.next();
                }
                _ => cur.push(c),
            },
            Some(_) => cur.push(c),
            None => match c {
                ' ' | '\t' => {
                    if let Some(s) = start.take() {
                        out.push((std::mem::take(&mut cur), s));
                    }
                }
                // Python's shlex with comments=True: `#` starts a comment even inside a word.
                '#' => break,
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
