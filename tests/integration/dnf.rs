//! Real installs with Debian's dnf into empty roots, with gpgcheck and repo_gpgcheck: a test
//! base package gives the root busybox as /bin/sh and logging stand-ins for systemctl,
//! useradd, groupadd and getent, so the scriptlets run for real and say what they did.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd::require;
use crate::packages::{sh, Build};

const STUB: &str = "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> /var/log/bundler-test-stubs.log\n";

/// A test-only base package, built with the same rpm crate, in a small unsigned repository.
pub fn base_repo(dir: &Path) -> PathBuf {
    require("busybox");
    require("createrepo_c");
    let repo = dir.join("base-repo");
    std::fs::create_dir_all(&repo).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).exists()).expect("busybox-static");
    let applets = String::from_utf8(Command::new(busybox).arg("--list").output().unwrap().stdout).unwrap();
    let stubs = ["systemctl", "useradd", "groupadd", "getent", "modprobe", "sysctl"];
    let mut b = rpm::PackageBuilder::new("test-base", "1.0", "GPL-2.0", "x86_64", "busybox and logging stand-ins for the tests");
    b.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionWithLevel::Gzip(1)).source_date(1_700_000_000u32)).release("1");
    b.with_file(busybox, rpm::FileOptions::new("/bin/busybox").permissions(0o755)).unwrap();
    for d in ["/bin", "/usr/bin", "/usr/sbin", "/sbin", "/tmp", "/var/log", "/etc"] {
        b.with_dir_entry(rpm::FileOptions::dir(d).permissions(if d == "/tmp" { 0o1777 } else { 0o755 })).unwrap();
    }
    for a in applets.lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox" && !stubs.contains(a)) {
        b.with_symlink(rpm::FileOptions::symlink(format!("/bin/{a}"), "/bin/busybox")).unwrap();
    }
    for s in stubs {
        let path = if matches!(s, "useradd" | "groupadd" | "modprobe" | "sysctl") { format!("/usr/sbin/{s}") } else { format!("/usr/bin/{s}") };
        let body = if s == "getent" {
            // Answers from /etc/passwd and /etc/group, as the real one would, and logs the question.
            format!("{STUB}db=/etc/$1; [ \"$1\" = passwd ] || db=/etc/group\ngrep -q \"^$2:\" \"$db\" 2>/dev/null\n")
        } else if s == "groupadd" {
            format!("{STUB}for n; do :; done; echo \"$n:x:990:\" >> /etc/group\n")
        } else if s == "useradd" {
            format!("{STUB}for n; do :; done; echo \"$n:x:990:990::/var/lib/$n:/sbin/nologin\" >> /etc/passwd\n")
        } else {
            STUB.to_string()
        };
        b.with_file_contents(body, rpm::FileOptions::new(path).permissions(0o755)).unwrap();
    }
    for p in ["/bin/sh", "/bin/bash", "systemd", "shadow-utils", "curl", "iptables", "coreutils", "util-linux"] {
        b.provides(rpm::Dependency::any(p));
    }
    b.build().unwrap().write_file(repo.join("test-base-1.0-1.x86_64.rpm")).unwrap();
    let (ok, out) = sh(Command::new("createrepo_c").arg("--no-database").arg(&repo));
    assert!(ok, "{out}");
    repo
}

/// The keys the bundle's .repo file trusts: ours, and the OS vendor's when it carries OS packages.
fn gpgkeys(repo: &Path) -> String {
    let mut v = vec![format!("file://{}/RPM-GPG-KEY-bundler", repo.display())];
    if repo.join("RPM-GPG-KEY-CentOS-7").exists() {
        v.push(format!("file://{}/RPM-GPG-KEY-CentOS-7", repo.display()));
    }
    v.join(",")
}

pub struct Root {
    pub dir: tempfile::TempDir,
    base: PathBuf,
}

