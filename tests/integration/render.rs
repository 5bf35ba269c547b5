//! Rendered units and configs: snapshots for the example inventory, `systemd-analyze verify`
//! on every unit, a flag lint against the pinned components' flag lists, a real etcd cluster
//! started with exactly the rendered configuration, and the host-identity step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd;
use crate::util::root;

pub fn plan_of(inventory: &Path) -> bundler::plan::Plan {
    bundler::plan(inventory, None).expect("plan")
}

pub fn rendered(inventory: &Path) -> Vec<bundler::render::File> {
    bundler::render::render(&plan_of(inventory)).expect("render")
}

/// Write rendered files under `dir` at their install paths.
pub fn materialise(files: &[bundler::render::File], dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for f in files {
        let p = dir.join(f.path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
    }
}

#[test]
fn snapshots_of_every_rendered_file() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for f in &files {
            let name = f.path.trim_start_matches('/').replace('/', "__");
            insta::assert_snapshot!(name, format!("# package: {}  mode: {:o}  config: {}\n{}", f.package, f.mode, f.config, f.content));
        }
    });
}

fn units(files: &[bundler::render::File]) -> Vec<&bundler::render::File> {
    files.iter().filter(|f| f.path.starts_with("/usr/lib/systemd/system/")).collect()
}

#[test]
fn systemd_analyze_verifies_every_unit() {
    etcd::require("systemd-analyze");
    let files = rendered(&root().join("examples/hosts.yaml"));
    let dir = tempfile::tempdir().unwrap();
    materialise(&files, dir.path());
    let sys = dir.path().join("usr/lib/systemd/system");
    // The standard targets the units refer to, from the host.
    for src in ["/lib/systemd/system", "/usr/lib/systemd/system"] {
        if let Ok(rd) = std::fs::read_dir(src) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.ends_with(".target") && !sys.join(&n).exists() {
                    let _ = std::fs::copy(e.path(), sys.join(&n));
                }
            }
        }
    }
    // Stand-in executables at every ExecStart/ExecStartPre/ExecStartPost path.
    for u in units(&files) {
        for line in u.content.lines().filter(|l| l.starts_with("Exec")) {
            let cmd = line.split_once('=').unwrap().1.trim_start_matches(['-', '@', '+', '!']);
            let exe = cmd.split_whitespace().next().unwrap();
            let p = dir.path().join(exe.trim_start_matches('/'));
            if !p.exists() {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
    }
    let names: Vec<String> = units(&files).iter().map(|u| u.path.rsplit('/').next().unwrap().to_string()).collect();
    assert!(names.len() >= 12, "{names:?}");
    for n in &names {
        let o = Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", dir.path().display())).arg(sys.join(n)).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "systemd-analyze verify {n}:\n{err}");
        // Ordering references must exist among our units or the standard ones.
        assert!(!err.contains("Unknown key") && !err.contains("Unknown section"), "{n}: {err}");
    }
    // A broken unit fails, so the check can fail.
    std::fs::write(sys.join("broken.service"), "[Service]\nExecStart=/nonexistent/binary\n").unwrap();
    let o = Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", dir.path().display())).arg(sys.join("broken.service")).output().unwrap();
    assert!(!o.status.success(), "a unit whose executable is missing must fail verification");
}

/// The flags a component accepts, from the vendored lists under specs/reference/flags.
fn flag_list(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("specs/reference/flags").join(file)).unwrap();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(|l| l.split('\t').next().unwrap().to_string()).collect()
}

/// `--name=value`, `--name value` and bare `--name` tokens of a command line.
fn flags_in(words: &str) -> Vec<String> {
    words.split_whitespace().filter(|w| w.starts_with('-')).map(|w| w.trim_start_matches('-').split('=').next().unwrap().to_string()).collect()
}

fn env_value(content: &str, var: &str) -> String {
    let line = content.lines().find(|l| l.starts_with(&format!("{var}="))).unwrap_or_else(|| panic!("{var} not set"));
    line.split_once('=').unwrap().1.trim_matches('"').to_string()
}

