//! A lint of every shell line and unit line the packages carry against the versions CentOS 7.4
//! runs: every unit directive is one systemd 219 (rhel-7.4) knows, and every option a helper
//! script, operator tool, installer or scriptlet passes to a host tool exists in that tool's el7
//! version. The option lists under specs/reference/el7-options/ were read from the upstream
//! sources at those versions (each file names its tag and commit; scripts/el7-options.py made them):
//! coreutils, util-linux's flock, iproute, curl, rpm, yum, systemctl, grep, sed, gawk, kmod's
//! modprobe, procps-ng's sysctl, shadow-utils, getenforce, bash (as sh), hostname, xfsprogs'
//! xfs_info, glibc's getent, and openssl 1.0.2k per subcommand, as el7's source rpm patches it.
//! A tool whose el7 source cannot be had goes in UNCHECKED, with the reason; none is there today.

use std::collections::{BTreeMap, BTreeSet};

use crate::render::{plan_of, rendered};
use crate::util::root;

/// How a tool parses its options.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    /// getopt_long / popt / optparse: `-abc` is a cluster of short options, `--name[=v]` long.
    Getopt,
    /// iproute's ip: `-name` matched by any prefix of the names it lists.
    Prefix,
    /// Go's flag package (etcdctl in v2 mode): `-name` and `--name` are the same long option.
    GoFlag,
    /// spf13/pflag (etcdctl in v3 mode): `--name[=v]` long; `-x` a one-letter shorthand.
    Pflag,
    /// openssl 1.0.2k's apps: `openssl SUBCOMMAND -name`, every option a single-dash long word,
    /// matched whole (apps/*.c `strcmp(*argv, "-name")`); one of them may take the next word.
    Single,
}

struct Tool {
    style: Style,
    /// Short options, and whether each takes an argument.
    short: BTreeMap<char, bool>,
    /// Short options whose argument is optional: only the rest of their cluster (`sed -i.bak`).
    optional: BTreeSet<char>,
    long: BTreeSet<String>,
    /// Single-dash long options that take the next word (openssl).
    takes_arg: BTreeSet<String>,
    /// getopt string starting with `+`: options end at the first operand (`timeout 3 bash -c`).
    stops_at_operand: bool,
    source: String,
}

