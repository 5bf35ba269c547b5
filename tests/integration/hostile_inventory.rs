//! Hostile inventories (issue 15): values crafted to reach a script, a unit, a heredoc or a
//! certificate, inputs built to hang or exhaust bundler. Each is refused with exit 2 and a
//! located message before anything is downloaded or written, and never hangs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{bundler, Case, Run};

const CLUSTER: &str = "all:
  hosts:
    master: {ip: 10.1.0.11}
    node1: {ip: 10.1.0.12}
  children:
    kube_control_plane: {hosts: {master: }}
    kube_node: {hosts: {node1: }}
    etcd: {hosts: {master: }}
    k8s_cluster:
      children: {kube_control_plane: , kube_node: }
";

/// Run with a watchdog: a command still running after two minutes is a hang, killed and failed.
/// (Not a timing assert: every case finishes in milliseconds once fixed.)
fn run_guarded(cmd: &mut Command) -> Run {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bundler hung (killed after 120 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn plan(c: &Case, rel: &str) -> Run {
    run_guarded(bundler().current_dir(c.dir.path()).args(["plan", "--inventory", rel]))
}

/// `bundler build` too stops before its first download or write: the folder holds only the input.
fn build_writes_nothing(c: &Case, rel: &str) -> Run {
    let before = listing(c.dir.path());
    let r = run_guarded(bundler().current_dir(c.dir.path()).env("BUNDLER_CACHE", c.path("cache")).args([
        "build",
        "--inventory",
        rel,
        "--offline",
        "--output",
        "out",
    ]));
    assert_eq!(listing(c.dir.path()), before, "bundler build wrote something for a refused inventory; stderr:\n{}", r.stderr);
    r
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&p, base, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn with_vars(vars: &str) -> String {
    format!("{CLUSTER}  vars:\n{vars}")
}

#[test]
fn heredoc_end_marker_in_etcd_member_name_is_refused() {
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("master: {ip: 10.1.0.11}", "master: {ip: 10.1.0.11, etcd_member_name: \"etcd1\\nEOF\\nreboot\\ncat <<EOF\"}"));
    plan(&c, "hosts.yaml")
        .code(2)
        .has("hosts.yaml:3:47: error: `etcd_member_name`: host `master`: `etcd1\\nEOF\\nreboot\\ncat <<EOF` is not a valid etcd member name");
    build_writes_nothing(&c, "hosts.yaml").code(2);
}

#[test]
fn empty_and_spaced_etcd_member_names_are_refused() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\nmaster ip=10.1.0.11 etcd_member_name=\nnode1 ip=10.1.0.12 etcd_member_name='a b'\n[kube_control_plane]\nmaster\n[kube_node]\nnode1\n[etcd]\nmaster\nnode1\n");
    plan(&c, "hosts.ini")
        .code(2)
        .has("hosts.ini:2:21: error: `etcd_member_name`: host `master`: `` is not a valid etcd member name")
        .has("hosts.ini:3:20: error: `etcd_member_name`: host `node1`: `a b` is not a valid etcd member name");
}

#[test]
fn command_substitution_quotes_and_newlines_in_certificate_names_are_refused() {
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &with_vars("    supplementary_addresses_in_ssl_keys: [\"$(reboot)\", \"a'b\", \"x\\ny\", \"ok.example.com\", 10.9.9.9]\n    apiserver_loadbalancer_domain_name: \"lb example\"\n"),
    );
    plan(&c, "hosts.yaml")
        .code(2)
        .has("error: `supplementary_addresses_in_ssl_keys`: `$(reboot)`: `$` is not allowed in a DNS name")
        .has("error: `supplementary_addresses_in_ssl_keys`: `a\\'b`: `\\'` is not allowed in a DNS name")
        .has("error: `supplementary_addresses_in_ssl_keys`: `x\\ny`: `\\n` is not allowed in a DNS name")
        .has("hosts.yaml:13:41: error: `apiserver_loadbalancer_domain_name`: ` ` is not allowed in a DNS name");
    build_writes_nothing(&c, "hosts.yaml").code(2);
}

