//! Inventories as operators write them, valid and invalid; every invalid case asserts the
//! exact message and its file:line:column, and the exit code 2.

use crate::util::Case;

/// The source document's cluster, with `{cp}`, `{node}`, `{etcd}` group names and extra
/// cluster vars substituted in.
fn yaml_inventory(cp: &str, node: &str, cluster: &str, vars: &str) -> String {
    format!(
        "all:
  hosts:
    master:
      ip: 192.168.0.211
    node01:
      ip: 192.168.0.212
    node02:
      ip: 192.168.0.213
  children:
    {cp}:
      hosts:
        master:
    {node}:
      hosts:
        node01:
        node02:
    etcd:
      hosts:
        master:
        node01:
        node02:
    {cluster}:
      children:
        {cp}:
        {node}:
      vars:
        placeholder: 1
{vars}"
    )
}

fn hosts_of(plan: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    plan["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["address"].as_str().unwrap().to_string(),
                h["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

fn source_doc_hosts() -> Vec<(String, String, Vec<String>)> {
    vec![
        ("master".into(), "192.168.0.211".into(), vec!["etcd".into(), "control-plane".into()]),
        ("node01".into(), "192.168.0.212".into(), vec!["etcd".into(), "node".into()]),
        ("node02".into(), "192.168.0.213".into(), vec!["etcd".into(), "node".into()]),
    ]
}

#[test]
fn legacy_yaml_group_names_give_the_same_roles() {
    let c = Case::new();
    c.file("hosts.yaml", &yaml_inventory("kube-master", "kube-node", "k8s-cluster", ""));
    let r = c.plan_json("hosts.yaml");
    r.code(0);
    assert_eq!(hosts_of(&r.json()), source_doc_hosts());
}

#[test]
fn legacy_ini_with_ranges_comments_and_ssh_host() {
    let c = Case::new();
    c.file(
        "inventory/hosts.ini",
        "; legacy kubespray layout\n\
         [all]\n\
         master ansible_ssh_host=192.168.0.211  # the master\n\
         node[1:2] \n\
         \n\
         [kube-master]\n\
         master\n\
         \n\
         [kube-node]\n\
         node[1:2]\n\
         \n\
         [etcd]\n\
         master\n\
         \n\
         [k8s-cluster:children]\n\
         kube-node\n\
         kube-master\n\
         \n\
         [calico-rr]\n\
         \n\
         [bastion]\n",
    );
    c.file("inventory/host_vars/node1.yml", "ip: 10.0.0.1\n");
    c.file("inventory/host_vars/node2/main.yml", "ip: 10.0.0.2\n");
    let r = c.plan_json("inventory/hosts.ini");
    r.code(0);
    let p = r.json();
    let h = hosts_of(&p);
    assert_eq!(h[0], ("master".to_string(), "192.168.0.211".to_string(), vec!["etcd".to_string(), "control-plane".to_string()]));
    assert_eq!(h[1].0, "node1");
    assert_eq!(h[2], ("node2".to_string(), "10.0.0.2".to_string(), vec!["node".to_string()]));
    assert_eq!(p["ignored_groups"], serde_json::json!(["bastion", "calico-rr"]));
}

#[test]
fn group_vars_folders_and_legacy_spelling() {
    let c = Case::new();
    // The group is declared with the legacy spelling, so group_vars/k8s-cluster/ applies (as in
    // Ansible, which reads group_vars only for groups the inventory declares, by their spelling).
    c.file(
        "inv/hosts.yaml",
        "all:\n  hosts:\n    cp1: {ip: 10.1.0.1}\n    w1: {ip: 10.1.0.2}\n  children:\n    kube_control_plane:\n      hosts: {cp1: }\n    kube_node:\n      hosts: {w1: }\n    etcd:\n      hosts: {cp1: }\n    k8s-cluster:\n      children: {kube_control_plane: , kube_node: }\n",
    );
    c.file("inv/group_vars/all/all.yml", "---\ncluster_name: corp.internal\nkube_pods_subnet: 10.200.0.0/16\n");
    c.file("inv/group_vars/all/zz-override.yml", "kube_network_node_prefix: 25\n");
    c.file("inv/group_vars/k8s-cluster/k8s-cluster.yml", "kube_version: v1.9.5\nkube_service_addresses: 10.96.0.0/16\n");
    c.file("inv/group_vars/k8s-cluster/addons.yml", "dashboard_enabled: false\n");
    c.file("inv/group_vars/etcd.yml", "etcd_version: v3.2.24  # ignored here: only cluster-wide places count\n");
    let r = c.plan_json("inv/hosts.yaml");
    r.code(0);
    let p = r.json();
    assert_eq!(p["versions"]["kubernetes"], "v1.9.5");
    assert_eq!(p["network"]["dns_domain"], "corp.internal");
    assert_eq!(p["network"]["pod_cidr"], "10.200.0.0/16");
    assert_eq!(p["network"]["node_prefix"], 25);
    assert_eq!(p["network"]["service_cidr"], "10.96.0.0/16");
    assert_eq!(p["network"]["cluster_dns_ip"], "10.96.0.3");
    assert_eq!(p["addons"]["dashboard"], false);
    assert!(p["images"].as_array().unwrap().iter().all(|i| i["name"] != "dashboard"));
    // v1.9.5 uses kube-dns 1.14.8.
    assert!(p["images"].as_array().unwrap().iter().any(|i| i["name"] == "kube-dns" && i["version"] == "1.14.8"));
    assert_eq!(p["versions"]["etcd"], "v3.0.17");
    let w = serde_json::to_string(&p["warnings"]).unwrap();
    assert!(w.contains("`etcd_version` is set on a group or host"), "{w}");
    // Without the group, Ansible never reads group_vars/k8s-cluster/: neither does bundler, and it says so.
    c.file(
        "inv/hosts.yaml",
        "all:\n  hosts:\n    cp1: {ip: 10.1.0.1}\n    w1: {ip: 10.1.0.2}\n  children:\n    kube_control_plane:\n      hosts: {cp1: }\n    kube_node:\n      hosts: {w1: }\n    etcd:\n      hosts: {cp1: }\n",
    );
    let r = c.plan_json("inv/hosts.yaml");
    r.code(0);
    let p = r.json();
    assert_eq!(p["versions"]["kubernetes"], "v1.9.11");
    let w = serde_json::to_string(&p["warnings"]).unwrap();
    assert!(w.contains("group_vars/k8s-cluster is not read: the inventory declares no group `k8s-cluster`"), "{w}");
}

#[test]
fn plain_references_resolve_and_keep_their_type() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &yaml_inventory(
            "kube_control_plane",
            "kube_node",
            "k8s_cluster",
            "  vars:\n    my_domain: example.test\n    cluster_name: \"{{ my_domain }}\"\n    base_prefix: 23\n    kube_network_node_prefix: \"{{ base_prefix }}\"\n    kube_version: \"{{ pinned }}\"\n    pinned: v1.9.2\n",
        ),
    );
    let r = c.plan_json("hosts.yaml");
    r.code(0);
    let p = r.json();
    assert_eq!(p["network"]["dns_domain"], "example.test");
    assert_eq!(p["network"]["node_prefix"], 23);
    assert_eq!(p["versions"]["kubernetes"], "v1.9.2");
    // Kubernetes v1.9.2 came with kube-dns 1.14.7.
    assert!(p["images"].as_array().unwrap().iter().any(|i| i["name"] == "kube-dns" && i["version"] == "1.14.7"));
}

#[test]
fn richer_templates_are_refused_with_their_line() {
    let c = Case::new();
    c.file("hosts.yaml", &yaml_inventory("kube_control_plane", "kube_node", "k8s_cluster", "  vars:\n    dns_domain: \"{{ cluster_name | upper }}\"\n"));
    c.plan("hosts.yaml", &[]).code(2).has(
        "hosts.yaml:29:17: error: `dns_domain`: `{{ cluster_name | upper }}`: `{{ cluster_name | upper }}` is an expression (filters, lookups or operators); bundler resolves only plain `{{ variable }}` references",
    );
}

#[test]
fn undefined_reference_names_the_variable() {
    let c = Case::new();
    c.file("hosts.yaml", &yaml_inventory("kube_control_plane", "kube_node", "k8s_cluster", "  vars:\n    kube_version: \"{{ nowhere }}\"\n"));
    c.plan("hosts.yaml", &[]).code(2).has("hosts.yaml:29:19: error: `kube_version`: `{{ nowhere }}` refers to `nowhere`, which is not defined");
}

#[test]
fn yaml_11_numbers_are_called_out() {
    let c = Case::new();
    c.file("hosts.yaml", &yaml_inventory("kube_control_plane", "kube_node", "k8s_cluster", "  vars:\n    kube_version: 1.9\n    docker_version: 17.12\n"));
    let r = c.plan("hosts.yaml", &[]);
    r.code(2)
        .has("hosts.yaml:29:19: error: `kube_version`: expected a version string such as \"v1.9.11\", found a number")
        .has("note: YAML reads the unquoted `1.9` as a number (1.9); quote it: `kube_version: \"1.9\"`");
    // docker_version: 17.12 is kubespray's own style and is accepted.
    assert!(!r.stderr.contains("docker_version"), "{}", r.stderr);
}

#[test]
fn anchors_and_merge_keys_in_host_vars() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        "all:\n  vars:\n    defaults: &d {etcd_member_name: shared}\n  hosts:\n    master: {<<: *d, ip: 192.168.0.211, etcd_member_name: m0}\n    node01: {ip: 192.168.0.212}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node: {hosts: {node01: }}\n    etcd: {hosts: {master: }}\n",
    );
    let r = c.plan_json("hosts.yaml");
    r.code(0);
    assert_eq!(r.json()["etcd"]["initial_cluster"], "m0=https://192.168.0.211:2380");
}

