//! The inventory as written, before group aliases, derived groups and variable layering:
//! what both the YAML and the INI readers fill in.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Diagnostics, Loc};
use crate::value::Node;

#[derive(Debug, Default)]
pub struct RawHost {
    pub name: String,
    pub loc: Option<Loc>,
    /// Set once the host appears with a vars body (even an empty `{}` counts in YAML `all.hosts`).
    pub vars: Vec<(String, Node)>,
    pub has_vars: bool,
}

#[derive(Debug, Default)]
pub struct RawGroup {
    /// As written (first spelling seen); the map key is the canonical name.
    pub spelled: String,
    pub loc: Option<Loc>,
    pub hosts: Vec<(String, Loc)>,
    pub children: Vec<(String, Loc)>,
    pub vars: Vec<(String, Node)>,
    /// Declared in the file (a section or a key), not only referenced as a child.
    pub declared: bool,
}

#[derive(Debug, Default)]
pub struct RawInventory {
    pub hosts: Vec<RawHost>,
    pub index: HashMap<String, usize>,
    pub groups: BTreeMap<String, RawGroup>,
    pub diags: Diagnostics,
}

/// kubespray's legacy spellings and the names this tool uses for them.
pub fn canonical_group(name: &str) -> &str {
    match name {
        "kube-master" | "kube_master" => "kube_control_plane",
        "kube-node" => "kube_node",
        "k8s-cluster" => "k8s_cluster",
        "calico-rr" => "calico_rr",
        other => other,
    }
}

impl RawInventory {
    pub fn host_mut(&mut self, name: &str, loc: &Loc) -> &mut RawHost {
        let idx = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.hosts.push(RawHost { name: name.to_string(), loc: Some(loc.clone()), ..Default::default() });
                self.index.insert(name.to_string(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        &mut self.hosts[idx]
    }

    pub fn group_mut(&mut self, spelled: &str, loc: Option<&Loc>) -> &mut RawGroup {
        let g = self.groups.entry(canonical_group(spelled).to_string()).or_insert_with(|| RawGroup {
            spelled: spelled.to_string(),
            loc: loc.cloned(),
            ..Default::default()
        });
        if g.loc.is_none() {
            g.loc = loc.cloned();
        }
        g
    }

    /// A host line or a host key: create the host, attach vars, add it to the group.
    pub fn add_host(&mut self, group: &str, name: &str, loc: &Loc, vars: Option<Vec<(String, Node)>>) {
        let h = self.host_mut(name, loc);
        // A host listed under `all` is defined there even without vars.
        if group == "all" {
            h.has_vars = true;
        }
        if let Some(v) = vars {
            h.has_vars = true;
            if h.loc.is_none() {
                h.loc = Some(loc.clone());
            }
            // Later occurrences win key by key, as in Ansible.
            for (k, n) in v {
                h.vars.retain(|(ok, _)| *ok != k);
                h.vars.push((k, n));
            }
        }
        let g = self.group_mut(group, None);
        if !g.hosts.iter().any(|(h, _)| h == name) {
            g.hosts.push((name.to_string(), loc.clone()));
        }
    }
}

/// Valid Ansible group name characters (kubespray's dashed legacy names included).
pub fn valid_group_name(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}