#[test]
fn non_ascii_names_are_refused_not_a_panic() {
    let c = Case::new();
    c.file("hosts.yaml", &with_vars("    supplementary_addresses_in_ssl_keys: [kübe.example.com]\n"));
    let r = plan(&c, "hosts.yaml");
    r.code(2).has("error: `supplementary_addresses_in_ssl_keys`: `kübe.example.com`: `ü` is not allowed in a DNS name");
    build_writes_nothing(&c, "hosts.yaml").code(2);
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("node1", "nöde1"));
    plan(&c, "hosts.yaml").code(2).has("error: host name `nöde1` cannot be a Kubernetes node name");
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("master: {ip: 10.1.0.11}", "master: {ip: 10.1.0.11, etcd_member_name: étcd1}"));
    plan(&c, "hosts.yaml").code(2).has("is not a valid etcd member name");
}

#[test]
fn host_addresses_must_be_unicast() {
    for (addr, why) in [
        ("0.0.0.0", "is the unspecified address (0.0.0.0), which no host has"),
        ("255.255.255.255", "is the broadcast address"),
        ("224.0.0.5", "is a multicast address (224.0.0.0/4)"),
        ("169.254.10.1", "is a link-local address (169.254.0.0/16), which changes with the link"),
        ("240.0.0.1", "is in the reserved range 240.0.0.0/4"),
    ] {
        let c = Case::new();
        c.file("hosts.yaml", &CLUSTER.replace("10.1.0.12", addr));
        plan(&c, "hosts.yaml").code(2).has(&format!("hosts.yaml:4:17: error: `ip`: `{addr}` {why}; a host needs a unicast address"));
    }
    // Loopback stays usable for clusters in tests (tests/integration/pki.rs runs etcd on
    // 127.0.0.11-13), with a warning saying why it is no address for a real host.
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("10.1.0.12", "127.0.0.12"));
    let r = plan(&c, "hosts.yaml");
    r.code(0);
    assert!(r.stdout.contains("hosts.yaml:4:17: warning: `ip` of host `node1` is the loopback address 127.0.0.12"), "{}", r.stdout);
}

#[test]
fn address_as_a_list_or_mapping_is_refused_not_dropped() {
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("node1: {ip: 10.1.0.12}", "node1: {ip: [10.1.0.12]}"));
    plan(&c, "hosts.yaml").code(2).has("hosts.yaml:4:17: error: `ip`: `ip` of host `node1` is a list, not an IPv4 address");
    let c = Case::new();
    c.file("hosts.yaml", &CLUSTER.replace("node1: {ip: 10.1.0.12}", "node1: {ip: 10.1.0.12, access_ip: {a: 10.1.0.12}}"));
    plan(&c, "hosts.yaml").code(2).has("hosts.yaml:4:39: error: `access_ip`: `access_ip` of node1 is a mapping, not an IPv4 address");
}

#[test]
fn huge_host_ranges_are_refused_at_once() {
    let c = Case::new();
    c.file("hosts.ini", "n[0:99999][0:99999]\n");
    plan(&c, "hosts.ini").code(2).has("hosts.ini:1:1: error: host range `[0:99999]` in `n[0:99999][0:99999]` expands to more than 10000 hosts");
    c.file("big.ini", "[kube_node]\nnode[1:100000]\n");
    plan(&c, "big.ini").code(2).has("big.ini:2:1: error: host range `[1:100000]` in `node[1:100000]` expands to more than 10000 hosts");
}