impl Root {
    /// An empty root; `identity` is written to /etc/bundler/host-identity when given.
    pub fn new(identity: Option<&str>) -> Root {
        require("dnf");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("dev")).unwrap();
        let (ok, out) = sh(Command::new("mknod").args(["-m", "666"]).arg(root.join("dev/null")).args(["c", "1", "3"]));
        assert!(ok, "mknod: {out}");
        if let Some(name) = identity {
            std::fs::create_dir_all(root.join("etc/bundler")).unwrap();
            std::fs::write(root.join("etc/bundler/host-identity"), format!("{name}\n")).unwrap();
        }
        let base = base_repo(dir.path());
        let r = Root { dir, base };
        // The OS comes first, as on any el7 host: the role packages' %pretrans needs /bin/sh
        // installed before their transaction (rpm satisfies `Requires(pretrans)` only so).
        let (ok, out) = r.dnf_with(&[], &["install", "test-base"]);
        assert!(ok, "dnf install test-base:\n{out}");
        r
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn dnf(&self, repo: &Path, args: &[&str]) -> (bool, String) {
        let k8s = [
            format!("--repofrompath=k8s,file://{}", repo.display()),
            "--setopt=k8s.gpgcheck=1".into(),
            "--setopt=k8s.repo_gpgcheck=1".into(),
            format!("--setopt=k8s.gpgkey={}", gpgkeys(repo)),
            "--repo=k8s".into(),
        ];
        self.dnf_with(&k8s, args)
    }
    /// dnf in this root with the base repository and `repo_args`.
    fn dnf_with(&self, repo_args: &[String], args: &[&str]) -> (bool, String) {
        let root = self.root();
        sh(Command::new("dnf")
            .args([
                "-y",
                "--releasever=7",
                "--noplugins",
                "--setopt=reposdir=/nonexistent",
                "--setopt=skip_if_unavailable=False",
                "--setopt=install_weak_deps=False",
            ])
            .args(["--setopt=clean_requirements_on_remove=False", "--setopt=keepcache=False", "--setopt=metadata_expire=0", "--refresh"])
            .arg(format!("--installroot={}", root.display()))
            .arg(format!("--setopt=cachedir={}/var/cache/dnf", root.display()))
            .arg(format!("--repofrompath=base,file://{}", self.base.display()))
            .arg("--setopt=base.gpgcheck=0")
            .arg("--repo=base")
            .args(repo_args)
            .args(args))
    }
    pub fn installed(&self) -> Vec<String> {
        let (_, out) = sh(Command::new("rpm").arg(format!("--root={}", self.root().display())).args(["-qa", "--qf", "%{NAME}\n"]));
        let mut v: Vec<String> = out.lines().map(str::to_string).filter(|l| !l.is_empty() && !l.contains(' ')).collect();
        v.sort();
        v
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root().join("var/log/bundler-test-stubs.log")).unwrap_or_default()
    }
    pub fn mode(&self, p: &str) -> (u32, u32) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(self.root().join(p.trim_start_matches('/'))).unwrap_or_else(|e| panic!("{p}: {e}"));
        (m.mode() & 0o7777, m.uid())
    }
}

fn started(log: &str) -> Vec<String> {
    log.lines().filter_map(|l| l.strip_prefix("systemctl start --no-block ")).map(str::to_string).collect()
}

fn enabled(log: &str) -> Vec<String> {
    log.lines().filter_map(|l| l.strip_prefix("systemctl enable ")).map(str::to_string).collect()
}