/// The host tools with a reference list: tool name -> options, from specs/reference.
fn tools() -> BTreeMap<String, Tool> {
    let mut out: BTreeMap<String, Tool> = BTreeMap::new();
    let dir = root().join("specs/reference/el7-options");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(e.path()).unwrap();
        assert!(text.starts_with("# "), "{file}: must start with where it was read");
        for l in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (tool, opt) = l.split_once('\t').unwrap_or_else(|| panic!("{file}: bad line {l:?}"));
            // openssl's lines name the subcommand too ("openssl req"), or list digest or cipher names.
            let style = match tool {
                "ip" => Style::Prefix,
                t if t.starts_with("openssl ") => Style::Single,
                _ => Style::Getopt,
            };
            let t = out.entry(tool.to_string()).or_insert_with(|| Tool {
                style,
                short: BTreeMap::new(),
                optional: BTreeSet::new(),
                long: BTreeSet::new(),
                takes_arg: BTreeSet::new(),
                stops_at_operand: false,
                source: file.clone(),
            });
            if opt == "+" {
                t.stops_at_operand = true;
                continue;
            }
            // A tool that parses no options (getenforce): the entry only names it.
            if opt == "(none)" {
                continue;
            }
            if style == Style::Single {
                let (name, arg) = opt.strip_suffix(" ARG").map_or((opt, false), |n| (n, true));
                let name = if tool.starts_with("openssl (") { name } else { name.strip_prefix('-').unwrap_or_else(|| panic!("{file}: {l:?}")) };
                t.long.insert(name.to_string());
                if arg {
                    t.takes_arg.insert(name.to_string());
                }
                continue;
            }
            let (name, arg, optional) = match (opt.strip_suffix(" ARG"), opt.strip_suffix(" OPTARG")) {
                (Some(n), _) => (n, true, false),
                (_, Some(n)) => (n, false, true),
                _ => (opt, false, false),
            };
            if let Some(long) = name.strip_prefix("--") {
                t.long.insert(long.to_string());
            } else if style == Style::Prefix {
                t.long.insert(name.trim_start_matches('-').to_string());
            } else {
                let c = name.strip_prefix('-').and_then(|c| c.chars().next()).unwrap_or_else(|| panic!("{file}: {l:?}"));
                t.short.insert(c, arg);
                if optional {
                    t.optional.insert(c);
                }
            }
        }
    }
    // openssl: `-DIGEST` / `-CIPHER` in a subcommand's list stand for every digest / cipher name
    // EVP_get_*byname finds (dgst -sha256, rsa -aes256), listed as `openssl (digest)` / `openssl (cipher)`.
    for (placeholder, names) in [("DIGEST", "openssl (digest)"), ("CIPHER", "openssl (cipher)")] {
        let names: Vec<String> = out.get(names).map(|t| t.long.iter().cloned().collect()).unwrap_or_default();
        for (tool, t) in out.iter_mut().filter(|(k, _)| k.starts_with("openssl ")) {
            if t.long.remove(placeholder) {
                assert!(!names.is_empty(), "{tool}: -{placeholder} but no names to stand for");
                t.long.extend(names.iter().cloned());
            }
        }
    }
    // etcdctl v2 (etcd 3.0.17): global and per-command flags, from the flag lists.
    let mut etcdctl = Tool {
        style: Style::GoFlag,
        short: BTreeMap::new(),
        optional: BTreeSet::new(),
        long: BTreeSet::new(),
        takes_arg: BTreeSet::new(),
        stops_at_operand: false,
        source: "flags/etcdctl-v2-3.0.17*.txt".into(),
    };
    for f in ["etcdctl-v2-3.0.17.txt", "etcdctl-v2-3.0.17.commands.txt"] {
        let text = std::fs::read_to_string(root().join("specs/reference/flags").join(f)).unwrap();
        for l in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let names = l.split('\t').next_back().unwrap();
            etcdctl.long.extend(names.split(',').map(|n| n.trim().to_string()).filter(|n| !n.starts_with('(') && n != "-"));
        }
    }
    out.insert("etcdctl".into(), etcdctl);
    // etcdctl v3 (ETCDCTL_API=3 in its environment; etcd 3.0.17): one list, globals and command flags.
    let f = "etcdctl-v3-3.0.17.txt";
    let mut v3 = Tool {
        style: Style::Pflag,
        short: BTreeMap::new(),
        optional: BTreeSet::new(),
        long: BTreeSet::new(),
        takes_arg: BTreeSet::new(),
        stops_at_operand: false,
        source: format!("flags/{f}"),
    };
    let text = std::fs::read_to_string(root().join("specs/reference/flags").join(f)).unwrap();
    assert!(text.starts_with("# "), "{f}: must start with where it was read");
    for l in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let name = l.split('\t').next_back().unwrap().trim();
        match name.chars().count() {
            _ if name == "-" => {}
            1 => {
                v3.short.insert(name.chars().next().unwrap(), false);
            }
            _ => {
                v3.long.insert(name.to_string());
            }
        }
    }
    out.insert(ETCDCTL_V3.into(), v3);
    out
}

/// The key of etcdctl's v3-mode list in [`tools`].
const ETCDCTL_V3: &str = "etcdctl (ETCDCTL_API=3)";

/// Host tools used by our scripts whose options are not checked yet, with their el7 version and
/// why: a tool in neither list fails the lint, so a new one cannot slip in unlisted. Empty: the
/// last three (hostname 3.13, xfs_info of xfsprogs 4.5.0, getent of glibc 2.17) now have lists.
const UNCHECKED: &[(&str, &str, &str)] = &[];

/// Ours (bundled, pinned, flag-checked elsewhere) or the shell's own.
const NOT_HOST_TOOLS: &[&str] = &[
    "kubectl", "docker", "dockerd", "kubelet", "flanneld", "etcd", "[", "test", "echo", "printf", "exit", "return", "set", "shift", "export", "read", "cd",
    "pwd", "trap", "command", "exec", "wait", "true", "false", "break", "continue", ".", ":", "unset", "local", "eval", "umask", "type",
];

const KEYWORDS: &[&str] = &["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac", "time"];

