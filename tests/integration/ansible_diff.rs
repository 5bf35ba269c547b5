//! Differential test: bundler reads inventories as Ansible itself does. Ansible's view comes
//! from ansible-core's InventoryManager/VariableManager in one Python process for all cases
//! (tests/ansible/oracle.py); bundler's from `bundler::plan::view` and `bundler::plan`.
//! Cases: the real-world corpus in tests/inventories/ansible-corpus/ (each file says where it
//! came from) and a seeded generator of mutations. A difference fails the test unless a rule
//! in `STRICTER` explains it (bundler refuses and says what to change); the README's
//! "Inventories" section lists the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::util::root;

/// Where bundler is deliberately stricter than Ansible: rule, and the words its message holds.
const STRICTER: &[(&str, &str)] = &[
    // Ansible keeps the last of two equal keys (with a warning); which one was meant is a guess.
    ("duplicate-yaml-key", "appears twice in one mapping"),
    // Ansible keeps the last address; a host written twice with two addresses is a typo either way.
    ("host-twice-two-addresses", "is defined twice with different addresses"),
    // `k8s-cluster` and `k8s_cluster` are two groups to Ansible, one to kubespray's playbooks.
    ("two-spellings-of-one-group", "both spellings"),
    // Ansible skips a top-level key that is not a group with a warning; it is a variables file.
    ("not-an-inventory", "this file is not an inventory"),
    // A template bundler cannot evaluate offline (filters, lookups, a list put into a string).
    ("template", "bundler resolves only plain"),
    // A UTF-8 byte order mark in an INI file: Ansible reads it as part of the first line (a
    // host named U+FEFF before a comment, or a section header it then refuses).
    ("bom-in-ini", "byte order mark"),
    // A value encrypted with ansible-vault: bundler has no vault password.
    ("vault", "ansible-vault"),
];

/// The spellings kubespray uses for each group bundler reads.
const SPELLINGS: &[(&str, &[&str])] = &[
    ("kube_control_plane", &["kube_control_plane", "kube-master", "kube_master"]),
    ("kube_node", &["kube_node", "kube-node"]),
    ("etcd", &["etcd"]),
    ("k8s_cluster", &["k8s_cluster", "k8s-cluster"]),
];

struct Case {
    id: String,
    inventory: PathBuf,
    classes: Vec<&'static str>,
}

/// splitmix64: a seeded generator, so every run makes the same cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn corpus() -> Vec<Case> {
    let dir = root().join("tests/inventories/ansible-corpus");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for d in entries {
        for f in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if f.is_file() && name.starts_with("hosts") {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(text.contains("Source: "), "{}: a corpus file says where it came from", f.display());
                out.push(Case { id: format!("corpus/{}", d.file_name().unwrap().to_string_lossy()), inventory: f, classes: vec!["corpus"] });
            }
        }
    }
    out
}

/// A cluster variable in both forms: (name, INI text, YAML text).
const CLUSTER_VALUES: &[(&str, &str, &str)] = &[
    ("cluster_name", "cluster.local", "cluster.local"),
    ("cluster_name", "010", "010"),
    ("cluster_name", "\"k8s.local\"", "\"010\""),
    ("dns_domain", "\"{{ cluster_name }}\"", "\"{{ cluster_name }}\""),
    ("dns_domain", "c{{ cluster_name }}.local", "\"c{{ cluster_name }}.local\""),
    ("dns_domain", "example.local", "example.local"),
    ("kube_network_node_prefix", "24", "24"),
    ("kube_network_node_prefix", "\"25\"", "\"25\""),
    ("kube_apiserver_port", "6443", "6443"),
    ("kube_apiserver_port", "'443'", "'443'"),
    ("dashboard_enabled", "True", "true"),
    ("dashboard_enabled", "true", "yes"),
    ("dashboard_enabled", "\"no\"", "\"false\""),
    ("dashboard_enabled", "False", "off"),
    ("kube_proxy_mode", "iptables", "iptables"),
    ("kube_proxy_mode", "ipvs", "ipvs"),
    ("kube_version", "v1.9.5", "v1.9.5"),
    ("kube_version", "1.9.11", "\"1.9.11\""),
    ("docker_version", "17.12", "\"17.12\""),
    ("supplementary_addresses_in_ssl_keys", "['10.9.9.9', 'lb.example.com']", "[10.9.9.9, lb.example.com]"),
    ("kube_service_addresses", "10.233.0.0/18", "10.233.0.0/18"),
    ("bundle_name", "mycluster", "mycluster"),
    ("kube_network_plugin", "flannel", "flannel"),
];