#[test]
fn dnf_installs_master_and_node_roles_with_the_right_services() {
    let b = crate::packages::example_built();
    let m = Root::new(Some("master"));
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-master"]);
    assert!(ok, "dnf install k8s-master:\n{out}");
    let inst = m.installed();
    for p in ["k8s-common", "k8s-etcd", "k8s-etcd-bin", "k8s-master", "k8s-kube-master-bin", "k8s-flannel-bin"] {
        assert!(inst.contains(&p.to_string()), "{p} in {inst:?}");
    }
    assert!(!inst.contains(&"k8s-node".to_string()) && !inst.contains(&"k8s-docker-bin".to_string()));
    let log = m.log();
    assert!(log.contains("groupadd -r etcd") && log.contains("useradd -r -g etcd"), "{log}");
    assert_eq!(
        started(&log),
        [
            "etcd.service",
            "etcd-backup.timer",
            "flannel-network-config.service",
            "flanneld.service",
            "kube-apiserver.service",
            "kube-controller-manager.service",
            "kube-scheduler.service",
            "k8s-addons.service"
        ],
        "{log}"
    );
    assert!(enabled(&log).contains(&"bundler-host-identity.service".to_string()));
    assert!(std::fs::read_to_string(m.root().join("etc/bundler/host.env")).unwrap().contains("BUNDLER_NODE_NAME=master\nBUNDLER_NODE_IP=192.168.0.211\n"));
    assert!(std::fs::read_to_string(m.root().join("etc/etcd/member.env")).unwrap().contains("ETCD_NAME=etcd1\n"));
    assert_eq!(m.mode("/etc/kubernetes/pki/apiserver.key"), (0o600, 0));
    assert_eq!(m.mode("/etc/kubernetes/pki").0, 0o700);
    assert_eq!(m.mode("/etc/etcd/pki/member").0, 0o700);
    assert_eq!(m.mode("/etc/etcd/pki/member/server.key").0, 0o600);
    assert_eq!(m.mode("/usr/bin/kube-apiserver").0, 0o755);
    assert!(!m.root().join("etc/kubernetes/pki/kubernetes-ca.key").exists());

    let n = Root::new(Some("node01"));
    let (ok, out) = n.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(ok, "dnf install k8s-node:\n{out}");
    let log = n.log();
    assert_eq!(
        started(&log),
        ["etcd.service", "etcd-backup.timer", "flanneld.service", "docker.service", "k8s-load-images.service", "kubelet.service", "kube-proxy.service"],
        "{log}"
    );
    assert!(!log.contains("kube-apiserver"));
    assert!(n.installed().contains(&"k8s-docker-bin".to_string()));
    assert!(std::fs::read_to_string(n.root().join("etc/bundler/host.env")).unwrap().contains("BUNDLER_NODE_NAME=node01\n"));
}

#[test]
fn upgrade_keeps_edited_config_and_remove_leaves_data() {
    let b = Build::example();
    b.build(&[]).code(0);
    let m = Root::new(Some("master"));
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-master"]);
    assert!(ok, "{out}");
    // The admin edits a config file; etcd has data.
    let env = m.root().join("etc/kubernetes/apiserver.env");
    std::fs::write(&env, "# edited by the admin\n").unwrap();
    std::fs::write(m.root().join("var/lib/etcd/member-data"), "data").unwrap();
    // A rebuild after an inventory change: the API server's config changes.
    let inv = std::fs::read_to_string(b.p("hosts.yaml"))
        .unwrap()
        .replace("kube_proxy_mode: iptables", "kube_proxy_mode: iptables\n        kube_apiserver_port: 7443");
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    let r = b.build(&[]);
    r.code(0);
    let doc = r.json();
    let rel = |n: &str| doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == n).unwrap()["release"].as_str().unwrap().to_string();
    assert_eq!(rel("k8s-master"), "2.el7");
    assert_eq!(rel("k8s-kube-master-bin"), "1.el7", "unchanged content keeps its release");
    std::fs::write(m.root().join("var/log/bundler-test-stubs.log"), "").unwrap();
    let (ok, out) = m.dnf(&b.repo(), &["upgrade"]);
    assert!(ok, "dnf upgrade:\n{out}");
    assert_eq!(std::fs::read_to_string(&env).unwrap(), "# edited by the admin\n", "the edited file stays");
    let new = std::fs::read_to_string(m.root().join("etc/kubernetes/apiserver.env.rpmnew")).unwrap_or_else(|e| {
        panic!("{e}: {:?}\n{out}", std::fs::read_dir(m.root().join("etc/kubernetes")).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
    });
    assert!(new.contains("--secure-port=7443"), "{new}");
    let log = m.log();
    assert!(log.contains("systemctl try-restart kube-apiserver.service"), "{log}");
    assert!(!log.contains("systemctl start"), "an upgrade restarts, it does not first-start: {log}");
    // Remove: services stopped and disabled, data left in place.
    std::fs::write(m.root().join("var/log/bundler-test-stubs.log"), "").unwrap();
    let (ok, out) = m.dnf(&b.repo(), &["remove", "k8s-master", "k8s-etcd"]);
    assert!(ok, "dnf remove:\n{out}");
    let log = m.log();
    for s in ["kube-apiserver.service", "etcd.service", "k8s-addons.service"] {
        assert!(log.contains(&format!("systemctl --no-reload disable {s}")) && log.contains(&format!("systemctl stop {s}")), "{s}: {log}");
    }
    assert_eq!(std::fs::read_to_string(m.root().join("var/lib/etcd/member-data")).unwrap(), "data");
}