#[test]
fn every_flag_is_one_the_pinned_component_accepts() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let get = |p: &str| files.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("{p}")).content.clone();
    let exec = |unit: &str| get(unit).lines().find(|l| l.starts_with("ExecStart=")).unwrap().to_string();
    let components = [
        ("kube-apiserver-1.9.txt", "/usr/lib/systemd/system/kube-apiserver.service", "/etc/kubernetes/apiserver.env", "KUBE_APISERVER_ARGS"),
        (
            "kube-controller-manager-1.9.txt",
            "/usr/lib/systemd/system/kube-controller-manager.service",
            "/etc/kubernetes/controller-manager.env",
            "KUBE_CONTROLLER_MANAGER_ARGS",
        ),
        ("kube-scheduler-1.9.txt", "/usr/lib/systemd/system/kube-scheduler.service", "/etc/kubernetes/scheduler.env", "KUBE_SCHEDULER_ARGS"),
        ("kubelet-1.9.txt", "/usr/lib/systemd/system/kubelet.service", "/etc/kubernetes/kubelet.env", "KUBELET_ARGS"),
        ("kube-proxy-1.9.txt", "/usr/lib/systemd/system/kube-proxy.service", "/etc/kubernetes/kube-proxy.env", "KUBE_PROXY_ARGS"),
        ("flanneld-0.10.0.txt", "/usr/lib/systemd/system/flanneld.service", "/etc/flannel/flanneld.conf", "FLANNELD_ARGS"),
    ];
    let mut checked = 0;
    for (list, unit, env, var) in components {
        let allowed = flag_list(list);
        let line = format!("{} {}", exec(unit), env_value(&get(env), var));
        let flags = flags_in(&line.replace(&format!("${var}"), ""));
        let mut seen = BTreeSet::new();
        for f in &flags {
            assert!(allowed.contains(f), "{unit}: --{f} is not a flag of {list}");
            assert!(seen.insert(f.clone()), "{unit}: --{f} appears twice");
            checked += 1;
        }
    }
    // Values that have their own lists: admission plugins and feature gates.
    let admission = flag_list("kube-apiserver-1.9.admission-plugins.txt");
    let api = env_value(&get("/etc/kubernetes/apiserver.env"), "KUBE_APISERVER_ARGS");
    let plugins = api.split_whitespace().find_map(|w| w.strip_prefix("--admission-control=")).unwrap();
    for p in plugins.split(',') {
        assert!(admission.contains(p), "admission plugin {p} is not in 1.9");
    }
    assert!(!api.contains("enable-admission-plugins"));
    // etcd: every variable in the env file is one etcd 3.0.17 reads, none twice.
    let etcd_env = flag_list("etcd-3.0.17.env.txt");
    let mut seen = BTreeSet::new();
    for l in get("/etc/etcd/etcd.conf").lines().filter(|l| !l.starts_with('#') && l.contains('=')) {
        let k = l.split('=').next().unwrap();
        assert!(etcd_env.contains(k), "{k} is not an etcd 3.0.17 variable");
        assert!(seen.insert(k.to_string()), "{k} twice");
        checked += 1;
    }
    // The member file the host-identity step writes (checked against the same list).
    for k in ["ETCD_NAME", "ETCD_LISTEN_PEER_URLS", "ETCD_LISTEN_CLIENT_URLS", "ETCD_ADVERTISE_CLIENT_URLS", "ETCD_INITIAL_ADVERTISE_PEER_URLS"] {
        assert!(get("/usr/libexec/bundler/host-identity").contains(&format!("{k}=")));
        assert!(etcd_env.contains(k) && !seen.contains(k), "{k}");
    }
    // dockerd: the unit's flags and daemon.json's keys, with no key set in both places.
    let dockerd = flag_list("dockerd-17.12.txt");
    let json_keys = flag_list("dockerd-17.12.daemon-json.txt");
    let daemon: serde_json::Value = serde_json::from_str(&get("/etc/docker/daemon.json")).unwrap();
    for k in daemon.as_object().unwrap().keys() {
        assert!(json_keys.contains(k), "daemon.json key {k} is not one dockerd 17.12 reads");
    }
    for f in flags_in(&exec("/usr/lib/systemd/system/docker.service")) {
        assert!(dockerd.contains(&f), "dockerd --{f}");
    }
    // mk-docker-opts.sh hands dockerd --bip, --ip-masq and --mtu; daemon.json must not set them too.
    for f in ["bip", "ip-masq", "mtu"] {
        assert!(dockerd.contains(f));
        assert!(daemon.get(f).is_none(), "{f} would be set twice");
    }
    assert!(checked > 60, "checked {checked} flags");
}

