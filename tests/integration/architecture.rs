//! The house stays flat (STYLE.md, issue #14): the crate's modules are leaves every stage may
//! use, or stages that use only leaves and the plan; `build` is the one orchestrator that
//! passes one stage's output to the next. The graph is read from `crate::x` (and, in the
//! binary's files, `bundler::x`) references in bundler/src, the same way the issue measured it.
//!
//! Decisions, so a new module has to take one: `error`, `specs`, `yaml`, `value`, `catalog` and
//! `signing` and `paths` stay leaves (they import no stage); `model` holds the values that cross stages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::root;

/// Shared by every stage; a leaf imports only other leaves.
const LEAVES: &[&str] = &[
    "catalog", "digest", "download", "error", "files", "layout", "model", "names", "paths", "progress", "report", "rpmfile", "signing", "specs", "value",
    "yaml",
];
/// The pipeline's stages: each imports leaves and `plan`, never another stage.
const STAGES: &[&str] = &["bundle", "cache", "fetch", "image_lock", "images", "inventory", "pki", "plan", "render", "repo", "rpm"];
/// Modules that may import anything: the orchestrator and the crate's entry points.
const ORCHESTRATORS: &[&str] = &["build", "lib", "main"];

/// Stage → stage imports that remain, each with why. An entry no longer needed fails
/// `flat_house_allow_list_has_no_stale_entries`, so the list only shrinks.
const ALLOWED: &[(&str, &str, &str)] = &[
    // Kept on purpose: the plan is the model built from the inventory, so plan reading the
    // parsed Inventory is the data flowing one way (inventory → plan), not a back-edge.
    // Making inventory a leaf would only rename that edge; nothing else imports inventory.
    ("plan", "inventory", "the plan is the model computed from the parsed inventory (inventory → plan is the pipeline's first step)"),
];

fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module and the other top-level modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("bundler/src");
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let m = module_of(p.strip_prefix(&src).unwrap());
            let text = std::fs::read_to_string(&p).unwrap();
            let refs = g.entry(m.clone()).or_default();
            for r in references(&text) {
                if r != m {
                    refs.insert(r);
                }
            }
        }
    }
    // Only names that are modules of the crate (`crate::plan(...)` is lib's function, and so is
    // `crate::pki_options`).
    let modules: BTreeSet<String> = g.keys().cloned().collect();
    for refs in g.values_mut() {
        refs.retain(|r| modules.contains(r));
    }
    g
}

/// `crate::x`, `crate::{x, y::z}` and `bundler::x`, with comments left out.
fn references(text: &str) -> BTreeSet<String> {
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    for prefix in ["crate::", "bundler::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED.iter().any(|(f, t, _)| *f == from && *t == to)
}

#[test]
fn flat_house_every_module_is_a_leaf_a_stage_or_the_orchestrator() {
    let g = graph();
    let unknown: Vec<&String> = g.keys().filter(|m| ![LEAVES, STAGES, ORCHESTRATORS].iter().any(|l| l.contains(&m.as_str()))).collect();
    assert!(unknown.is_empty(), "modules not classified here (add each to LEAVES or STAGES, with the rules that then hold): {unknown:?}");
    for m in LEAVES.iter().chain(STAGES).chain(ORCHESTRATORS) {
        assert!(g.contains_key(*m) || ["lib", "main"].contains(m), "{m} is listed but is no module");
    }
}

#[test]
fn flat_house_has_no_import_cycle() {
    let g = graph();
    // Depth-first search; a node seen again on the current path closes a cycle.
    fn visit(g: &BTreeMap<String, BTreeSet<String>>, n: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>, cycles: &mut Vec<String>) {
        if let Some(i) = path.iter().position(|p| p == n) {
            cycles.push(path[i..].iter().chain(std::iter::once(&n.to_string())).cloned().collect::<Vec<_>>().join(" → "));
            return;
        }
        if !done.insert(n.to_string()) {
            return;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(g, m, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for n in g.keys() {
        visit(&g, n, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn flat_house_leaves_import_only_leaves() {
    let g = graph();
    let mut bad = Vec::new();
    for l in LEAVES {
        for r in g.get(*l).into_iter().flatten() {
            if !LEAVES.contains(&r.as_str()) {
                bad.push(format!("{l} → {r}"));
            }
        }
    }
    assert!(bad.is_empty(), "a leaf imports a stage (move what it needs into a leaf): {bad:#?}");
}

#[test]
fn flat_house_stages_import_only_leaves_and_the_plan() {
    let g = graph();
    let mut bad = Vec::new();
    for s in STAGES {
        for r in g.get(*s).into_iter().flatten() {
            let ok = LEAVES.contains(&r.as_str()) || r == "plan" || allowed(s, r);
            if !ok {
                bad.push(format!("{s} → {r}"));
            }
        }
    }
    assert!(bad.is_empty(), "a stage imports another stage (move what it needs into a leaf, or pass it from build): {bad:#?}");
}

#[test]
fn flat_house_allow_list_has_no_stale_entries() {
    let g = graph();
    for (from, to, why) in ALLOWED {
        assert!(!why.is_empty());
        assert!(g.get(*from).is_some_and(|r| r.contains(*to)), "{from} → {to} is allowed but no longer there: delete the entry");
    }
}

/// The parser finds what the tests rely on, so a test above cannot pass by reading nothing.
#[test]
fn flat_house_parser_reads_grouped_and_qualified_references() {
    let r = references("use crate::{digest::Digest, files};\n// crate::render in a comment\nlet x = crate::plan::Plan; bundler::report::Event; notcrate::x");
    assert_eq!(r, ["digest", "files", "plan", "report"].iter().map(|s| s.to_string()).collect());
    let g = graph();
    assert!(g["build"].contains("plan") && g["rpm"].contains("model"), "{g:?}");
}