#[test]
fn tampered_repository_or_package_is_refused() {
    let b = Build::example();
    b.build(&[]).code(0);
    // A tampered repomd.xml: its signature no longer matches.
    let t1 = tempfile::tempdir().unwrap();
    let (ok, out) = sh(Command::new("cp").arg("-a").arg(b.repo()).arg(t1.path().join("repo")));
    assert!(ok, "{out}");
    let repomd = t1.path().join("repo/repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd).unwrap().replacen("<revision>", "<revision>1", 1);
    std::fs::write(&repomd, text).unwrap();
    let m = Root::new(Some("master"));
    let (ok, out) = m.dnf(&t1.path().join("repo"), &["install", "k8s-master"]);
    assert!(!ok, "a tampered repomd.xml was accepted:\n{out}");
    assert!(out.contains("repomd.xml GPG signature verification error"), "{out}");
    assert!(!m.installed().iter().any(|p| p.starts_with("k8s-")));
    // A tampered package: same size, one byte changed in the payload.
    let t2 = tempfile::tempdir().unwrap();
    sh(Command::new("cp").arg("-a").arg(b.repo()).arg(t2.path().join("repo")));
    let p = std::fs::read_dir(t2.path().join("repo/Packages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("k8s-kube-master-bin"))
        .unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    let i = bytes.len() - 100;
    bytes[i] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    let m = Root::new(Some("master"));
    let (ok, out) = m.dnf(&t2.path().join("repo"), &["install", "k8s-master"]);
    assert!(!ok, "a tampered package was accepted:\n{out}");
    assert!(out.contains("has incorrect checksum"), "{out}");
    assert!(!m.installed().iter().any(|p| p == "k8s-kube-master-bin"));
}

#[test]
fn a_machine_in_no_inventory_fails_in_pre_and_nothing_is_installed() {
    let b = Build::example();
    b.build(&[]).code(0);
    // No override, and this machine's own addresses are not the inventory's.
    let s = Root::new(None);
    let (ok, out) = s.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(!ok, "installed on a stranger:\n{out}");
    assert!(out.contains("is not a host of this cluster's inventory"), "{out}");
    assert!(out.contains("node01"), "the message lists the inventory's hosts: {out}");
    let k8s: Vec<String> = s.installed().into_iter().filter(|p| p.starts_with("k8s-")).collect();
    assert!(k8s.is_empty(), "nothing is installed: {k8s:?}");
    assert!(!s.log().contains("systemctl start"));
}

#[test]
fn a_role_package_on_a_host_without_its_role_is_refused_before_anything_is_installed() {
    let b = crate::packages::example_built();
    // node01 has etcd and node, not control-plane.
    let m = Root::new(Some("node01"));
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-master"]);
    assert!(!ok, "k8s-master installed on node01:\n{out}");
    assert!(out.contains("it is not a control-plane host") && out.contains("node01"), "the role message:\n{out}");
    let k8s: Vec<String> = m.installed().into_iter().filter(|p| p.starts_with("k8s-")).collect();
    assert!(k8s.is_empty(), "installed before the refusal: {k8s:?}\n{out}");
    assert!(enabled(&m.log()).is_empty(), "enabled before the refusal: {:?}\n{out}", enabled(&m.log()));
    assert!(!out.contains("not found") && !out.contains("syntax error"), "a shell error:\n{out}");
}

#[test]
fn the_files_host_identity_writes_are_owned_by_their_package() {
    let b = crate::packages::example_built();
    let m = Root::new(Some("node01"));
    let (ok, out) = m.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(ok, "dnf install k8s-node:\n{out}");
    for (f, pkg) in [("/etc/bundler/host.env", "k8s-common"), ("/etc/etcd/member.env", "k8s-etcd")] {
        assert!(m.root().join(f.trim_start_matches('/')).exists(), "{f} was not written");
        let (ok, owner) = sh(Command::new("rpm").arg(format!("--root={}", m.root().display())).args(["-qf", "--qf", "%{NAME}\n", f]));
        assert!(ok && owner.trim() == pkg, "rpm -qf {f}: {owner}");
    }
}
