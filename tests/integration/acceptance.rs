//! The acceptance test: `scripts/acceptance.sh` boots three hosts with a real systemd, installs
//! the bundle on them and checks the cluster (see the script's header). Beside it, checks of
//! install-time behaviour the three-host topology cannot show: a host that is both control
//! plane and node, and the playbook's plays for every group spelling bundler reads.

use std::process::Command;

use crate::dnf::Root;
use crate::etcd::require;
use crate::fixtures;
use crate::packages::{sh, Build};
use crate::util::root;

fn acceptance(mode: &str) {
    for t in ["mmdebstrap", "systemd-nspawn", "nsenter", "unshare", "ip", "dnf", "rpmbuild", "createrepo_c", "etcd", "etcdctl", "python3"] {
        require(t);
    }
    // The OS packages as stand-ins signed by the test vendor key (no CentOS mirror is reached).
    let os = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(os.path(), crate::ospkgs::fixture_catalog()).unwrap();
    // The script takes a lock: the two modes run one after the other.
    let out = Command::new("bash")
        .arg(root().join("scripts/acceptance.sh"))
        .env("ACCEPT_OS_CATALOG", os.path())
        .env("BUNDLER", env!("CARGO_BIN_EXE_bundler"))
        .env("ACCEPT_MODE", mode)
        .output()
        .expect("run scripts/acceptance.sh");
    let report = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    // The report is what a reader wants to see, also when it passes (cargo test --nocapture).
    println!("{report}");
    assert!(out.status.success() && report.contains("acceptance: all checks passed"), "acceptance failed:\n{report}\n--- log:\n{log}");
    assert!(!report.contains("FAIL "), "{report}");
}

#[test]
fn three_hosts_booted_by_systemd_install_and_run_the_cluster() {
    acceptance("dnf");
}

#[test]
fn ansible_rolls_the_bundle_out_to_the_same_three_hosts_over_ssh() {
    require("ansible-playbook");
    require("ssh-keygen");
    acceptance("ansible");
}

/// Two control-plane hosts and no `loadbalancer_apiserver`: node01's kubelet and kube-proxy
/// reach both API servers through k8s-api-proxy (Debian's real nginx with the rendered config),
/// and are still served while one master is halted (scripts/acceptance/ha.sh).
#[test]
fn two_masters_serve_a_node_with_one_halted() {
    acceptance("ha");
}

/// Bundle N installed, then N+1 (a node added) and N+2 (a second master: a changed API server
/// setting and k8s-api-proxy on the nodes) rolled out with ansible/upgrade.yml over ssh to the
/// booted hosts (scripts/acceptance/upgrade.sh).
#[test]
fn upgrade_from_one_bundle_to_the_next_on_booted_hosts() {
    require("ansible-playbook");
    require("ssh-keygen");
    acceptance("upgrade");
}

/// A host that is both control plane and node, with etcd.
const COMBINED: &str = "all:
  hosts:
    master:
      ip: 192.168.0.211
    node01:
      ip: 192.168.0.212
  children:
    kube_control_plane:
      hosts:
        master:
    kube_node:
      hosts:
        master:
        node01:
    etcd:
      hosts:
        master:
";

#[test]
fn erasing_one_role_keeps_the_services_another_installed_role_runs() {
    let b = Build::new(COMBINED);
    b.build(&[]).code(0);
    let m = Root::new(Some("master"));
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-master", "k8s-node"]);
    assert!(ok, "dnf install k8s-master k8s-node:\n{out}");
    let before = m.log().len();
    let (ok, out) = m.dnf(&b.repo(), &["remove", "k8s-master"]);
    assert!(ok, "dnf remove k8s-master:\n{out}");
    let log = m.log()[before..].to_string();
    for s in ["kube-apiserver.service", "flannel-network-config.service"] {
        assert!(log.contains(&format!("systemctl --no-reload disable {s}")) && log.contains(&format!("systemctl stop {s}")), "{s} stays:\n{log}");
    }
    assert!(!log.contains("disable flanneld.service") && !log.contains("stop flanneld.service"), "k8s-node still runs flanneld:\n{log}");
    // The last role that runs it takes it along.
    let before = m.log().len();
    let (ok, out) = m.dnf(&b.repo(), &["remove", "k8s-node"]);
    assert!(ok, "dnf remove k8s-node:\n{out}");
    let log = m.log()[before..].to_string();
    assert!(log.contains("systemctl --no-reload disable flanneld.service") && log.contains("systemctl stop flanneld.service"), "{log}");
}

#[test]
fn a_machine_not_in_the_inventory_is_refused_by_every_package_with_the_host_list() {
    let b = Build::example();
    b.build(&[]).code(0);
    // No identity file, and this machine's addresses are not the example's 192.168.0.211-213.
    let m = Root::new(None);
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(!ok, "{out}");
    // The role packages refuse in %pretrans, before anything is installed; every other package's
    // %pre repeats that refusal.
    for p in ["k8s-etcd", "k8s-node"] {
        assert!(out.contains(&format!("Error in PRETRANS scriptlet in rpm package {p}")), "{p}:\n{out}");
    }
    for p in ["k8s-common", "k8s-docker-bin", "k8s-kube-node-bin", "k8s-flannel-bin", "k8s-images"] {
        assert!(out.contains(&format!("{p}: not installing; this machine was refused:")), "{p}:\n{out}");
    }
    assert!(out.matches("node01               192.168.0.212").count() >= 8, "the host list from every package:\n{out}");
    assert!(!out.contains("not found") && !out.contains("syntax error"), "a shell error:\n{out}");
    // What the refusal leaves: nothing of bundler's. The OS vendor's packages (socat, conntrack,
    // ipset) are CentOS's own, unchanged, with no host check of their own.
    let vendor: Vec<&str> = crate::ospkgs::PACKAGES.iter().map(|p| p.0).collect();
    let left: Vec<String> = m.installed().into_iter().filter(|p| p != "gpg-pubkey" && !vendor.contains(&p.as_str())).collect();
    assert_eq!(left, ["test-base"], "{out}");
}