struct Gen {
    files: BTreeMap<String, String>,
    classes: Vec<&'static str>,
}

impl Gen {
    fn class(&mut self, c: &'static str) {
        if !self.classes.contains(&c) {
            self.classes.push(c);
        }
    }
}

/// One generated inventory (and its group_vars/host_vars) from a seed.
#[allow(clippy::needless_range_loop)] // hosts are numbered; several lists are indexed by that number
fn generate(seed: u64) -> Gen {
    let mut r = Rng(seed.wrapping_mul(7919) ^ 0x5eed);
    let mut g = Gen { files: BTreeMap::new(), classes: Vec::new() };
    let ini = r.chance(55);
    g.class(if ini { "ini" } else { "yaml" });
    let n = 2 + r.below(4);
    let style = *r.pick(&["node{}", "k8s-{}", "host-{}.example.com"]);
    let names: Vec<String> = (1..=n).map(|i| style.replace("{}", &i.to_string())).collect();
    let net = 1 + (seed % 200);
    let addr = |i: usize| format!("10.{net}.0.{}", 10 + i);
    let cp: Vec<usize> = if n >= 3 && r.chance(40) { vec![0, 1] } else { vec![0] };
    let mut nodes: Vec<usize> = (cp.len()..n).collect();
    if r.chance(30) {
        nodes.insert(0, 0);
    }
    let etcd: Vec<usize> = if n >= 3 && r.chance(50) { vec![0, 1, 2] } else { vec![0] };
    let legacy = r.chance(40);
    if legacy {
        g.class("legacy-spelling");
    }
    let (cp_g, node_g, cl_g) = if legacy { ("kube-master", "kube-node", "k8s-cluster") } else { ("kube_control_plane", "kube_node", "k8s_cluster") };
    let declare_cluster = r.chance(85);
    if !declare_cluster {
        g.class("k8s_cluster-undeclared");
    }

    // Each host's variables, as (key, INI text, YAML text).
    let mut hvars: Vec<Vec<(String, String, String)>> = Vec::new();
    let mut ports: Vec<Option<u16>> = vec![None; n];
    for i in 0..n {
        let a = addr(i);
        let mut v: Vec<(String, String, String)> = Vec::new();
        match r.below(7) {
            0 => v.push(("ip".into(), a.clone(), a.clone())),
            1 => v.push(("ansible_host".into(), a.clone(), a.clone())),
            2 => {
                g.class("ansible_ssh_host");
                v.push(("ansible_ssh_host".into(), a.clone(), a.clone()))
            }
            3 => {
                v.push(("ip".into(), a.clone(), a.clone()));
                v.push(("access_ip".into(), a.clone(), a.clone()));
            }
            4 => {
                g.class("ssh_host-and-host");
                v.push(("ansible_host".into(), format!("192.0.2.{}", 10 + i), format!("192.0.2.{}", 10 + i)));
                v.push(("ansible_ssh_host".into(), a.clone(), a.clone()));
            }
            5 => {
                g.class("ssh-name");
                v.push(("ip".into(), a.clone(), a.clone()));
                v.push(("ansible_host".into(), format!("h{i}.example.net"), format!("h{i}.example.net")));
            }
            _ => {
                g.class("host-port");
                v.push(("ip".into(), a.clone(), a.clone()));
                ports[i] = Some(2200 + i as u16);
            }
        }
        if etcd.contains(&i) && r.chance(25) {
            g.class("etcd_member_name");
            v.push(("etcd_member_name".into(), format!("etcd-{}", i + 1), format!("etcd-{}", i + 1)));
        }
        if r.chance(10) {
            g.class("literal-types");
            v.push(("ansible_become".into(), "True".into(), "yes".into()));
            v.push(("node_labels".into(), "\"{'role': 'x'}\"".into(), "{role: x}".into()));
        }
        hvars.push(v);
    }
    // A host address given as a list or a mapping (YAML): Ansible keeps it; bundler must refuse, not drop the host.
    if !ini && r.chance(6) {
        g.class("address-not-scalar");
        let i = r.below(n);
        hvars[i] = vec![("ip".into(), String::new(), format!("[{}]", addr(i)))];
    }

    // Cluster variables and where they go.
    let mut chosen: BTreeMap<&str, (String, String)> = BTreeMap::new();
    for _ in 0..r.below(6) {
        let (k, iv, yv) = *r.pick(CLUSTER_VALUES);
        if k == "dns_domain" && iv.contains("cluster_name") && !chosen.contains_key("cluster_name") {
            continue;
        }
        chosen.insert(k, (iv.to_string(), yv.to_string()));
    }
    if chosen.contains_key("cluster_name") {
        g.class("template-typed");
    }
    let mut all_vars: Vec<(String, String, String)> = Vec::new();
    let mut cl_vars: Vec<(String, String, String)> = Vec::new();
    let mut gv: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (k, (iv, yv)) in &chosen {
        let place = if declare_cluster { r.below(6) } else { r.below(3) };
        match place {
            0 => all_vars.push((k.to_string(), iv.clone(), yv.clone())),
            1 => gv.entry("all.yml".into()).or_default().push((k.to_string(), yv.clone())),
            2 => {
                g.class("group_vars-folder");
                gv.entry("all/10-main.yml".into()).or_default().push((k.to_string(), yv.clone()))
            }
            3 => cl_vars.push((k.to_string(), iv.clone(), yv.clone())),
            4 => gv.entry(format!("{cl_g}.yml")).or_default().push((k.to_string(), yv.clone())),
            _ => {
                g.class("group_vars-folder");
                gv.entry(format!("{cl_g}/main.yml")).or_default().push((k.to_string(), yv.clone()))
            }
        }
    }
    // Conflicting values on a parent (all) and a child (k8s_cluster): the child wins.
    if declare_cluster && r.chance(20) {
        g.class("parent-child-conflict");
        all_vars.push(("bundle_name".into(), "parent".into(), "parent".into()));
        cl_vars.push(("bundle_name".into(), "child".into(), "child".into()));
    }
    // group_vars/NAME.yml beside group_vars/NAME/: Ansible reads only the folder.
    if r.chance(15) {
        g.class("group_vars-file-and-folder");
        gv.entry("all.yml".into()).or_default().push(("bundle_name".into(), "fromfile".into()));
        gv.entry("all/x.yml".into()).or_default().push(("bundle_name".into(), "fromfolder".into()));
    }
    // group_vars for the other spelling of an undeclared group: Ansible never reads it.
    if r.chance(10) {
        g.class("group_vars-other-spelling");
        let other = if legacy { "k8s_cluster.yml" } else { "k8s-cluster.yml" };
        gv.entry(other.into()).or_default().push(("cluster_name".into(), "other.spelling".into()));
    }
    // A vault value: unused (harmless) or on a variable bundler reads (refused).
    if !ini && r.chance(8) {
        g.class("vault-value");
        let name = if r.chance(50) { "ansible_become_password" } else { "bundle_name" };
        all_vars.push((name.into(), String::new(), "!vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        62313365396662343061393464336163383764373764613633653634306231386433626436623361\n        6134333665353966363534333632666535333761666131620a663537646436643839616531643561".into()));
    }
    // A cluster variable on another group: ignored with a warning.
    let mut node_group_vars: Vec<(String, String, String)> = Vec::new();
    if r.chance(10) {
        g.class("misplaced-cluster-var");
        node_group_vars.push(("kube_proxy_mode".into(), "ipvs".into(), "ipvs".into()));
    }
    // Ranges: consecutive `nodeN` hosts listed as `node[a:b]`, their addresses in host_vars/.
    let use_range = style == "node{}" && nodes.len() >= 2 && nodes.windows(2).all(|w| w[1] == w[0] + 1) && r.chance(35);
    let nested = r.chance(25);
    for (i, v) in hvars.iter().enumerate() {
        if use_range && nodes.contains(&i) || r.chance(8) {
            let body: String = v.iter().map(|(k, _, y)| format!("{k}: {y}\n")).collect();
            g.files.insert(format!("host_vars/{}.yml", names[i]), body);
            g.class("host_vars");
        }
    }
    let hv_files: BTreeSet<usize> = (0..n).filter(|i| g.files.contains_key(&format!("host_vars/{}.yml", names[*i]))).collect();
    let in_host_vars = |_: &(), i: usize| hv_files.contains(&i);
    for (file, vars) in &gv {
        let body: String = vars.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        g.files.insert(format!("group_vars/{file}"), body);
    }

    let inv_name;
    let mut text = String::new();
    if ini {
        inv_name = if r.chance(80) { "hosts.ini" } else { "inventory.cfg" };
        let sep = if r.chance(8) {
            g.class("crlf");
            "\r\n"
        } else {
            "\n"
        };
        let comment_header = r.chance(20);
        if comment_header {
            g.class("comment-after-header");
        }
        let hdr = |name: &str, kind: &str| {
            let k = if kind.is_empty() { String::new() } else { format!(":{kind}") };
            if comment_header {
                format!("[{name}{k}]   # {name}")
            } else {
                format!("[{name}{k}]")
            }
        };
        let host_line = |i: usize, with_vars: bool| {
            let mut s = match ports[i] {
                Some(p) => format!("{}:{p}", names[i]),
                None => names[i].clone(),
            };
            if with_vars {
                for (k, iv, _) in &hvars[i] {
                    let _ = write!(s, " {k}={iv}");
                }
            }
            s
        };
        let mut sections: Vec<Vec<String>> = Vec::new();
        // Host definitions in [all] (or before any section), or inline in their first group.
        let defs_in_all = r.chance(70);
        let mut all_sec = vec![];
        if defs_in_all {
            let top = r.chance(20);
            if top {
                g.class("hosts-before-sections");
            } else {
                all_sec.push(hdr("all", ""));
            }
            for i in 0..n {
                if in_host_vars(&(), i) && ports[i].is_none() {
                    continue;
                }
                let mut l = host_line(i, !in_host_vars(&(), i));
                if r.chance(10) {
                    g.class("comment-on-host-line");
                    l.push_str("   # a comment ip=10.255.255.1");
                }
                all_sec.push(l);
            }
            if top {
                text.push_str(&all_sec.join(sep));
                text.push_str(sep);
                all_sec.clear();
            }
        }
        let inline = |i: usize, listed: &mut BTreeSet<usize>| -> String {
            let first = listed.insert(i);
            host_line(i, first && !defs_in_all && !in_host_vars(&(), i))
        };
        let mut listed = BTreeSet::new();
        if !all_sec.is_empty() {
            sections.push(all_sec);
        }
        let cp_kind = if r.chance(10) {
            g.class("hosts-section-suffix");
            "hosts"
        } else {
            ""
        };
        let mut s = vec![hdr(cp_g, cp_kind)];
        for &i in &cp {
            s.push(inline(i, &mut listed));
        }
        sections.push(s);
        let mut s = vec![hdr("etcd", "")];
        for &i in &etcd {
            s.push(inline(i, &mut listed));
        }
        sections.push(s);
        if nested {
            g.class("nested-children");
            sections.push(vec![hdr(node_g, "children"), "workers".into()]);
            let mut s = vec![hdr("workers", "")];
            if use_range {
                g.class("range");
                s.push(format!("node[{}:{}]", nodes[0] + 1, nodes[nodes.len() - 1] + 1));
            } else {
                for &i in &nodes {
                    s.push(inline(i, &mut listed));
                }
            }
            sections.push(s);
        } else {
            let mut s = vec![hdr(node_g, "")];
            if use_range {
                g.class("range");
                s.push(format!("node[{}:{}]", nodes[0] + 1, nodes[nodes.len() - 1] + 1));
            } else {
                for &i in &nodes {
                    s.push(inline(i, &mut listed));
                }
            }
            sections.push(s);
        }
        if declare_cluster {
            sections.push(vec![hdr(cl_g, "children"), cp_g.into(), node_g.into()]);
        }
        let vars_sec = |name: &str, vars: &[(String, String, String)], r: &mut Rng| {
            let mut s = vec![hdr(name, "vars")];
            for (k, iv, _) in vars {
                if iv.is_empty() {
                    continue;
                }
                s.push(if r.chance(30) { format!("{k} = {iv}") } else { format!("{k}={iv}") });
            }
            s
        };
        if !all_vars.is_empty() {
            sections.push(vars_sec("all", &all_vars, &mut r));
        }
        if !cl_vars.is_empty() {
            sections.push(vars_sec(cl_g, &cl_vars, &mut r));
        }
        if !node_group_vars.is_empty() {
            sections.push(vars_sec(node_g, &node_group_vars, &mut r));
        }
        if r.chance(10) {
            g.class("ignored-group");
            sections.push(vec![hdr("calico_rr", "")]);
        }
        // Section order does not matter to Ansible (children may come before their groups).
        if r.chance(40) {
            g.class("section-order");
            for k in (1..sections.len()).rev() {
                let j = r.below(k + 1);
                sections.swap(k, j);
            }
        }
        for s in &sections {
            if r.chance(15) {
                g.class("comment-lines");
                text.push_str(if r.chance(50) { "# a comment" } else { "; a comment" });
                text.push_str(sep);
            }
            text.push_str(&s.join(sep));
            text.push_str(sep);
            if r.chance(30) {
                text.push_str(sep);
            }
        }
        // Mutations Ansible refuses.
        match r.below(40) {
            0 => {
                g.class("refused:space-in-section");
                text = text.replacen(&format!("[{cp_g}]"), &format!("[{cp_g} ]"), 1);
            }
            1 => {
                g.class("refused:vars-for-undeclared-group");
                let _ = write!(text, "[nosuchgroup:vars]{sep}x=1{sep}");
            }
            2 => {
                g.class("refused:yaml-marker");
                text = format!("---{sep}{text}");
            }
            3 => {
                g.class("refused:undefined-child");
                let _ = write!(text, "[extra:children]{sep}nosuchgroup{sep}");
            }
            4 => {
                g.class("bom");
                text = format!("\u{feff}{text}");
            }
            5 => {
                g.class("host-twice-two-addresses");
                let _ = write!(text, "[other]{sep}{} ip=10.{net}.9.9{sep}", names[n - 1]);
            }
            _ => {}
        }
    } else {
        inv_name = if r.chance(70) { "hosts.yaml" } else { "hosts.yml" };
        let yv = |v: &[(String, String, String)], indent: usize| -> String {
            v.iter().filter(|(_, _, y)| !y.is_empty()).map(|(k, _, y)| format!("{:indent$}{k}: {y}\n", "")).collect()
        };
        if r.chance(20) {
            g.class("yaml-document-marker");
            text.push_str("---\n");
        }
        text.push_str("all:\n");
        let defs_in_all = r.chance(75);
        let anchors = defs_in_all && r.chance(15);
        if anchors {
            g.class("anchors");
            text.push_str("  vars:\n    x_common: &common\n      ansible_user: centos\n");
        }
        if defs_in_all {
            text.push_str("  hosts:\n");
            for i in 0..n {
                let key = match ports[i] {
                    Some(p) => format!("{}:{p}", names[i]),
                    None => names[i].clone(),
                };
                if in_host_vars(&(), i) {
                    text.push_str(&format!("    {key}:{}\n", if r.chance(50) { "" } else { " ~" }));
                } else {
                    text.push_str(&format!("    {key}:\n"));
                    if anchors {
                        text.push_str("      <<: *common\n");
                    }
                    text.push_str(&yv(&hvars[i], 6));
                }
            }
        }
        if !all_vars.is_empty() {
            if !anchors {
                text.push_str("  vars:\n");
            }
            text.push_str(&yv(&all_vars, 4));
        }
        text.push_str("  children:\n");
        let mut listed = BTreeSet::new();
        let mut group = |text: &mut String, name: &str, members: &[usize], vars: &[(String, String, String)], indent: usize| {
            let pad = " ".repeat(indent);
            text.push_str(&format!("{pad}{name}:\n"));
            if !members.is_empty() {
                text.push_str(&format!("{pad}  hosts:\n"));
                for &i in members {
                    let first = listed.insert(i);
                    let key = match ports[i] {
                        Some(p) => format!("{}:{p}", names[i]),
                        None => names[i].clone(),
                    };
                    if first && !defs_in_all && !in_host_vars(&(), i) {
                        text.push_str(&format!("{pad}    {key}:\n"));
                        text.push_str(&yv(&hvars[i], indent + 6));
                    } else {
                        text.push_str(&format!("{pad}    {key}:{}\n", if i % 2 == 0 { "" } else { " {}" }));
                    }
                }
            }
            if !vars.is_empty() {
                text.push_str(&format!("{pad}  vars:\n"));
                text.push_str(&yv(vars, indent + 4));
            }
        };
        group(&mut text, cp_g, &cp, &[], 4);
        group(&mut text, "etcd", &etcd, &[], 4);
        if nested {
            g.class("nested-children");
            text.push_str(&format!("    {node_g}:\n      children:\n"));
            group(&mut text, "workers", &nodes, &node_group_vars, 8);
        } else {
            group(&mut text, node_g, &nodes, &node_group_vars, 4);
        }
        if declare_cluster {
            text.push_str(&format!("    {cl_g}:\n      children:\n        {cp_g}:\n        {node_g}:\n"));
            if !cl_vars.is_empty() {
                text.push_str("      vars:\n");
                text.push_str(&yv(&cl_vars, 8));
            }
        }
        if r.chance(10) {
            g.class("ignored-group");
            text.push_str("    calico_rr:\n      hosts: {}\n");
        }
        match r.below(30) {
            0 => {
                g.class("bom");
                text = format!("\u{feff}{text}");
            }
            1 => {
                g.class("duplicate-yaml-key");
                text.push_str(&format!("    etcd:\n      hosts:\n        {}:\n", names[0]));
            }
            _ => {}
        }
    }
    g.files.insert(inv_name.to_string(), text);
    g.files.insert("INVENTORY".into(), inv_name.to_string());
    g
}