#[test]
fn no_control_plane_host() {
    let c = Case::new();
    c.file("hosts.yaml", "all:\n  hosts:\n    n1: {ip: 10.0.0.1}\n  children:\n    kube_node: {hosts: {n1: }}\n    etcd: {hosts: {n1: }}\n");
    c.plan("hosts.yaml", &[])
        .code(2)
        .has("hosts.yaml:1:1: error: no control-plane host: the `kube_control_plane` group (or legacy `kube-master`) is missing or empty");
}

#[test]
fn no_node_and_empty_etcd_are_reported_together() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ip=10.0.0.1\n\n[kube_control_plane]\ncp\n\n[kube_node]\n\n[etcd]\n");
    let r = c.plan("hosts.ini", &[]);
    r.code(2)
        .has("hosts.ini:7:1: error: no node: the `kube_node` group (or legacy `kube-node`) is missing or empty")
        .has("hosts.ini:9:1: error: the `etcd` group is missing or empty; the cluster needs at least one etcd member")
        .has("2 errors found; nothing was downloaded or written");
}

#[test]
fn even_etcd_members_is_a_warning() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ip=10.0.0.1\nw1 ip=10.0.0.2\n\n[kube_control_plane]\ncp\n\n[kube_node]\nw1\n\n[etcd]\ncp\nw1\n");
    let r = c.plan("hosts.ini", &[]);
    r.code(0);
    assert!(r.stdout.contains("hosts.ini:11:1: warning: the etcd group has 2 members, an even number"), "{}", r.stdout);
}