#[test]
fn the_playbook_runs_its_plays_on_every_group_spelling_bundler_reads() {
    require("ansible-playbook");
    for (cp, node, cluster) in [
        ("kube_control_plane", "kube_node", "k8s_cluster"),
        ("kube-master", "kube-node", "k8s-cluster"),
        ("kube_master", "kube_node", "k8s_cluster"),
        ("kube_master", "kube-node", "k8s-cluster"),
    ] {
        let inv = format!(
            "all:\n  hosts:\n    master: {{ip: 192.168.0.211}}\n    node01: {{ip: 192.168.0.212}}\n  children:\n    {cp}:\n      hosts:\n        master:\n    {node}:\n      hosts:\n        node01:\n    etcd:\n      hosts:\n        master:\n    {cluster}:\n      children:\n        {cp}:\n        {node}:\n"
        );
        let b = Build::new(&inv);
        b.build(&[]).code(0);
        let (ok, out) = sh(Command::new("ansible-playbook")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .args(["--list-hosts", "-i"])
            .arg(b.p("hosts.yaml"))
            .arg(b.bundle().join("ansible/site.yml"))
            .args(["-e", "bundle_tarball=/dev/null"]));
        assert!(ok, "{cp}/{node}: {out}");
        // `play #2 (...): control plane	TAGS: []` then `pattern: [...]`, `hosts (1):`, the hosts.
        let play = |name: &str| -> String {
            let start = out.find(&format!("): {name}")).unwrap_or_else(|| panic!("play {name} in:\n{out}"));
            let rest = &out[start..];
            rest[..rest[1..].find("play #").map(|i| i + 1).unwrap_or(rest.len())].to_string()
        };
        let (c, n) = (play("control plane"), play("nodes"));
        assert!(c.contains("hosts (1):") && c.contains("master"), "{cp}: control plane play:\n{c}");
        assert!(n.contains("hosts (1):") && n.contains("node01"), "{node}: nodes play:\n{n}");
    }
}

/// One master and a node; bundle N+1 adds a second master (no load balancer), so the node's
/// role gains k8s-api-proxy.service.
const ONE_MASTER: &str = "all:
  hosts:
    m1: {ip: 192.168.0.211}
    n1: {ip: 192.168.0.212}
  children:
    kube_control_plane: {hosts: {m1: }}
    kube_node: {hosts: {n1: }}
    etcd: {hosts: {m1: }}
";

#[test]
fn a_unit_an_upgrade_adds_to_a_role_is_enabled_and_started() {
    let b = Build::new(ONE_MASTER);
    // The proxy's image, served like the others.
    let nginx = fixtures::image("nginx", "1.13");
    fixtures::serve_images(&b._server, std::slice::from_ref(&nginx));
    let mut catalog = std::fs::read_to_string(b.p("catalog.yaml")).unwrap();
    catalog.push_str(&fixtures::image_catalog(&[nginx], b._server.base.trim_start_matches("http://")));
    std::fs::write(b.p("catalog.yaml"), catalog).unwrap();
    b.build(&[]).code(0);
    let n = Root::new(Some("n1"));
    let (ok, out) = n.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(ok, "dnf install k8s-node:\n{out}");
    assert!(n.log().contains("systemctl enable kubelet.service"), "{}", n.log());
    assert!(!n.log().contains("k8s-api-proxy"), "one master: no proxy\n{}", n.log());
    let state = std::fs::read_to_string(n.root().join("var/lib/bundler/services.node")).unwrap_or_else(|e| panic!("the role's service record: {e}"));
    assert_eq!(state, "flanneld.service docker.service k8s-load-images.service kubelet.service kube-proxy.service\n");

    let two = ONE_MASTER
        .replace("    n1: {ip: 192.168.0.212}\n", "    n1: {ip: 192.168.0.212}\n    m2: {ip: 192.168.0.213}\n")
        .replace("{hosts: {m1: }}\n    kube_node", "{hosts: {m1: , m2: }}\n    kube_node");
    std::fs::write(b.p("hosts.yaml"), two).unwrap();
    b.build(&[]).code(0);
    std::fs::write(n.root().join("var/log/bundler-test-stubs.log"), "").unwrap();
    let (ok, out) = n.dnf(&b.repo(), &["upgrade"]);
    assert!(ok, "dnf upgrade:\n{out}");
    assert!(out.contains("k8s-node"), "k8s-node is upgraded:\n{out}");
    let log = n.log();
    assert!(n.root().join("usr/lib/systemd/system/k8s-api-proxy.service").exists(), "{out}");
    assert!(
        log.contains("systemctl enable k8s-api-proxy.service") && log.contains("systemctl start --no-block k8s-api-proxy.service"),
        "the unit the upgrade added is enabled and started:\n{log}"
    );
    // What ran before is restarted, not enabled or first-started again.
    assert!(log.contains("systemctl try-restart kubelet.service"), "{log}");
    for s in ["kubelet.service", "flanneld.service", "docker.service", "kube-proxy.service"] {
        assert!(!log.contains(&format!("systemctl start --no-block {s}")) && !log.contains(&format!("systemctl enable {s}")), "{s}:\n{log}");
    }
}