fn oracle(cases: &[Case], vars: &[&str]) -> Value {
    let manifest = json!({
        "vars": vars,
        "cases": cases.iter().map(|c| json!({"id": c.id, "inventory": c.inventory})).collect::<Vec<_>>(),
    });
    let mut child = Command::new("python3")
        .arg(root().join("tests/ansible/oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with ansible-core, installed by scripts/test.sh) runs");
    child.stdin.take().unwrap().write_all(manifest.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Ansible oracle failed (is ansible-core installed? scripts/test.sh installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle prints JSON")
}

/// Ansible's hosts of a bundler group: the union of its spellings, in Ansible's order.
fn ansible_group(a: &Value, canonical: &str) -> (bool, Vec<String>) {
    let spellings = SPELLINGS.iter().find(|(c, _)| *c == canonical).unwrap().1;
    let mut out: Vec<String> = Vec::new();
    let mut declared = false;
    for s in spellings {
        if let Some(hs) = a["groups"][*s].as_array() {
            declared = true;
            for h in hs {
                let h = h.as_str().unwrap().to_string();
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
    }
    (declared, out)
}

fn stricter_rule(msgs: &[String]) -> Option<&'static str> {
    STRICTER.iter().find(|(_, needle)| msgs.iter().any(|m| m.contains(needle))).map(|(r, _)| *r)
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

/// The first defined value of a kubespray address chain, from Ansible's view of a host.
fn chain(hv: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| hv.get(*n).filter(|v| !v["v"].is_null()).and_then(|v| v["v"].as_str().map(str::to_string)))
}

#[derive(Default)]
struct Tally {
    classes: BTreeMap<String, usize>,
    deviations: Vec<String>,
}

impl Tally {
    fn add(&mut self, c: impl Into<String>) {
        *self.classes.entry(c.into()).or_default() += 1;
    }
    fn deviate(&mut self, case: &Case, what: &str, detail: String) {
        self.add(format!("DEVIATION {what}"));
        self.deviations.push(format!("{} [{}] {what}: {detail}", case.id, case.classes.join(",")));
    }
}

fn compare(case: &Case, a: &Value, t: &mut Tally) {
    let loaded = std::panic::catch_unwind(|| bundler::inventory::load(&case.inventory));
    let loaded = match loaded {
        Ok(l) => l,
        Err(_) => return t.deviate(case, "panic", "bundler panicked reading the inventory".into()),
    };
    let a_ok = a["ok"].as_bool().unwrap();
    let inv = match loaded {
        Ok(inv) => inv,
        Err(e) => {
            let msgs: Vec<String> = match &e {
                bundler::Error::Input(d) => d.0.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect(),
                other => vec![other.to_string()],
            };
            if !a_ok {
                return t.add("both refuse");
            }
            match stricter_rule(&msgs) {
                Some(rule) => return t.add(format!("stricter: {rule}")),
                None => return t.deviate(case, "bundler refuses what Ansible reads", msgs.join(" | ")),
            }
        }
    };
    if !a_ok {
        return t.deviate(case, "bundler reads what Ansible refuses", a["error"].as_str().unwrap_or("").to_string());
    }
    let v = bundler::plan::view::view(&inv);
    let mut explained = Vec::new();
    let mut n_dev = t.deviations.len();

    // Group membership.
    for (canon, _) in SPELLINGS {
        let (declared, ah) = ansible_group(a, canon);
        let bh = &v.groups[*canon];
        if *canon == "k8s_cluster" {
            // bundler's k8s_cluster is always control plane ∪ nodes, declared or not.
            let a_set: BTreeSet<&String> = ah.iter().collect();
            let b_set: BTreeSet<&String> = bh.iter().collect();
            if declared && !a_set.is_subset(&b_set) {
                t.deviate(case, "group hosts", format!("{canon}: Ansible {ah:?}, bundler {bh:?}"));
            } else if a_set != b_set {
                explained.push("k8s_cluster is control plane + nodes");
            }
        } else if *canon == "etcd" {
            if &ah != bh {
                t.deviate(case, "group hosts", format!("{canon}: Ansible {ah:?}, bundler {bh:?}"));
            }
        } else {
            let a_set: BTreeSet<&String> = ah.iter().collect();
            let b_set: BTreeSet<&String> = bh.iter().collect();
            if a_set != b_set {
                t.deviate(case, "group hosts", format!("{canon}: Ansible {ah:?}, bundler {bh:?}"));
            }
        }
    }
    let used: BTreeSet<String> = ["kube_control_plane", "kube_node", "etcd"].iter().flat_map(|g| ansible_group(a, g).1).collect();

    // Each host's address variables and their types.
    for h in &used {
        let av = &a["hosts"][h];
        let Some(bv) = v.hosts.get(h) else {
            t.deviate(case, "host missing", format!("{h} is in Ansible's groups, not in bundler's"));
            continue;
        };
        for var in bundler::plan::view::HOST_VARS {
            let (x, y) = (av.get(*var), bv.get(*var));
            match (x, y) {
                (None, None) => {}
                (Some(x), Some(y)) if x.get("err").is_some() && y.get("err").is_some() => {}
                (Some(x), Some(y)) if y.get("err").is_some() && x.get("err").is_none() => {
                    let m = y["err"].as_str().unwrap_or("").to_string();
                    match stricter_rule(std::slice::from_ref(&m)) {
                        Some(rule) => explained.push(rule),
                        None => t.deviate(case, "host variable", format!("{h}.{var}: Ansible {x}, bundler error {m}")),
                    }
                }
                (Some(x), Some(y)) if same(x, y) => {}
                (x, y) => t.deviate(case, "host variable", format!("{h}.{var}: Ansible {x:?}, bundler {y:?}")),
            }
        }
    }

    // Cluster variables as a k8s_cluster host sees them (the first control-plane host).
    let reference = ansible_group(a, "kube_control_plane").1.into_iter().next().or_else(|| used.iter().next().cloned());
    if let Some(h) = &reference {
        let av = &a["hosts"][h];
        for var in bundler::plan::view::cluster_var_names() {
            if v.misplaced.iter().any(|m| m == var) {
                explained.push("misplaced cluster variable (warned)");
                continue;
            }
            let (x, y) = (av.get(*var), v.cluster.get(*var));
            match (x, y) {
                (None, None) => {}
                (Some(x), Some(y)) if x.get("err").is_some() && y.get("err").is_some() => {}
                (Some(x), Some(y)) if y.get("err").is_some() && x.get("err").is_none() => {
                    let m = y["err"].as_str().unwrap_or("").to_string();
                    match stricter_rule(std::slice::from_ref(&m)) {
                        Some(rule) => explained.push(rule),
                        None => t.deviate(case, "cluster variable", format!("{var}: Ansible {x}, bundler error {m}")),
                    }
                }
                (Some(x), Some(y)) if same(x, y) => {}
                (x, y) => t.deviate(case, "cluster variable", format!("{var} (host {h}): Ansible {x:?}, bundler {y:?}")),
            }
        }
    }

    // The plan: never a panic, never a host of a cluster group missing, addresses by kubespray's chain.
    let planned = std::panic::catch_unwind(|| bundler::plan(&case.inventory, None));
    match planned {
        Err(_) => t.deviate(case, "panic", "bundler panicked planning".into()),
        Ok(Ok(plan)) => {
            t.add("plan: built");
            for h in &used {
                let Some(ph) = plan.hosts.iter().find(|p| &p.name == h) else {
                    t.deviate(case, "plan host missing", format!("{h} is in a cluster group but not in the plan"));
                    continue;
                };
                let av = &a["hosts"][h];
                // kubespray binds to `ip`; bundler stands in `access_ip`, then the SSH target Ansible
                // connects to (ansible_ssh_host wins over ansible_host, see plan::host_address).
                let want = chain(av, &["ip", "access_ip", "ansible_ssh_host", "ansible_host"]);
                if want.as_deref() != Some(ph.address.to_string().as_str()) {
                    t.deviate(case, "plan address", format!("{h}: Ansible's chain gives {want:?}, plan {}", ph.address));
                }
                let want = chain(av, &["access_ip"]).unwrap_or_else(|| ph.address.to_string());
                if want != ph.access_address.to_string() {
                    t.deviate(case, "plan access address", format!("{h}: {want} vs {}", ph.access_address));
                }
                if let Some(pos) = ansible_group(a, "etcd").1.iter().position(|x| x == h) {
                    let want = chain(av, &["etcd_member_name"]).unwrap_or(format!("etcd{}", pos + 1));
                    if ph.etcd_member_name.as_deref() != Some(want.as_str()) {
                        t.deviate(case, "plan etcd member name", format!("{h}: {want} vs {:?}", ph.etcd_member_name));
                    }
                }
            }
            if let Some(h) = &reference {
                let av = &a["hosts"][h];
                if let Some(d) = av.get("dns_domain").and_then(|d| d["v"].as_str()) {
                    if !v.misplaced.iter().any(|m| m == "dns_domain") && d != plan.network.dns_domain {
                        t.deviate(case, "plan dns_domain", format!("Ansible {d}, plan {}", plan.network.dns_domain));
                    }
                }
            }
        }
        Ok(Err(e)) => {
            let errs: Vec<bundler::error::Diagnostic> = match &e {
                bundler::Error::Input(d) => d.0.iter().filter(|d| d.is_error()).cloned().collect(),
                _ => Vec::new(),
            };
            t.add("plan: refused");
            for d in errs {
                if d.loc.as_ref().is_none_or(|l| l.line == 0) {
                    t.deviate(case, "plan error without file:line", d.to_string());
                }
            }
        }
    }
    if t.deviations.len() == n_dev {
        n_dev = 0;
        explained.sort();
        explained.dedup();
        if explained.is_empty() {
            t.add("agree");
        }
        for e in explained {
            t.add(format!("explained: {e}"));
        }
    }
    let _ = n_dev;
}

#[test]
fn bundler_reads_inventories_as_ansible_does() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = corpus();
    let n_corpus = cases.len();
    assert!(n_corpus >= 15, "the corpus has {n_corpus} inventories");
    for seed in 0..320u64 {
        let g = generate(seed);
        let dir = tmp.path().join(format!("gen-{seed:03}"));
        for (rel, text) in &g.files {
            if rel == "INVENTORY" {
                continue;
            }
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        cases.push(Case { id: format!("gen/{seed:03}"), inventory: dir.join(&g.files["INVENTORY"]), classes: g.classes });
    }
    let mut names: Vec<&str> = bundler::plan::view::HOST_VARS.to_vec();
    names.extend(bundler::plan::view::cluster_var_names());
    let answers = oracle(&cases, &names);
    let mut t = Tally::default();
    let mut per_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in &cases {
        let before = t.deviations.len();
        compare(c, &answers[&c.id], &mut t);
        for cl in &c.classes {
            let e = per_class.entry(cl).or_default();
            e.0 += 1;
            if t.deviations.len() > before {
                e.1 += 1;
            }
        }
    }
    let mut report = format!("{} cases ({n_corpus} from the corpus, {} generated)\noutcomes:\n", cases.len(), cases.len() - n_corpus);
    for (k, v) in &t.classes {
        let _ = writeln!(report, "  {v:4}  {k}");
    }
    let _ = writeln!(report, "input classes (cases, of which deviate):");
    for (k, (n, d)) in &per_class {
        let _ = writeln!(report, "  {n:4} {d:4}  {k}");
    }
    eprintln!("{report}");
    assert!(t.deviations.is_empty(), "{report}\nunexplained differences from Ansible:\n{}", t.deviations.join("\n"));
}