/// Simple commands of a shell script: (line, words), with heredoc bodies and comments left out
/// and case patterns dropped. Quotes, `$(...)`, `$((...))` and redirections are understood well
/// enough for the scripts we write; it is not a shell parser.
fn commands(script: &str) -> Vec<(usize, Vec<String>, Vec<String>)> {
    let chars: Vec<char> = script.chars().collect();
    let mut out: Vec<(usize, Vec<String>, Vec<String>)> = Vec::new();
    let mut segs: Vec<(usize, Vec<String>, bool)> = Vec::new(); // (line, words, a case pattern)
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq) = (false, false);
    let mut dq_stack: Vec<bool> = Vec::new();
    let mut depth = 0usize;
    let mut in_case = 0usize;
    let mut line = 1usize;
    let mut seg_line = 1usize;
    let mut heredocs: Vec<String> = Vec::new();
    let mut alt_start: Option<usize> = None;
    let mut i = 0;
    macro_rules! flush {
        () => {
            if !cur.is_empty() {
                if words.is_empty() {
                    seg_line = line;
                }
                words.push(std::mem::take(&mut cur));
            }
        };
    }
    macro_rules! end_segment {
        ($pattern:expr) => {{
            flush!();
            match words.iter().find(|w| !KEYWORDS.contains(&w.as_str())).map(String::as_str) {
                Some("case") => in_case += 1,
                Some("esac") => in_case = in_case.saturating_sub(1),
                _ => {}
            }
            segs.push((seg_line, std::mem::take(&mut words), $pattern));
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if sq {
            cur.push(c);
            if c == '\'' {
                sq = false;
            }
            if c == '\n' {
                line += 1;
            }
            i += 1;
            continue;
        }
        match c {
            '\\' if next.is_some() => {
                cur.push(c);
                cur.push(next.unwrap());
                if next == Some('\n') {
                    line += 1;
                }
                i += 2;
                continue;
            }
            '\'' if !dq => sq = true,
            '"' => dq = !dq,
            '#' if !dq && cur.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '$' if next == Some('(') && chars.get(i + 2) == Some(&'(') => {
                // Arithmetic: part of the word, up to the closing `))`.
                let mut d = 0i32;
                while i < chars.len() {
                    cur.push(chars[i]);
                    if chars[i] == '(' {
                        d += 1;
                    } else if chars[i] == ')' {
                        d -= 1;
                        if d == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            '$' if next == Some('(') => {
                end_segment!(false);
                dq_stack.push(dq);
                dq = false;
                depth += 1;
                i += 2;
                continue;
            }
            '`' => {
                end_segment!(false);
                i += 1;
                continue;
            }
            ')' if !dq => {
                let pattern = depth == 0 && in_case > 0;
                if depth > 0 {
                    depth -= 1;
                    dq = dq_stack.pop().unwrap_or(false);
                }
                end_segment!(pattern);
                if pattern {
                    if let Some(a) = alt_start {
                        for s in &mut segs[a..] {
                            s.2 = true;
                        }
                    }
                }
                alt_start = None;
                i += 1;
                continue;
            }
            // Redirections (`2>&1`, `>&2`, `<<`) belong to the command; `<<WORD` starts a heredoc.
            '>' | '<' if !dq => {
                flush!();
                let mut op = String::from(c);
                i += 1;
                while i < chars.len() && matches!(chars[i], '>' | '<' | '&' | '-') {
                    op.push(chars[i]);
                    i += 1;
                }
                if op.starts_with("<<") {
                    while i < chars.len() && chars[i] == ' ' {
                        i += 1;
                    }
                    let mut w = String::new();
                    while i < chars.len() && !chars[i].is_whitespace() && !";|&)".contains(chars[i]) {
                        w.push(chars[i]);
                        i += 1;
                    }
                    heredocs.push(w.trim_matches(['\'', '"']).to_string());
                } else {
                    // The redirection's target is not an argument.
                    while i < chars.len() && chars[i] == ' ' {
                        i += 1;
                    }
                    while i < chars.len() && !chars[i].is_whitespace() && !";|&)".contains(chars[i]) {
                        i += 1;
                    }
                }
                continue;
            }
            '|' if !dq => {
                // `a|b)` in a case: the alternatives before a pattern's `)` are patterns too.
                let before = segs.len();
                end_segment!(false);
                if next != Some('|') && alt_start.is_none() {
                    alt_start = Some(before);
                }
                i += if next == Some('|') { 2 } else { 1 };
                continue;
            }
            ';' | '&' | '(' if !dq => {
                end_segment!(false);
                alt_start = None;
                i += 1;
                continue;
            }
            '\n' if !dq => {
                end_segment!(false);
                alt_start = None;
                line += 1;
                i += 1;
                // Heredoc bodies: skipped to their terminator lines.
                for end in std::mem::take(&mut heredocs) {
                    while i < chars.len() {
                        let start = i;
                        while i < chars.len() && chars[i] != '\n' {
                            i += 1;
                        }
                        let l: String = chars[start..i].iter().collect();
                        i += 1;
                        line += 1;
                        if l.trim() == end {
                            break;
                        }
                    }
                }
                continue;
            }
            ' ' | '\t' if !dq => {
                flush!();
                i += 1;
                continue;
            }
            '\n' => line += 1,
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    flush!();
    segs.push((seg_line, words, false));
    for (n, mut ws, pattern) in segs {
        if pattern {
            continue;
        }
        // Leading `NAME=value` words are the command's environment.
        let mut env = Vec::new();
        while let Some(w) = ws.first() {
            let assignment = w.split_once('=').is_some_and(|(a, _)| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if assignment {
                env.push(unquote(&ws.remove(0)));
            } else if KEYWORDS.contains(&w.as_str()) {
                ws.remove(0);
            } else {
                break;
            }
        }
        if matches!(ws.first().map(String::as_str), None | Some("case" | "esac" | "for")) {
            continue;
        }
        out.push((n, ws, env));
    }
    out
}

fn unquote(w: &str) -> String {
    w.chars().filter(|c| *c != '"' && *c != '\'').collect()
}

/// `NAME=value` defaults of a script (`${X:-default}` gives its default).
fn assignments(script: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for l in script.lines() {
        let l = l.trim();
        let Some((name, value)) = l.split_once('=') else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = unquote(value.split_whitespace().next().unwrap_or(""));
        let v = match v.strip_prefix("${").and_then(|v| v.strip_suffix('}')).and_then(|v| v.split_once(":-")) {
            Some((_, d)) => d.to_string(),
            None => v,
        };
        vars.insert(name.to_string(), v);
    }
    vars
}

/// The tool a command word names: a plain name, a path, or `$VAR`/`${VAR:-default}`.
fn tool_name(word: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let w = unquote(word);
    let w = if let Some(inner) = w.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        let (name, default) = inner.split_once(":-").unwrap_or((inner, ""));
        vars.get(name).cloned().unwrap_or_else(|| default.to_string())
    } else if let Some(name) = w.strip_prefix('$') {
        vars.get(name).cloned()?
    } else {
        w
    };
    let base = w.rsplit('/').next().unwrap_or(&w).to_string();
    (!base.is_empty() && base.chars().all(|c| c.is_ascii_alphanumeric() || "_.-[:".contains(c))).then_some(base)
}

/// Problems with one command's options against its tool's list.
fn check_options(tool: &Tool, name: &str, args: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut skip_next = false;
    for a in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        let a = unquote(a);
        if a == "--" {
            break;
        }
        if !a.starts_with('-') || a == "-" || a.starts_with("-$") || a.starts_with("--$") {
            if tool.stops_at_operand && !a.starts_with('-') {
                break;
            }
            continue;
        }
        match tool.style {
            Style::GoFlag => {
                let n = a.trim_start_matches('-').split('=').next().unwrap();
                if !tool.long.contains(n) {
                    bad.push(format!("{name} {a}: no such flag"));
                }
            }
            Style::Pflag => {
                let known = match a.strip_prefix("--") {
                    Some(long) => tool.long.contains(long.split('=').next().unwrap()),
                    None => a[1..].chars().next().is_some_and(|c| tool.short.contains_key(&c)),
                };
                if !known {
                    bad.push(format!("{name} {a}: no such flag"));
                }
            }
            Style::Single => {
                let n = &a[1..];
                if a.starts_with("--") || !tool.long.contains(n) {
                    bad.push(format!("{name} {a}: no such option"));
                } else if tool.takes_arg.contains(n) {
                    skip_next = true;
                }
            }
            Style::Prefix => {
                let n = a.trim_start_matches('-');
                if !tool.long.iter().any(|l| l.starts_with(n)) {
                    bad.push(format!("{name} {a}: no such option"));
                }
            }
            Style::Getopt => {
                if let Some(long) = a.strip_prefix("--") {
                    let n = long.split('=').next().unwrap();
                    if !tool.long.contains(n) {
                        bad.push(format!("{name} --{n}: no such option"));
                    }
                    continue;
                }
                // A cluster of short options; one that takes an argument ends it.
                let cs: Vec<char> = a[1..].chars().collect();
                if cs.iter().all(|c| c.is_ascii_digit()) && tool.short.contains_key(&cs[0]) {
                    continue;
                }
                for (k, c) in cs.iter().enumerate() {
                    if tool.optional.contains(c) {
                        break; // the rest of the cluster is its argument
                    }
                    match tool.short.get(c) {
                        None => {
                            bad.push(format!("{name} {a}: no option -{c}"));
                            break;
                        }
                        Some(true) => {
                            skip_next = k + 1 == cs.len();
                            break;
                        }
                        Some(false) => {}
                    }
                }
            }
        }
    }
    bad
}

/// Lint every script: returns (problems, how many commands of each tool were checked against its list).
fn lint_scripts(scripts: &[(String, String)], tools: &BTreeMap<String, Tool>) -> (Vec<String>, BTreeMap<String, usize>) {
    let mut problems = Vec::new();
    let mut checked = BTreeMap::new();
    for (file, text) in scripts {
        let vars = assignments(text);
        // Functions the script defines are not host tools.
        let functions: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.trim().split_once("()"))
            .map(|(n, _)| n.trim().to_string())
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        // ETCDCTL_API as the script exports it (`export ETCDCTL_API=3`), in file order.
        let mut exported_api: Option<String> = None;
        for (line, ws, env) in commands(text) {
            if ws[0] == "export" || ws[0] == "unset" {
                for w in ws[1..].iter().map(|w| unquote(w)) {
                    if w == "ETCDCTL_API" && ws[0] == "unset" {
                        exported_api = None;
                    } else if let Some(v) = w.strip_prefix("ETCDCTL_API=") {
                        exported_api = Some(v.to_string());
                    }
                }
                continue;
            }
            let Some(name) = tool_name(&ws[0], &vars) else { continue };
            if functions.contains(&name) || NOT_HOST_TOOLS.contains(&name.as_str()) || UNCHECKED.iter().any(|(t, ..)| *t == name) || name.starts_with("k8s-") {
                continue;
            }
            // Our own helpers, run by path.
            if ws[0].contains("/usr/libexec/bundler/") || ws[0].contains("/host-identity") {
                continue;
            }
            // etcdctl's mode is ETCDCTL_API in its environment: the command's own, else the exported one.
            let mut key = name.clone();
            // openssl is checked per subcommand: its first word picks the list.
            let mut args = &ws[1..];
            if name == "openssl" {
                let Some(sub) = ws.get(1).map(|w| unquote(w)) else {
                    problems.push(format!("{file}:{line}: openssl with no subcommand (its interactive prompt): name one"));
                    continue;
                };
                key = format!("openssl {sub}");
                args = &ws[2..];
                if !tools.contains_key(&key) {
                    let source = tools.get("openssl req").map_or("no openssl list", |t| t.source.as_str());
                    problems.push(format!("{file}:{line}: openssl {sub}: no such subcommand in openssl ({source})"));
                    continue;
                }
            }
            if name == "etcdctl" {
                let api = env.iter().rev().find_map(|e| e.strip_prefix("ETCDCTL_API=").map(str::to_string)).or_else(|| exported_api.clone());
                match api.as_deref() {
                    None | Some("" | "2") => {}
                    Some("3") => key = ETCDCTL_V3.to_string(),
                    Some(v) => {
                        problems.push(format!("{file}:{line}: etcdctl with ETCDCTL_API={v}: etcd 3.0.17's etcdctl/main.go knows only 2 and 3"));
                        continue;
                    }
                }
            }
            match tools.get(&key) {
                None => problems.push(format!("{file}:{line}: `{name}` is a host tool with no el7 option list (add one under specs/reference/el7-options, or to UNCHECKED with its version)")),
                Some(t) => {
                    *checked.entry(key.clone()).or_insert(0) += 1;
                    let shown = if name == "openssl" { key.as_str() } else { name.as_str() };
                    for b in check_options(t, shown, args) {
                        problems.push(format!("{file}:{line}: {b} in {} ({})", shown, t.source));
                    }
                }
            }
        }
    }
    (problems, checked)
}

/// Every shell text the packages carry: rendered scripts and every package's scriptlets.
fn all_scripts() -> Vec<(String, String)> {
    let inv = root().join("examples/hosts.yaml");
    let files = rendered(&inv);
    let mut out: Vec<(String, String)> = files
        .iter()
        .filter(|f| f.content.starts_with("#!/bin/sh") || f.content.starts_with("#!/bin/bash"))
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect();
    // Scriptlets: assemble the package definitions with stand-in artifacts (only their names matter here).
    let plan = plan_of(&inv);
    let state = tempfile::tempdir().unwrap();
    let pki = bundler::pki::ensure(&plan, &bundler::pki_options(&plan, state.path(), false)).expect("pki");
    let fetched: Vec<bundler::fetch::Fetched> = plan
        .artifacts
        .iter()
        .map(|a| bundler::fetch::Fetched {
            name: a.name.clone(),
            version: a.version.clone(),
            file_name: a.file_name.clone(),
            url: String::new(),
            expected_digest: a.digest.clone(),
            actual_digest: a.digest.clone(),
            bytes: 0,
            bytes_transferred: 0,
            outcome: bundler::report::Outcome::Cached,
            path: state.path().join("none"),
        })
        .collect();
    let specs =
        bundler::rpm::assemble(&plan, &pki, &files, &bundler::render::scriptlets(&plan, &files).expect("scriptlets"), &fetched, None).expect("assemble");
    for s in &specs {
        for (what, body) in [("pretrans", &s.pretrans), ("pre", &s.pre), ("post", &s.post), ("preun", &s.preun), ("postun", &s.postun)] {
            if let Some(b) = body {
                out.push((format!("{} %{what}", s.name), b.clone()));
            }
        }
    }
    out
}

#[test]
fn every_option_a_script_or_scriptlet_passes_to_a_host_tool_exists_in_its_el7_version() {
    let tools = tools();
    for t in [
        "ss",
        "ip",
        "curl",
        "head",
        "cut",
        "df",
        "mkdir",
        "rpm",
        "yum",
        "systemctl",
        "etcdctl",
        ETCDCTL_V3,
        "mktemp",
        "flock",
        "date",
        "sort",
        "grep",
        "sed",
        "awk",
        "modprobe",
        "sysctl",
        "getenforce",
        "useradd",
        "groupadd",
        "sh",
        "bash",
        "hostname",
        "xfs_info",
        "getent",
    ] {
        assert!(tools.contains_key(t), "no option list for {t}");
    }
    let scripts = all_scripts();
    assert!(scripts.iter().any(|(n, _)| n.ends_with("%post")), "no scriptlets found");
    let (problems, checked) = lint_scripts(&scripts, &tools);
    assert!(problems.is_empty(), "options the el7 hosts' tools do not have:\n{}", problems.join("\n"));
    println!("commands checked, by tool: {checked:?}");
    let total: usize = checked.values().sum();
    assert!(total > 30, "only {total} commands checked: {checked:?}");
    // The tools read from their el7 sources (grep 2.20, sed 4.2.2, gawk 4.0.2, kmod 20, procps-ng
    // 3.3.10, shadow-utils 4.1.5.1, libselinux 2.5, hostname 3.13, xfsprogs 4.5.0, glibc 2.17) are
    // among those checked, not skipped.
    for t in ["grep", "sed", "awk", "modprobe", "sysctl", "getenforce", "useradd", "groupadd", "sh", "hostname", "xfs_info", "getent"] {
        assert!(checked.contains_key(t), "no {t} command was checked: {checked:?}");
    }
    // A copy of a real script with an option its el7 tool lacks fails: grep --no-ignore-case is
    // GNU grep 3.x's, not 2.20's.
    let (name, text) = scripts.iter().find(|(n, t)| n.ends_with("/host-identity") && t.contains("grep -v '^#'")).expect("host-identity");
    let line = text.lines().position(|l| l.contains("grep -v '^#'")).unwrap() + 1;
    let (p, _) = lint_scripts(&[(name.clone(), text.replacen("grep -v '^#'", "grep --no-ignore-case -v '^#'", 1))], &tools);
    assert_eq!(p, vec![format!("{name}:{line}: grep --no-ignore-case: no such option in grep (grep-2.20.txt)")]);
    // sed --debug is sed 4.6's; gawk -l (--load) gawk 4.1's; useradd --btrfs-subvolume-home shadow
    // 4.10's; getenforce reads no options; sysctl -N and modprobe -C are known; sh (bash 4.2)
    // stops at its script or -c's command string, and has no -w. hostname 3.13 dropped -v/--verbose
    // (Debian 3.13: "Finally completely remove verbose option"); xfs_info 4.5.0 knows only -t and
    // -V and, a getopts script, stops at its mount point; getent 2.17 (argp) takes -s after its
    // operands and has no -A.
    let (p, _) = lint_scripts(
        &[(
            "t".into(),
            "sed --debug -n p f\nawk -l ext '{print}'\nsed -i.bak -e p f\nuseradd -r --btrfs-subvolume-home u\ngetenforce -v\nsysctl -N -a\nmodprobe -C /etc/x -n br_netfilter\nsh -eu f --whatever\nsh -c 'x' --z\nsh -w f\nhostname -v\nhostname -I --verbose\nxfs_info -t /etc/mtab /var\nxfs_info -n /var\nxfs_info /var -n\ngetent passwd etcd -s files\ngetent -A ahosts h\n".into(),
        )],
        &tools,
    );
    assert_eq!(
        p,
        vec![
            "t:1: sed --debug: no such option in sed (sed-4.2.2.txt)".to_string(),
            "t:2: awk -l: no option -l in awk (gawk-4.0.2.txt)".to_string(),
            "t:4: useradd --btrfs-subvolume-home: no such option in useradd (shadow-utils-4.1.5.1.txt)".to_string(),
            "t:5: getenforce -v: no option -v in getenforce (libselinux-2.5.txt)".to_string(),
            "t:10: sh -w: no option -w in sh (bash-4.2.txt)".to_string(),
            "t:11: hostname -v: no option -v in hostname (hostname-3.13.txt)".to_string(),
            "t:12: hostname --verbose: no such option in hostname (hostname-3.13.txt)".to_string(),
            "t:14: xfs_info -n: no option -n in xfs_info (xfsprogs-4.5.0.txt)".to_string(),
            "t:17: getent -A: no option -A in getent (glibc-2.17.txt)".to_string(),
        ]
    );

    // The lint fails on what shipped before: iproute 3.10's ss has no -H (iproute2 v4.7.0).
    let (p, _) = lint_scripts(&[("old".into(), "#!/bin/sh\nss -Hltnp \"sport = :$1\" 2>/dev/null | head -n 1\n".into())], &tools);
    assert_eq!(p, vec!["old:2: ss -Hltnp: no option -H in ss (iproute-3.10.0.txt)".to_string()]);
    // coreutils 8.22's sha256sum has no --ignore-missing (8.25); curl 7.29 no --retry-connrefused (7.52).
    let (p, _) =
        lint_scripts(&[("x".into(), "x=$(sha256sum --ignore-missing -c SUMS)\nif curl -sS --retry-connrefused https://a; then :; fi\n".into())], &tools);
    assert_eq!(p.len(), 2, "{p:?}");
    // etcdctl is checked in the mode ETCDCTL_API gives it: inline or exported, v3 flags only in v3 mode.
    let (p, _) = lint_scripts(
        &[(
            "e".into(),
            "ETCDCTL_API=3 etcdctl --cacert=\"$CA\" --key \"$K\" -w json snapshot restore f --name n --skip-hash-check\n\
             etcdctl --cacert=\"$CA\" ls\n\
             ETCDCTL_API=3 etcdctl --ca-file \"$CA\" endpoint health\n\
             export ETCDCTL_API=3\n\
             etcdctl --dial-timeout=2s --command-timeout=5s member list\n\
             ETCDCTL_API=2 etcdctl --dial-timeout=2s ls\n\
             ETCDCTL_API=4 etcdctl get k\n"
                .into(),
        )],
        &tools,
    );
    assert_eq!(
        p,
        vec![
            "e:2: etcdctl --cacert=$CA: no such flag in etcdctl (flags/etcdctl-v2-3.0.17*.txt)".to_string(),
            "e:3: etcdctl --ca-file: no such flag in etcdctl (flags/etcdctl-v3-3.0.17.txt)".to_string(),
            "e:6: etcdctl --dial-timeout=2s: no such flag in etcdctl (flags/etcdctl-v2-3.0.17*.txt)".to_string(),
            "e:7: etcdctl with ETCDCTL_API=4: etcd 3.0.17's etcdctl/main.go knows only 2 and 3".to_string(),
        ]
    );
    // flock is util-linux 2.23.2's: no -F (--no-fork is first in tag v2.29).
    let (p, _) = lint_scripts(&[("f".into(), "flock -n 9 || exit 1\nflock -F /tmp/l true\n".into())], &tools);
    assert_eq!(p, vec!["f:2: flock -F: no option -F in flock (util-linux-2.23.2.txt)".to_string()]);
    // A tool nobody listed fails too.
    let (p, _) = lint_scripts(&[("x".into(), "jq -r .a f\n".into())], &tools);
    assert!(p.len() == 1 && p[0].contains("`jq` is a host tool with no el7 option list"), "{p:?}");
    // Heredoc bodies and case patterns are not commands.
    let (p, _) = lint_scripts(&[("x".into(), "cat <<'EOF'\njq -Z\nEOF\ncase \"$r\" in\n  etcd|node) head -n 1 f ;;\nesac\n".into())], &tools);
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn openssl_is_checked_per_subcommand_against_the_options_of_el7s_1_0_2k() {
    let mut tools = tools();
    for sub in ["req", "x509", "verify", "s_client", "rsa", "ec", "pkcs8", "genrsa", "ecparam", "dgst", "rand", "version"] {
        let t = tools.get(&format!("openssl {sub}")).unwrap_or_else(|| panic!("no option list for openssl {sub}"));
        assert_eq!(t.source, "openssl-1.0.2k.txt");
    }
    // What scripts would write against 1.0.2k: each option is in its subcommand's list. -sha256 and
    // -aes256 are digest and cipher names (EVP_get_*byname); -xmpphost is the el7 starttls
    // patch's, -x931 the rsa-x931 patch's; -passout takes the next word.
    let good = "openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 1 -subj /CN=x -sha256\n\
                openssl x509 -in c.pem -noout -text -fingerprint -sha256\n\
                openssl verify -CAfile ca.pem -purpose sslclient c.pem\n\
                openssl s_client -connect h:443 -servername h -CAfile ca.pem -verify_hostname h -starttls xmpp -xmpphost h </dev/null\n\
                openssl rsa -in k.pem -aes256 -passout pass:x -out k2.pem\n\
                openssl ec -in k.pem -pubout -out p.pem\n\
                openssl pkcs8 -topk8 -nocrypt -in k.pem\n\
                openssl genrsa -x931 -out k.pem 2048\n\
                openssl ecparam -name prime256v1 -genkey -noout\n\
                openssl dgst -sha256 -binary f\n\
                openssl rand -hex 16\n\
                openssl version -a\n";
    let (p, checked) = lint_scripts(&[("ok".into(), good.into())], &tools);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(checked.values().sum::<usize>(), 12, "{checked:?}");
    // What 1.0.2k lacks: req -addext and x509 -ext are 1.1.1's, s_client -tls1_3 and dgst's
    // sha3-256 too, req -noenc 3.0's; `openssl kdf` (3.0) is no subcommand; 1.0.2k's s_client has
    // no -ssl2 (Configure's default no-ssl2, which the spec keeps); a bare `openssl` is refused.
    let bad = "openssl req -new -key k.pem -addext subjectAltName=DNS:x -out r.pem\n\
               openssl x509 -in c.pem -noout -ext subjectAltName\n\
               openssl s_client -connect h:443 -tls1_3\n\
               openssl dgst -sha3-256 f\n\
               openssl req -new -noenc -key k.pem\n\
               openssl kdf -keylen 16 HKDF\n\
               openssl s_client -ssl2 -connect h:443\n\
               openssl\n";
    let (p, _) = lint_scripts(&[("t".into(), bad.into())], &tools);
    assert_eq!(
        p,
        vec![
            "t:1: openssl req -addext: no such option in openssl req (openssl-1.0.2k.txt)".to_string(),
            "t:2: openssl x509 -ext: no such option in openssl x509 (openssl-1.0.2k.txt)".to_string(),
            "t:3: openssl s_client -tls1_3: no such option in openssl s_client (openssl-1.0.2k.txt)".to_string(),
            "t:4: openssl dgst -sha3-256: no such option in openssl dgst (openssl-1.0.2k.txt)".to_string(),
            "t:5: openssl req -noenc: no such option in openssl req (openssl-1.0.2k.txt)".to_string(),
            "t:6: openssl kdf: no such subcommand in openssl (openssl-1.0.2k.txt)".to_string(),
            "t:7: openssl s_client -ssl2: no such option in openssl s_client (openssl-1.0.2k.txt)".to_string(),
            "t:8: openssl with no subcommand (its interactive prompt): name one".to_string(),
        ]
    );
    // The verdict comes from the list: without -nodes in req's, the good line fails; and the
    // argument of an option that takes one is not read as an option (`-passout -x` is fine).
    tools.get_mut("openssl req").unwrap().long.remove("nodes");
    let (p, _) = lint_scripts(&[("ok".into(), good.into())], &tools);
    assert_eq!(p, vec!["ok:1: openssl req -nodes: no such option in openssl req (openssl-1.0.2k.txt)".to_string()]);
    let (p, _) = lint_scripts(&[("a".into(), "openssl rsa -in k -passout -x\nopenssl rsa -in k -noout -x\n".into())], &tools);
    assert_eq!(p, vec!["a:2: openssl rsa -x: no such option in openssl rsa (openssl-1.0.2k.txt)".to_string()]);
}

#[test]
fn every_unit_directive_is_one_systemd_219_of_el7_4_knows() {
    let known: BTreeSet<String> = std::fs::read_to_string(root().join("specs/reference/systemd-219-el7.4-directives.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let check = |name: &str, text: &str| -> Vec<String> {
        let mut bad = Vec::new();
        let mut section = String::new();
        for (n, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if l.starts_with('[') {
                section = l.to_string();
                continue;
            }
            let key = l.split('=').next().unwrap().trim();
            if !known.contains(&format!("{section} {key}")) {
                bad.push(format!("{name}:{}: {section} {key} is not a directive of systemd 219 (rhel-7.4)", n + 1));
            }
        }
        bad
    };
    let files = rendered(&root().join("examples/hosts.yaml"));
    let units: Vec<_> = files.iter().filter(|f| f.path.starts_with("/usr/lib/systemd/system/")).collect();
    assert!(units.len() >= 12);
    let bad: Vec<String> = units.iter().flat_map(|u| check(&u.path, &u.content)).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // It can fail: 229's directive, 230's, and a typo.
    let bad = check(
        "x.service",
        "[Service]\nRuntimeMaxSec=5\nExecStart=/bin/true\n[Unit]\nStartLimitIntervalSec=10\n[Install]\nWantedBy=multi-user.target\nWantdBy=x\n",
    );
    assert_eq!(bad.len(), 3, "{bad:?}");
}
