//! The inventory as written, before group aliases, derived groups and variable layering:
//! what both the YAML and the INI readers fill in.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::{Diagnostics, Loc};
use crate::value::Node;

#[derive(Debug, Default)]
pub struct RawHost {
    pub name: String,
    pub loc: Option<Loc>,
    /// Where an address variable was first set, to catch one host written with two addresses.
    pub address_set: Vec<(String, String, Loc)>,
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
    /// Host names in `hosts`, for a constant-time membership test.
    pub host_set: HashSet<String>,
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

    /// A group declared by a section or a key. Two spellings of one group (`k8s-cluster` and
    /// `k8s_cluster`) are two groups to Ansible but one to kubespray's playbooks: refused.
    pub fn declare(&mut self, spelled: &str, loc: &Loc) {
        let g = self.group_mut(spelled, Some(loc));
        if g.declared && g.spelled != spelled {
            let first = g.spelled.clone();
            let first_loc = g.loc.as_ref().map(|l| format!(" (line {})", l.line)).unwrap_or_default();
            self.diags
                .error(Some(loc.clone()), format!("group `{spelled}` and group `{first}`{first_loc} are both spellings of one kubespray group"))
                .notes
                .push(format!("help: use one spelling for the group everywhere (e.g. `{}`), also in group_vars/", canonical_group(spelled)));
            return;
        }
        g.spelled = spelled.to_string();
        g.declared = true;
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
            let mut conflict = None;
            for (k, n) in &v {
                if !ADDRESS_VARS.contains(&k.as_str()) {
                    continue;
                }
                let Some(text) = n.scalar_text() else { continue };
                match h.address_set.iter().find(|(ak, _, _)| ak == k) {
                    Some((_, old, oloc)) if *old != text => conflict = Some((k.clone(), old.clone(), oloc.line, text)),
                    Some(_) => {}
                    None => h.address_set.push((k.clone(), text, n.loc.clone())),
                }
            }
            // Later occurrences win key by key, as in Ansible; readers insert in order, so
            // the last of two equal keys is the one that counts.
            h.vars.extend(v);
            if let Some((k, old, line, new)) = conflict {
                self.diags
                    .error(Some(loc.clone()), format!("host `{name}` is defined twice with different addresses: `{k}` is {old} at line {line} and {new} here"))
                    .notes
                    .push("help: a host has one address; remove one of the two lines (Ansible would silently keep the last)".into());
            }
        }
        let g = self.group_mut(group, None);
        if g.host_set.insert(name.to_string()) {
            g.hosts.push((name.to_string(), loc.clone()));
        }
    }
}

/// Variables that say where a host is.
const ADDRESS_VARS: &[&str] = &["ip", "access_ip", "ansible_host", "ansible_ssh_host"];

/// Valid Ansible group name characters (kubespray's dashed legacy names included).
pub fn valid_group_name(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}
