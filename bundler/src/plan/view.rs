//! What bundler reads from an inventory, as plain data: the hosts of the groups it uses,
//! each host's address variables and the cluster variables, resolved as the plan resolves
//! them. The differential test (tests/integration/ansible_diff.rs) compares it with Ansible's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::vars::{self, Scope};
use super::CLUSTER_VARS;
use crate::error::Diagnostics;
use crate::inventory::{self, Inventory};
use crate::value::{Kind, Node};

/// Per-host variables that decide where a host is and what etcd calls it.
pub const HOST_VARS: &[&str] = &["ip", "access_ip", "ansible_host", "ansible_ssh_host", "ansible_port", "etcd_member_name"];

#[derive(Debug, Serialize)]
pub struct View {
    /// Canonical group name (`kube_control_plane`, `kube_node`, `etcd`, `k8s_cluster`) to its hosts.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Whether the inventory itself declares `k8s_cluster` (or `k8s-cluster`).
    pub cluster_declared: bool,
    /// Host name to `HOST_VARS` that are set: a typed value (`{"t", "v"}`) or `{"err": message}`.
    pub hosts: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Cluster variables that are set, resolved as for a `k8s_cluster` host.
    pub cluster: BTreeMap<String, serde_json::Value>,
    /// Cluster variables set on another group or on a host (ignored, with a warning).
    pub misplaced: Vec<String>,
    /// Warnings from reading the inventory.
    pub warnings: Vec<String>,
}

/// The names the plan reads cluster-wide (monitoring and others append theirs to `CLUSTER_VARS`).
pub fn cluster_var_names() -> &'static [&'static str] {
    CLUSTER_VARS
}

fn resolved(scope: &Scope, name: &str) -> serde_json::Value {
    let mut diags = Diagnostics::default();
    match scope.get(name, &mut diags) {
        Some(n) if !diags.has_errors() => typed(&n),
        _ => serde_json::json!({"err": diags.0.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; ")}),
    }
}

/// A value as `{"t": type, "v": value}`, with Python's type names (what Ansible's view prints).
pub fn typed(n: &Node) -> serde_json::Value {
    use serde_json::json;
    match &n.kind {
        Kind::Null => json!({"t": "null", "v": null}),
        Kind::Bool(b) => json!({"t": "bool", "v": b}),
        Kind::Int(i) => json!({"t": "int", "v": i}),
        Kind::Float(f) if f.is_finite() => json!({"t": "float", "v": f}),
        Kind::Float(f) => json!({"t": "float", "v": f.to_string()}),
        Kind::Str(s) => json!({"t": "str", "v": s}),
        Kind::Vault(_) => json!({"err": "an ansible-vault encrypted value"}),
        Kind::Seq(items) => json!({"t": "list", "v": items.iter().map(typed).collect::<Vec<_>>()}),
        Kind::Map(m) => json!({"t": "dict", "v": m.iter().map(|(k, _, v)| (k.clone(), typed(v))).collect::<serde_json::Map<_, _>>()}),
    }
}

pub fn view(inv: &Inventory) -> View {
    let empty = BTreeMap::new();
    let mut groups = BTreeMap::new();
    for g in [inventory::CONTROL_PLANE, inventory::NODES, inventory::ETCD, inventory::CLUSTER] {
        groups.insert(g.to_string(), inv.group_hosts(g).to_vec());
    }
    let mut hosts = BTreeMap::new();
    for h in &inv.hosts {
        let scope = Scope { layers: vec![&h.vars, &empty] };
        let vs = HOST_VARS.iter().filter(|v| scope.raw(v).is_some()).map(|v| (v.to_string(), resolved(&scope, v))).collect();
        hosts.insert(h.name.clone(), vs);
    }
    let defaults = vars::defaults();
    let scope = Scope { layers: vec![&inv.cluster_vars, &defaults] };
    let cluster = CLUSTER_VARS.iter().filter(|v| inv.cluster_vars.contains_key(**v)).map(|v| (v.to_string(), resolved(&scope, v))).collect();
    let mut misplaced: Vec<String> = inv.misplaced.iter().map(|(n, _)| n.clone()).filter(|n| CLUSTER_VARS.contains(&n.as_str())).collect();
    misplaced.sort();
    misplaced.dedup();
    View {
        groups,
        cluster_declared: inv.groups.get(inventory::CLUSTER).is_some_and(|g| g.declared),
        hosts,
        cluster,
        misplaced,
        warnings: inv.diags.warnings().map(|d| d.to_string()).collect(),
    }
}