#[test]
fn many_variables_are_read_in_linear_time() {
    // 99k variables took 61 s (quadratic); now they are read at once and the plan is built.
    let c = Case::new();
    let mut s = String::from("[all]\nmaster ip=10.1.0.11\nnode1 ip=10.1.0.12\n[kube_control_plane]\nmaster\n[kube_node]\nnode1\n[etcd]\nmaster\n[all:vars]\n");
    for i in 0..99_000 {
        s.push_str(&format!("v{i}={i}\n"));
    }
    c.file("hosts.ini", &s);
    plan(&c, "hosts.ini").code(0);
}

#[test]
fn template_expansion_is_bounded() {
    let c = Case::new();
    let mut vars = String::from("    v0: \"xxxxxxxxxxxxxxxx\"\n");
    for i in 1..60 {
        vars.push_str(&format!("    v{i}: \"{{{{v{p}}}}}{{{{v{p}}}}}\"\n", p = i - 1));
    }
    vars.push_str("    cluster_name: \"{{v59}}\"\n");
    c.file("hosts.yaml", &with_vars(&vars));
    plan(&c, "hosts.yaml").code(2).has("expands to more than 65536 bytes; refusing to expand it further");
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", p.display());
}

#[test]
fn fifos_are_refused_not_waited_on() {
    let c = Case::new();
    mkfifo(&c.path("hosts.yaml"));
    plan(&c, "hosts.yaml").code(2).has("hosts.yaml: error: this is a named pipe (FIFO), not a regular file");
    let c = Case::new();
    c.file("hosts.yaml", CLUSTER);
    std::fs::create_dir_all(c.path("group_vars")).unwrap();
    mkfifo(&c.path("group_vars/all.yml"));
    plan(&c, "hosts.yaml").code(2).has("group_vars/all.yml: error: cannot read variables file: this is a named pipe (FIFO)");
    let c = Case::new();
    c.file("hosts.yaml", CLUSTER);
    std::fs::create_dir_all(c.path("host_vars")).unwrap();
    mkfifo(&c.path("host_vars/node1.yml"));
    plan(&c, "hosts.yaml").code(2).has("host_vars/node1.yml: error: cannot read variables file: this is a named pipe (FIFO)");
}

#[test]
fn devices_are_refused_before_reading() {
    let c = Case::new();
    std::os::unix::fs::symlink("/dev/zero", c.path("hosts.yaml")).unwrap();
    plan(&c, "hosts.yaml").code(2).has("hosts.yaml: error: this is a device, not a regular file");
    let c = Case::new();
    c.file("hosts.yaml", CLUSTER);
    std::fs::create_dir_all(c.path("group_vars/all")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", c.path("group_vars/all/zero.yml")).unwrap();
    plan(&c, "hosts.yaml").code(2).has("group_vars/all/zero.yml: error: cannot read variables file: this is a device");
}

#[test]
fn symlink_loops_in_group_vars_are_refused() {
    let c = Case::new();
    c.file("hosts.yaml", CLUSTER);
    c.file("group_vars/all/main.yml", "bundle_name: k8s\n");
    std::os::unix::fs::symlink(".", c.path("group_vars/all/loop")).unwrap();
    std::os::unix::fs::symlink("../all", c.path("group_vars/all/up")).unwrap();
    std::os::unix::fs::symlink("self", c.path("group_vars/all/self")).unwrap();
    let r = plan(&c, "hosts.yaml");
    r.code(2)
        .has("group_vars/all/self: error: cannot read variables: it is a symlink loop")
        .has("group_vars/all/loop: error: this folder is `")
        .has("group_vars/all/up: error: this folder is `");
    assert_eq!(r.stderr.matches("error:").count(), 3, "one error per loop:\n{}", r.stderr);
}

#[test]
fn vault_encrypted_inventory_and_values_are_recognised() {
    let c = Case::new();
    c.file("hosts.yml", "$ANSIBLE_VAULT;1.1;AES256\n62313365396662343061393464336163383764373764613633653634306231386433626436623361\n");
    plan(&c, "hosts.yml").code(2).has("hosts.yml:1:1: error: this inventory is encrypted with ansible-vault, which bundler cannot open");
    let c = Case::new();
    c.file("hosts.ini", "$ANSIBLE_VAULT;1.1;AES256\n6231336539666234306139346433616338\n");
    plan(&c, "hosts.ini").code(2).has("hosts.ini:1:1: error: this inventory is encrypted with ansible-vault");
    // An inline `!vault` value never reaches a certificate as its ciphertext.
    let c = Case::new();
    c.file(
        "hosts.yaml",
        &with_vars("    apiserver_loadbalancer_domain_name: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6231336539666234306139346433616338\n"),
    );
    plan(&c, "hosts.yaml").code(2).has(
        "hosts.yaml:13:7: error: `apiserver_loadbalancer_domain_name` is encrypted with ansible-vault (an inline `!vault` value), which bundler cannot open",
    );
}

#[test]
fn ini_host_twice_with_two_addresses_is_an_error() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\nmaster ip=10.1.0.11\nnode1 ip=10.1.0.12\n[kube_control_plane]\nmaster\n[kube_node]\nnode1 ip=10.1.0.99\n[etcd]\nmaster\n");
    plan(&c, "hosts.ini")
        .code(2)
        .has("hosts.ini:7:1: error: host `node1` is defined twice with different addresses: `ip` is 10.1.0.12 at line 3 and 10.1.0.99 here");
    // The same address written twice (kubespray's old example repeats every host line) is fine.
    c.file("same.ini", "[all]\nmaster ip=10.1.0.11\nnode1 ip=10.1.0.12\n[kube_control_plane]\nmaster\n[kube_node]\nnode1 ip=10.1.0.12\n[etcd]\nmaster\n");
    plan(&c, "same.ini").code(0);
}