#[test]
fn host_named_in_a_group_but_never_defined() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        "all:\n  hosts:\n    master: {ip: 10.0.0.1}\n    node01: {ip: 10.0.0.2}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node:\n      hosts:\n        node01:\n        node1:\n    etcd: {hosts: {master: }}\n",
    );
    c.plan("hosts.yaml", &[])
        .code(2)
        .has("hosts.yaml:10:9: error: host `node1` is named in a group but never defined: it has no variables anywhere, so no address")
        .has("help: did you mean `node01`?");
}

#[test]
fn host_without_address_and_empty_address() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ansible_user=centos\nw1 ip=\n\n[kube_control_plane]\ncp\n\n[kube_node]\nw1\n\n[etcd]\ncp\n");
    c.plan("hosts.ini", &[])
        .code(2)
        .has("hosts.ini:2:1: error: host `cp` has no address: none of `ip`, `access_ip`, `ansible_host`, `ansible_ssh_host` is set")
        .has("hosts.ini:3:4: error: `ip`: `ip` of host `w1` is present but empty; Ansible does not fall back to another variable for it");
}

#[test]
fn two_hosts_one_address_and_range_with_one_address() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ip=10.0.0.1\nnode[3:4] ansible_host=10.0.0.3\n\n[kube_control_plane]\ncp\n\n[kube_node]\nnode[3:4]\n\n[etcd]\ncp\n");
    c.plan("hosts.ini", &[]).code(2).has("hosts.ini:3:1: error: hosts `node3` and `node4` have one address, 10.0.0.3");
}