#[test]
fn flag_lint_can_fail() {
    // The same lint catches a 1.10 flag.
    let allowed = flag_list("kube-apiserver-1.9.txt");
    assert!(!allowed.contains("enable-admission-plugins"));
    assert!(allowed.contains("admission-control"));
    let kubelet = flag_list("kubelet-1.9.txt");
    assert!(!kubelet.contains("config") && kubelet.contains("pod-infra-container-image"));
}

/// Run the rendered host-identity script as a given machine.
fn identity(dir: &Path, addresses: &str, args: &[&str]) -> (bool, String) {
    let o = Command::new("sh")
        .arg(dir.join("usr/libexec/bundler/host-identity"))
        .args(args)
        .env("BUNDLER_ROOT", dir)
        .env("BUNDLER_HOST_ADDRESSES", addresses)
        .output()
        .unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn host_identity_picks_each_host_and_refuses_strangers() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let dir = tempfile::tempdir().unwrap();
    materialise(&files, dir.path());
    for (addr, name, roles, etcd_name) in [
        ("192.168.0.211", "master", "etcd,control-plane", "etcd1"),
        ("192.168.0.212", "node01", "etcd,node", "etcd2"),
        ("192.168.0.213", "node02", "etcd,node", "etcd3"),
    ] {
        let (ok, out) = identity(dir.path(), &format!("127.0.0.1 10.0.2.15 {addr}"), &["--write"]);
        assert!(ok, "{out}");
        let env = std::fs::read_to_string(dir.path().join("etc/bundler/host.env")).unwrap();
        assert!(
            env.contains(&format!("BUNDLER_NODE_NAME={name}\n"))
                && env.contains(&format!("BUNDLER_NODE_IP={addr}\n"))
                && env.contains(&format!("BUNDLER_ROLES={roles}\n")),
            "{env}"
        );
        let member = std::fs::read_to_string(dir.path().join("etc/etcd/member.env")).unwrap();
        assert!(member.contains(&format!("ETCD_NAME={etcd_name}\n")) && member.contains(&format!("ETCD_LISTEN_PEER_URLS=https://{addr}:2380\n")), "{member}");
        let (_, services) = identity(dir.path(), addr, &["--services", "node"]);
        if roles.contains("node") {
            // One control-plane host: no local API proxy (tests/integration/api_proxy.rs has the other case).
            let all = plan_of(&root().join("examples/hosts.yaml")).services(bundler::specs::Role::Node);
            let want: Vec<&str> = all.iter().map(|s| s.as_str()).filter(|s| *s != "k8s-api-proxy.service").collect();
            assert_eq!(services.split_whitespace().collect::<Vec<_>>(), want);
        } else {
            assert_eq!(services.trim(), "");
        }
        let (_, services) = identity(dir.path(), addr, &["--services", "control-plane"]);
        assert_eq!(!services.trim().is_empty(), roles.contains("control-plane"));
    }
    // A machine not in the inventory: an error listing the hosts, and nothing written.
    std::fs::remove_file(dir.path().join("etc/bundler/host.env")).unwrap();
    let (ok, out) = identity(dir.path(), "10.9.9.9", &["--write"]);
    assert!(!ok);
    assert!(out.contains("this machine (10.9.9.9) is not a host of this cluster's inventory"), "{out}");
    for h in ["master", "node01", "node02"] {
        assert!(out.contains(h), "{out}");
    }
    assert!(!dir.path().join("etc/bundler/host.env").exists());
    // A role that is not this host's is refused (k8s-master on a node).
    let (ok, out) = identity(dir.path(), "192.168.0.212", &["--check", "control-plane"]);
    assert!(!ok && out.contains("it is not a control-plane host"), "{out}");
    // The admin override wins over addresses.
    std::fs::write(dir.path().join("etc/bundler/host-identity"), "node02\n").unwrap();
    let (ok, out) = identity(dir.path(), "10.9.9.9", &["--name"]);
    assert!(ok && out.trim() == "node02", "{out}");
    std::fs::write(dir.path().join("etc/bundler/host-identity"), "node9\n").unwrap();
    let (ok, out) = identity(dir.path(), "192.168.0.212", &["--name"]);
    assert!(!ok && out.contains("names host 'node9', which is not in the inventory"), "{out}");
}

