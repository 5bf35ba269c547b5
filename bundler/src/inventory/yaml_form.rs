//! Reads the YAML inventory form (`all: {hosts, children, vars}`) into the raw model.

use std::path::PathBuf;
use std::sync::Arc;

use super::pattern;
use super::raw::{valid_group_name, RawInventory};
use crate::error::{Diagnostic, Loc};
use crate::value::{Kind, Node};

pub fn read(text: &str, file: &Arc<PathBuf>) -> Result<RawInventory, Diagnostic> {
    let root = crate::yaml::parse(text, file)?;
    let mut inv = RawInventory::default();
    let Some(top) = root.as_map() else {
        return Err(not_an_inventory(&root, "its top level is not a mapping of groups"));
    };
    if top.is_empty() {
        return Err(not_an_inventory(&root, "it is empty"));
    }
    // A group_vars file has variables at the top; an inventory has groups.
    if let Some((k, kloc, v)) = top.iter().find(|(_, _, v)| !matches!(v.kind, Kind::Map(_) | Kind::Null)) {
        return Err(Diagnostic::error(
            Some(kloc.clone()),
            format!("this file is not an inventory: top-level key `{k}` holds {}, but an inventory's top level holds groups", v.type_name()),
        )
        .note("note: it looks like a variables file (group_vars/ or host_vars/); those are read from beside the inventory")
        .note("help: pass the inventory itself, e.g. `--inventory inventory/mycluster/hosts.yaml`, whose top level is `all:` with `hosts:`, `children:` and `vars:`"));
    }
    let looks_like_groups =
        top.iter().any(|(k, _, v)| k == "all" || v.as_map().is_some_and(|m| m.iter().any(|(k, _, _)| matches!(k.as_str(), "hosts" | "children" | "vars"))));
    if !looks_like_groups {
        let (k, kloc, _) = &top[0];
        return Err(Diagnostic::error(
            Some(kloc.clone()),
            format!("this file is not an inventory: no top-level group has `hosts:`, `children:` or `vars:` (first key is `{k}`)"),
        )
        .note("help: an inventory's top level is `all:` with `hosts:`, `children:` and `vars:` below it"));
    }
    for (name, kloc, body) in top {
        group(&mut inv, name, kloc, body, 0);
    }
    Ok(inv)
}

fn not_an_inventory(root: &Node, why: &str) -> Diagnostic {
    Diagnostic::error(Some(root.loc.clone()), format!("this file is not an inventory: {why}"))
        .note("help: an inventory's top level is `all:` with `hosts:`, `children:` and `vars:` below it")
}

fn group(inv: &mut RawInventory, name: &str, kloc: &Loc, body: &Node, depth: usize) {
    if !valid_group_name(name) {
        inv.diags.error(Some(kloc.clone()), format!("`{name}` is not a valid group name"));
        return;
    }
    inv.declare(name, kloc);
    let Some(entries) = body.as_map() else { return };
    for (key, loc, val) in entries {
        match key.as_str() {
            "hosts" => hosts(inv, name, val),
            "children" => match &val.kind {
                Kind::Null => {}
                // `children: kube_node` is one child, as `hosts: cp-1` is one host (Ansible's yaml plugin).
                Kind::Str(child) => {
                    inv.group_mut(name, None).children.push((child.clone(), val.loc.clone()));
                    group(inv, child, &val.loc, &Node::new(Kind::Null, val.loc.clone(), crate::value::Origin::Yaml), depth + 1);
                }
                Kind::Map(children) => {
                    for (child, cloc, cbody) in children {
                        if depth > 32 {
                            inv.diags.error(Some(cloc.clone()), "groups are nested too deeply");
                            return;
                        }
                        inv.group_mut(name, None).children.push((child.clone(), cloc.clone()));
                        if !matches!(cbody.kind, Kind::Null | Kind::Map(_)) {
                            inv.diags.error(
                                Some(cbody.loc.clone()),
                                format!("group `{child}` must be a mapping (with `hosts:`, `children:`, `vars:`) or empty, not {}", cbody.type_name()),
                            );
                            continue;
                        }
                        group(inv, child, cloc, cbody, depth + 1);
                    }
                }
                _ => {
                    inv.diags.error(Some(val.loc.clone()), format!("`children:` of group `{name}` must be a mapping of group names, not {}", val.type_name()));
                }
            },
            "vars" => match &val.kind {
                Kind::Null => {}
                Kind::Map(vars) => {
                    let g = inv.group_mut(name, None);
                    for (k, _, v) in vars {
                        g.vars.push((k.clone(), v.clone()));
                    }
                }
                _ => {
                    inv.diags.error(Some(val.loc.clone()), format!("`vars:` of group `{name}` must be a mapping, not {}", val.type_name()));
                }
            },
            other => {
                inv.diags.warning(Some(loc.clone()), format!("group `{name}` has unexpected key `{other}`; only `hosts`, `children` and `vars` mean something there, so it is ignored (as Ansible does)"));
            }
        }
    }
}

fn hosts(inv: &mut RawInventory, group: &str, val: &Node) {
    match &val.kind {
        Kind::Null => {}
        // `hosts: cp-1` is one host.
        Kind::Str(s) => add(inv, group, s, &val.loc, None),
        Kind::Map(hs) => {
            for (h, hloc, hv) in hs {
                let vars = match &hv.kind {
                    Kind::Null => None,
                    Kind::Map(m) => Some(m.iter().map(|(k, _, v)| (k.clone(), v.clone())).collect()),
                    _ => {
                        inv.diags.error(
                            Some(hv.loc.clone()),
                            format!("host `{h}` must be followed by a mapping of its variables or nothing, not {}", hv.type_name()),
                        );
                        continue;
                    }
                };
                add(inv, group, h, hloc, vars);
            }
        }
        Kind::Seq(_) => {
            inv.diags
                .error(Some(val.loc.clone()), format!("`hosts:` of group `{group}` is a list; Ansible wants a mapping"))
                .notes
                .push("help: write each host as a key: `hosts:` then `  node1:` on its own line".into());
        }
        _ => {
            inv.diags.error(Some(val.loc.clone()), format!("`hosts:` of group `{group}` must be a mapping of host names, not {}", val.type_name()));
        }
    }
}

fn add(inv: &mut RawInventory, group: &str, pattern: &str, loc: &Loc, mut vars: Option<Vec<(String, Node)>>) {
    let (pattern, port) = match pattern::split_port(pattern) {
        Ok(x) => x,
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
            return;
        }
    };
    if let Some(p) = port {
        vars.get_or_insert_with(Vec::new).push(("ansible_port".into(), Node::new(Kind::Int(p.into()), loc.clone(), crate::value::Origin::Yaml)));
    }
    match pattern::expand(pattern) {
        Ok(names) => {
            if inv.hosts.len() + names.len() > super::MAX_HOSTS {
                inv.diags.error(Some(loc.clone()), format!("the inventory defines more than {} hosts; bundler reads at most that many", super::MAX_HOSTS));
                return;
            }
            for n in names {
                inv.add_host(group, &n, loc, vars.clone());
            }
        }
        Err(e) => {
            inv.diags.error(Some(loc.clone()), e);
        }
    }
}