#[test]
fn input_errors_without_a_line_get_one() {
    let c = Case::new();
    c.file("hosts.ini", "[all]\nnode1 ip=10.1.0.12\n[kube_node]\nnode1\n[etcd]\nnode1\n");
    plan(&c, "hosts.ini").code(2).has("hosts.ini:1:1: error: no control-plane host");
    let c = Case::new();
    c.file("hosts.yaml", &with_vars("    pod_infra_version: \"9.9\"\n"));
    plan(&c, "hosts.yaml").code(2).has("hosts.yaml:12:24: error: the catalog has no `pause` image 9.9 pinned by digest");
}

#[test]
fn cluster_variable_in_host_vars_is_warned_about() {
    let c = Case::new();
    c.file("hosts.yaml", CLUSTER);
    c.file("host_vars/node1.yml", "kube_proxy_mode: ipvs\n");
    let r = plan(&c, "hosts.yaml");
    r.code(0);
    assert!(r.stdout.contains("host_vars/node1.yml:1:18: warning: `kube_proxy_mode` is set on a group or host"), "{}", r.stdout);
}

#[test]
fn ini_references_use_the_spelling_the_group_was_declared_with() {
    // Ansible: `kube-master` is another group than `kube_control_plane`, so both lines refer to
    // groups never defined ("includes undefined group", "not valid for undefined group").
    let c = Case::new();
    c.file(
        "hosts.ini",
        "[all]\nmaster ip=10.1.0.11\nnode1 ip=10.1.0.12\n[kube_control_plane]\nmaster\n[kube_node]\nnode1\n[etcd]\nmaster\n[k8s_cluster:children]\nkube-master\nkube_node\n[k8s-cluster:vars]\nkube_proxy_mode=ipvs\n",
    );
    plan(&c, "hosts.ini")
        .code(2)
        .has("hosts.ini:11:1: error: group `kube-master` is listed as a child but never defined in this file")
        .has("hosts.ini:13:1: error: section `[k8s-cluster:vars]` sets variables for group `k8s-cluster`, which no `[k8s-cluster]` or `[k8s-cluster:children]` section defines");
}