#[test]
fn rendered_etcd_config_forms_a_real_cluster_and_the_flannel_oneshot_writes_its_config() {
    etcd::require("curl");
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.yaml");
    std::fs::write(&inv, "all:\n  hosts:\n    e1: {ip: 127.0.0.11}\n    e2: {ip: 127.0.0.12}\n    e3: {ip: 127.0.0.13}\n  children:\n    kube_control_plane: {hosts: {e1: }}\n    kube_node: {hosts: {e2: , e3: }}\n    etcd: {hosts: {e1: , e2: , e3: }}\n  vars:\n    kube_pods_subnet: 10.244.0.0/16\n    kube_network_node_prefix: 24\n").unwrap();
    let plan = plan_of(&inv);
    let files = bundler::render::render(&plan).unwrap();
    let state = dir.path().join("state");
    bundler::pki::ensure(&plan, &bundler::pki_options(&plan, &state, false)).unwrap();
    let root_dir = dir.path().join("root");
    materialise(&files, &root_dir);
    // Certificates where the rendered config expects them, under the test root.
    let pki = state.join("pki");
    let place = |from: &str, to: &str| {
        let p = root_dir.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(pki.join(from), p).unwrap();
    };
    place("etcd-ca.crt", "/etc/etcd/pki/ca.crt");
    for (f, t) in [("etcd-server", "server"), ("etcd-peer", "peer")] {
        place(&format!("{f}.crt"), &format!("/etc/etcd/pki/member/{t}.crt"));
        place(&format!("{f}.key"), &format!("/etc/etcd/pki/member/{t}.key"));
    }
    place("flannel-etcd-client.crt", "/etc/flannel/pki/etcd-client.crt");
    place("flannel-etcd-client.key", "/etc/flannel/pki/etcd-client.key");
    let etcd_conf = std::fs::read_to_string(root_dir.join("etc/etcd/etcd.conf")).unwrap();
    assert!(!etcd_conf.contains("ENABLE_V2"), "the rendered config must not carry 3.2+'s --enable-v2");
    // Each member's environment: the rendered etcd.conf plus the member.env its host-identity
    // step writes, with paths moved under the test root.
    let member_envs: BTreeMap<String, Vec<(String, String)>> = etcd::MEMBERS
        .iter()
        .map(|(_, ip)| {
            let mroot = dir.path().join(format!("m-{ip}"));
            std::fs::create_dir_all(mroot.join("etc/bundler")).unwrap();
            std::fs::copy(root_dir.join("etc/bundler/hosts"), mroot.join("etc/bundler/hosts")).unwrap();
            let (ok, out) = identity_with_root(&root_dir, &mroot, ip);
            assert!(ok, "{out}");
            let member = std::fs::read_to_string(mroot.join("etc/etcd/member.env")).unwrap();
            let vars: Vec<(String, String)> = etcd_conf
                .lines()
                .chain(member.lines())
                .filter(|l| !l.starts_with('#') && l.contains('='))
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    let v = v
                        .replace("/etc/", &format!("{}/etc/", root_dir.display()))
                        .replace("/var/lib/etcd", &format!("{}/var/lib/etcd-{ip}", dir.path().display()));
                    (k.to_string(), v)
                })
                .collect();
            (ip.to_string(), vars)
        })
        .collect();
    let ca = root_dir.join("etc/etcd/pki/ca.crt");
    let (cc, ck) = (root_dir.join("etc/flannel/pki/etcd-client.crt"), root_dir.join("etc/flannel/pki/etcd-client.key"));
    let mut children = Vec::new();
    let mut logs = Vec::new();
    let guard = etcd::lock();
    for (ip, vars) in &member_envs {
        let log = dir.path().join(format!("etcd-{ip}.log"));
        let mut c = Command::new("etcd");
        c.env_clear().env("PATH", std::env::var("PATH").unwrap());
        for (k, v) in vars {
            c.env(k, v);
        }
        // Debian's 3.4 stand-in serves the v2 API flannel 0.10 speaks only when asked; 3.0.17 always does.
        c.env("ETCD_ENABLE_V2", "true");
        c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
        children.push(c.spawn().unwrap());
        logs.push(log);
    }
    let cluster = etcd::Running { children, logs, _guard: guard };
    cluster.wait_healthy(|ip| etcd::ctl3(ip, &ca, &cc, &ck, &["endpoint", "health"]).0);
    // The rendered oneshot writes the network config, and is idempotent.
    let script = root_dir.join("usr/libexec/bundler/flannel-network-config");
    let run_script = || {
        let o = Command::new("sh").arg(&script).env("ETCD_CA", &ca).env("ETCD_CERT", &cc).env("ETCD_KEY", &ck).env("TRIES", "10").output().unwrap();
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    let (ok, out) = run_script();
    assert!(ok && out.contains("flannel network config written"), "{out}");
    let (ok, out) = run_script();
    assert!(ok && out.contains("already in place"), "{out}");
    // etcdctl (v2 API, as flannel reads it) gets it back over TLS.
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "2")
        .args(["--endpoints=https://127.0.0.12:2379", "--ca-file"])
        .arg(&ca)
        .arg("--cert-file")
        .arg(&cc)
        .arg("--key-file")
        .arg(&ck)
        .args(["get", "/coreos.com/network/config"])
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(v, serde_json::json!({"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}));
    // k8s-status reads the same etcd with the same ECDSA client key (etcdctl, as on the hosts):
    // member health and the flannel subnets. kubectl is a stand-in here; its sections are not tested.
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "2")
        .args(["--endpoints=https://127.0.0.11:2379", "--ca-file"])
        .arg(&ca)
        .arg("--cert-file")
        .arg(&cc)
        .arg("--key-file")
        .arg(&ck)
        .args(["set", "/coreos.com/network/subnets/10.244.7.0-24", "{}"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("kubectl"), "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("kubectl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = Command::new("sh")
        .arg(root_dir.join("usr/sbin/k8s-status"))
        .env("CLUSTER_ENV", root_dir.join("etc/bundler/cluster.env"))
        .env("ETCD_CA", &ca)
        .env("ETCD_CERT", &cc)
        .env("ETCD_KEY", &ck)
        .env("ETCDCTL", "etcdctl")
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "k8s-status:\n{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("cluster is healthy") && out.contains("10.244.7.0-24"), "{out}");
    drop(cluster);
}

fn identity_with_root(script_root: &Path, host_root: &PathBuf, addr: &str) -> (bool, String) {
    let o = Command::new("sh")
        .arg(script_root.join("usr/libexec/bundler/host-identity"))
        .arg("--write")
        .env("BUNDLER_ROOT", host_root)
        .env("BUNDLER_HOST_ADDRESSES", addr)
        .output()
        .unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}