#[test]
fn two_hosts_one_name() {
    let c = Case::new();
    c.file("hosts.yaml", "all:\n  hosts:\n    master: {ip: 10.0.0.1}\n    node1: {ip: 10.0.0.2}\n    master: {ip: 10.0.0.3}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node: {hosts: {node1: }}\n    etcd: {hosts: {master: }}\n");
    c.plan("hosts.yaml", &[]).code(2).has("hosts.yaml:5:5: error: key `master` appears twice in one mapping (first at line 3)");
    let c = Case::new();
    c.file("hosts.ini", "[all]\nnode1 ip=10.0.0.1\nNODE1 ip=10.0.0.2\n\n[kube_control_plane]\nnode1\n\n[kube_node]\nNODE1\n\n[etcd]\nnode1\n");
    c.plan("hosts.ini", &[]).code(2).has("hosts.ini:3:1: error: hosts `node1` and `NODE1` have one name (Kubernetes node names are lowercase)");
}

#[test]
fn addresses_must_be_ipv4() {
    let c = Case::new();
    c.file(
        "hosts.ini",
        "[all]\ncp ip=fd00::1\nw1 ip=10.74.8.090\nw2 ansible_host=w2.example.com\n\n[kube_control_plane]\ncp\n\n[kube_node]\nw1\nw2\n\n[etcd]\ncp\n",
    );
    c.plan("hosts.ini", &[])
        .code(2)
        .has("hosts.ini:2:4: error: `ip`: `fd00::1` is an IPv6 address; flannel 0.10 and Kubernetes 1.9 as built here are IPv4 only")
        .has("hosts.ini:3:4: error: `ip`: `10.74.8.090` is not a valid IPv4 address: an octet has a leading zero")
        .has("hosts.ini:4:4: error: `ansible_host`: host `w2`: `w2.example.com` is a name, so it does not say which address services bind to");
}

#[test]
fn overlapping_networks() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &yaml_inventory(
            "kube_control_plane",
            "kube_node",
            "k8s_cluster",
            "  vars:\n    kube_service_addresses: 10.233.0.0/16\n    kube_pods_subnet: 10.233.64.0/18\n",
        ),
    );
    c.plan("hosts.yaml", &[]).code(2).has("hosts.yaml:30:23: error: the pod network 10.233.64.0/18 and the service network 10.233.0.0/16 overlap");
    let c = Case::new();
    c.file("hosts.yaml", &yaml_inventory("kube_control_plane", "kube_node", "k8s_cluster", "  vars:\n    kube_pods_subnet: 192.168.0.0/16\n"));
    c.plan("hosts.yaml", &[])
        .code(2)
        .has("hosts.yaml:3:5: error: host `master` address 192.168.0.211 is inside the pod network 192.168.0.0/16 (`kube_pods_subnet`)");
}

#[test]
fn node_prefix_too_small_for_the_hosts() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &yaml_inventory("kube_control_plane", "kube_node", "k8s_cluster", "  vars:\n    kube_pods_subnet: 10.233.64.0/24\n    kube_network_node_prefix: 25\n"),
    );
    c.plan("hosts.yaml", &[])
        .code(2)
        .has("hosts.yaml:30:31: error: the pod network 10.233.64.0/24 split into /25 subnets gives 2 subnets, fewer than the 3 hosts that run flannel");
}

#[test]
fn a_group_vars_file_given_as_the_inventory() {
    let c = Case::new();
    c.file("group_vars/k8s_cluster/k8s-cluster.yml", "# Kubernetes configuration\nkube_version: v1.9.11\nkube_network_plugin: flannel\n");
    c.plan("group_vars/k8s_cluster/k8s-cluster.yml", &[])
        .code(2)
        .has("group_vars/k8s_cluster/k8s-cluster.yml:2:1: error: this file is not an inventory: top-level key `kube_version` holds a string, but an inventory's top level holds groups")
        .has("note: it looks like a variables file (group_vars/ or host_vars/)");
}

#[test]
fn ini_trailing_comment_stays_in_the_value() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ip=10.0.0.1\nw1 ip=10.0.0.2\n[kube_control_plane]\ncp\n[kube_node]\nw1\n[etcd]\ncp\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n[k8s_cluster:vars]\nkube_version=v1.9.11 # pinned by ops\n");
    c.plan("hosts.ini", &[])
        .code(2)
        .has("hosts.ini:14:14: error: `kube_version`: `v1.9.11 # pinned by ops` is not supported: bundler builds Kubernetes 1.9 (v1.9.0 to v1.9.11)")
        .has("note: in an INI `:vars` section a trailing `# ...` is part of the value (Ansible reads `v1.9.11 # pinned by ops` as the whole string); move the comment to its own line");
}

#[test]
fn unsupported_choices_say_what_is_supported() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &yaml_inventory(
            "kube_control_plane",
            "kube_node",
            "k8s_cluster",
            "  vars:\n    kube_network_plugin: calico\n    container_manager: containerd\n    kube_version: v1.10.0\n    dns_mode: coredns\n",
        ),
    );
    c.plan("hosts.yaml", &[])
        .code(2)
        .has("hosts.yaml:29:26: error: `kube_network_plugin`: `calico` is not supported: bundler builds the flannel network (0.10) only")
        .has("hosts.yaml:30:24: error: `container_manager`: `containerd` is not supported: bundler installs Docker 17.12 only")
        .has("hosts.yaml:31:19: error: `kube_version`: `v1.10.0` is not supported: bundler builds Kubernetes 1.9 (v1.9.0 to v1.9.11); pinned versions: v1.9.0, v1.9.1,")
        .has("hosts.yaml:32:15: error: `dns_mode`: `coredns` is not supported")
        .has("4 errors found");
}

#[test]
fn ini_child_group_never_defined_and_bad_host_line() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\ncp ip=10.0.0.1 ; comment\n[kube_control_plane]\ncp\n[k8s_cluster:children]\nkube_control_plane\nworkers\n");
    c.plan("hosts.ini", &[])
        .code(2)
        .has("hosts.ini:2:16: error: expected `key=value` after host `cp`, found `;`")
        .has("hosts.ini:7:1: error: group `workers` is listed as a child but never defined in this file");
}

#[test]
fn hostile_yaml_is_refused_quickly() {
    let c = Case::new();
    let mut s = String::from("all:\n  vars:\n    a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for ch in 'b'..='j' {
        s.push_str(&format!("    {ch}: &{ch} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = ch;
    }
    c.file("bomb.yaml", &s);
    let t = std::time::Instant::now();
    c.plan("bomb.yaml", &[]).code(2).has("the document expands to more than 250000 values");
    // Not a timing assertion on speed, only a guard against hanging forever.
    assert!(t.elapsed().as_secs() < 60);
    let c = Case::new();
    c.file("deep.yaml", &format!("all:\n  vars:\n    x: {}\n", "[".repeat(5000)));
    c.plan("deep.yaml", &[]).code(2).has("deep.yaml:3:");
}

#[test]
fn unreadable_and_missing_files_exit_2() {
    let c = Case::new();
    c.plan("nope.yaml", &[]).code(2).has("cannot read nope.yaml");
    c.file("binary.ini", "\u{0}\u{1}");
    std::fs::write(c.path("latin1.ini"), [0x5b, 0xe9, 0x5d]).unwrap();
    c.plan("latin1.ini", &[]).code(2).has("this file is not an inventory: it is not UTF-8 text");
}

#[test]
fn bad_usage_exits_2() {
    let r = crate::util::run(crate::util::bundler().args(["plan"]));
    r.code(2);
    let r = crate::util::run(crate::util::bundler().args(["frobnicate"]));
    r.code(2);
}
