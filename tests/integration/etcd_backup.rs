//! etcd backups and restores against a real three-member etcd cluster with TLS: the rendered
//! etcd-backup script and k8s-etcd-restore, run as each member would run them (per-member
//! roots with the rendered config, member.env from host-identity, the bundle's certificates).
//! Keys written over v3 and v2, backed up, the data lost, restored, the keys back.
//!
//! Stand-in: Debian's etcd/etcdctl 3.4 instead of 3.0.17. It serves the v2 API only with
//! ETCD_ENABLE_V2 (3.0.17 always does); the etcdctl commands and flags the scripts use
//! (`snapshot save/restore`, `endpoint health`, `member list/add/remove`, v2 `ls -r -p --sort`,
//! `-o extended get`, `set --ttl`, `setdir`) exist with the same meaning in both. systemd is
//! replaced by a `systemctl` on PATH that records its calls; the test starts etcd itself.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::etcd;
use crate::render::{materialise, plan_of};

struct Member {
    ip: &'static str,
    root: PathBuf,
    env: Vec<(String, String)>,
}

struct Setup {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    stub_bin: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.yaml");
    std::fs::write(&inv, "all:\n  hosts:\n    e1: {ip: 127.0.0.11}\n    e2: {ip: 127.0.0.12}\n    e3: {ip: 127.0.0.13}\n  children:\n    kube_control_plane: {hosts: {e1: }}\n    kube_node: {hosts: {e2: , e3: }}\n    etcd: {hosts: {e1: , e2: , e3: }}\n  vars:\n    kube_pods_subnet: 10.244.0.0/16\n    bundler_etcd_backup_keep: 2\n").unwrap();
    let plan = plan_of(&inv);
    assert_eq!(plan.etcd.backup_keep, 2);
    let files = bundler::render::render(&plan).unwrap();
    let state = dir.path().join("state");
    bundler::pki::ensure(&plan, &bundler::pki_options(&plan, &state, false)).unwrap();
    let pki = state.join("pki");
    let mut members = Vec::new();
    for (_, ip) in etcd::MEMBERS {
        let root = dir.path().join(format!("m-{ip}"));
        materialise(&files, &root);
        for (from, to) in [
            ("etcd-ca.crt", "etc/etcd/pki/ca.crt"),
            ("etcd-server.crt", "etc/etcd/pki/member/server.crt"),
            ("etcd-server.key", "etc/etcd/pki/member/server.key"),
            ("etcd-peer.crt", "etc/etcd/pki/member/peer.crt"),
            ("etcd-peer.key", "etc/etcd/pki/member/peer.key"),
        ] {
            std::fs::create_dir_all(root.join(to).parent().unwrap()).unwrap();
            std::fs::copy(pki.join(from), root.join(to)).unwrap();
        }
        let o = Command::new("sh")
            .arg(root.join("usr/libexec/bundler/host-identity"))
            .arg("--write")
            .env("BUNDLER_ROOT", &root)
            .env("BUNDLER_HOST_ADDRESSES", ip)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let conf = std::fs::read_to_string(root.join("etc/etcd/etcd.conf")).unwrap();
        let member = std::fs::read_to_string(root.join("etc/etcd/member.env")).unwrap();
        let env = env_of(&format!("{conf}\n{member}"), &root);
        members.push(Member { ip, root, env });
    }
    // A systemctl that records its calls and says etcd is not running (the test runs etcd).
    let stub_bin = dir.path().join("bin");
    std::fs::create_dir_all(&stub_bin).unwrap();
    let log = dir.path().join("systemctl.log");
    std::fs::write(stub_bin.join("systemctl"), format!("#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$1\" in is-active) exit 3 ;; esac\nexit 0\n", log.display()))
        .unwrap();
    std::fs::set_permissions(stub_bin.join("systemctl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = &members[0].root;
    let (ca, cert, key) = (r.join("etc/etcd/pki/ca.crt"), r.join("etc/etcd/pki/member/server.crt"), r.join("etc/etcd/pki/member/server.key"));
    Setup { dir, members, stub_bin, ca, cert, key }
}

/// KEY=value lines of the rendered files, with paths moved under the member's root.
fn env_of(text: &str, root: &Path) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            let v = v.replace("/etc/", &format!("{}/etc/", root.display())).replace("/var/lib/etcd", &format!("{}/var/lib/etcd", root.display()));
            (k.to_string(), v)
        })
        .collect()
}

fn spawn(m: &Member, extra: &[(String, String)], log: &Path) -> std::process::Child {
    let mut c = Command::new("etcd");
    c.env_clear().env("PATH", std::env::var("PATH").unwrap());
    for (k, v) in m.env.iter().chain(extra) {
        c.env(k, v);
    }
    // Debian's 3.4 stand-in serves the v2 API flannel 0.10 speaks only when asked; 3.0.17 always does.
    c.env("ETCD_ENABLE_V2", "true");
    c.stdout(Stdio::null()).stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap());
    c.spawn().unwrap()
}

impl Setup {
    fn start(&self) -> etcd::Running {
        let guard = etcd::lock();
        let mut children = Vec::new();
        let mut logs = Vec::new();
        for m in &self.members {
            let log = self.dir.path().join(format!("etcd-{}.log", m.ip));
            children.push(spawn(m, &[], &log));
            logs.push(log);
        }
        let r = etcd::Running { children, logs, _guard: guard };
        self.wait(&r);
        r
    }
    fn wait(&self, r: &etcd::Running) {
        r.wait_healthy(|ip| self.ctl3(ip, &["endpoint", "health"]).0);
    }
    fn ctl3(&self, ip: &str, args: &[&str]) -> (bool, String) {
        etcd::ctl3(ip, &self.ca, &self.cert, &self.key, args)
    }
    fn ctl2(&self, ip: &str, args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
        let mut c = Command::new("etcdctl");
        c.env("ETCDCTL_API", "2").arg(format!("--endpoints=https://{ip}:2379")).arg("--ca-file").arg(&self.ca).arg("--cert-file").arg(&self.cert);
        c.arg("--key-file").arg(&self.key).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write;
            let mut sin = child.stdin.take().unwrap();
            if let Some(b) = stdin {
                sin.write_all(b).unwrap();
            }
        }
        let o = child.wait_with_output().unwrap();
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    }
    /// Run a rendered script as member `m` would: its root, the stub systemctl first on PATH.
    fn run(&self, m: &Member, script: &str, args: &[&str], backups: &Path) -> (i32, String) {
        let o = Command::new("sh")
            .arg(m.root.join(script.trim_start_matches('/')))
            .args(args)
            .env("BUNDLER_ROOT", &m.root)
            .env("ETCD_BACKUP_DIR", backups)
            .env("PATH", format!("{}:{}", self.stub_bin.display(), std::env::var("PATH").unwrap()))
            .output()
            .unwrap();
        (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    }
    fn restore(&self, m: &Member, args: &[&str]) -> (i32, String) {
        self.run(m, "/usr/sbin/k8s-etcd-restore", args, &self.dir.path().join("unused"))
    }
}

fn stop(r: &mut etcd::Running, i: usize) {
    let _ = r.children[i].kill();
    let _ = r.children[i].wait();
}

#[test]
fn backup_lose_everything_restore_the_cluster_then_rejoin_one_member() {
    etcd::require("sha256sum");
    etcd::require("flock");
    let s = setup();
    let mut cluster = s.start();
    let m1 = &s.members[0];
    // The health gate the rolling upgrade waits on.
    let (code, out) = s.run(m1, "/usr/libexec/bundler/etcd-health", &[], &s.dir.path().join("unused"));
    assert!(code == 0 && out.matches(" healthy\n").count() == 3, "{out}");

    // Keys over v3 (what the API server writes) and v2 (what flannel writes).
    let v3: BTreeMap<&str, &str> = [("/registry/namespaces/default", "ns"), ("/registry/pods/default/web", "spec with spaces\nand a second line")].into();
    for (k, v) in &v3 {
        let (ok, out) = s.ctl3("127.0.0.11", &["put", k, v]);
        assert!(ok, "{out}");
    }
    let config = r#"{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}"#;
    for (args, value) in [
        (vec!["set", "/coreos.com/network/config"], config.as_bytes()),
        (vec!["set", "--ttl", "86400", "/coreos.com/network/subnets/10.244.12.0-24"], br#"{"PublicIP":"127.0.0.12"}"#.as_slice()),
        (vec!["set", "/bundler-test/trailing-newline"], b"two lines\nand a newline\n".as_slice()),
    ] {
        let (ok, out) = s.ctl2("127.0.0.12", &args, Some(value));
        assert!(ok, "{args:?}: {out}");
    }
    assert!(s.ctl2("127.0.0.12", &["mkdir", "/bundler-test/empty-dir"], None).0);

    // Backups: two older ones of this member and someone's file already in the folder; keep = 2.
    let backups = s.dir.path().join("backups-etcd1");
    for old in ["20000101T000000Z-etcd1", "20000102T000000Z-etcd1"] {
        std::fs::create_dir_all(backups.join(old)).unwrap();
    }
    std::fs::write(backups.join("notes.txt"), "mine").unwrap();
    let (code, out) = s.run(m1, "/usr/libexec/bundler/etcd-backup", &[], &backups);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("etcd backup written:") && out.contains("(3 v2 keys)"), "{out}");
    assert!(out.contains("removed old backup") && out.contains("20000101T000000Z-etcd1"), "{out}");
    let mut names: Vec<String> = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}"); // .lock, the kept old one, the new one, notes.txt
    assert!(names.contains(&"20000102T000000Z-etcd1".to_string()) && names.contains(&"notes.txt".to_string()) && names.contains(&".lock".to_string()));
    let backup = backups.join(names.iter().find(|n| n.ends_with("-etcd1") && !n.starts_with("2000")).unwrap());
    assert_eq!(std::fs::metadata(&backups).unwrap().permissions().mode() & 0o777, 0o700);
    let sums = Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&backup).output().unwrap();
    assert!(sums.status.success(), "{}", String::from_utf8_lossy(&sums.stdout));
    let status = Command::new("etcdctl").env("ETCDCTL_API", "3").args(["snapshot", "status"]).arg(backup.join("snapshot.db")).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let index = std::fs::read_to_string(backup.join("v2/index")).unwrap();
    assert!(index.contains("d 0 /bundler-test/empty-dir\n"), "{index}");
    assert!(index.lines().any(|l| l.starts_with("k ") && l.ends_with(" /coreos.com/network/config")), "{index}");
    let subnet_ttl: i64 = index.lines().find(|l| l.ends_with("10.244.12.0-24")).unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    assert!(subnet_ttl > 0 && subnet_ttl <= 86400, "{index}");

    // The list command shows it; refusals: the cluster is alive, a damaged backup, bad usage.
    let (code, out) = s.run(m1, "/usr/sbin/k8s-etcd-restore", &["list"], &backups);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, format!("{}\n{}\n", backup.display(), backups.join("20000102T000000Z-etcd1").display()));
    let (code, out) = s.restore(m1, &["cluster", backup.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("still answers: the cluster is not lost") && out.contains("k8s-etcd-restore member"), "{out}");
    let damaged = s.dir.path().join("damaged");
    Command::new("cp").arg("-a").arg(&backup).arg(&damaged).status().unwrap();
    std::fs::write(damaged.join("v2/1"), "changed").unwrap();
    let (code, out) = s.restore(m1, &["v2", damaged.to_str().unwrap()]);
    assert!(code == 1 && out.contains("is damaged (SHA256SUMS does not match)"), "{out}");
    let (code, out) = s.restore(m1, &["restore-everything"]);
    assert!(code == 2 && out.contains("unknown command 'restore-everything'") && out.contains("usage: k8s-etcd-restore"), "{out}");
    let (code, out) = s.restore(m1, &["cluster", s.dir.path().join("nope").to_str().unwrap()]);
    assert!(code == 2 && out.contains("is not a backup folder"), "{out}");

    // Lose everything: all members stop, two data folders are gone, one is left damaged.
    for i in 0..3 {
        stop(&mut cluster, i);
    }
    drop(cluster);
    for m in &s.members[1..] {
        std::fs::remove_dir_all(m.root.join("var/lib/etcd/default.etcd")).unwrap();
    }
    std::fs::write(m1.root.join("var/lib/etcd/default.etcd/member/snap/db"), "garbage").unwrap();
    for m in &s.members {
        let (code, out) = s.restore(m, &["cluster", backup.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}", m.ip);
        assert!(out.contains("restored from") && out.contains("etcd starting"), "{out}");
    }
    let aside: Vec<_> = std::fs::read_dir(m1.root.join("var/lib/etcd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged data folder is kept aside, not deleted: {aside:?}");
    let calls = std::fs::read_to_string(s.dir.path().join("systemctl.log")).unwrap();
    assert_eq!(calls.matches("start --no-block etcd.service").count(), 3, "{calls}");
    let mut cluster = s.start();
    for (k, v) in &v3 {
        let (ok, out) = s.ctl3("127.0.0.13", &["get", "--print-value-only", k]);
        assert!(ok && out == format!("{v}\n"), "{k}: {out:?}");
    }
    // v2 keys are not in a v3 snapshot: loaded from the dump.
    assert!(!s.ctl2("127.0.0.11", &["get", "/coreos.com/network/config"], None).0, "v2 keys must not be there before the v2 step");
    let (code, out) = s.restore(&s.members[1], &["v2", backup.to_str().unwrap()]);
    assert!(code == 0 && out.contains("3 v2 keys loaded"), "{out}");
    let (ok, out) = s.ctl2("127.0.0.13", &["get", "/coreos.com/network/config"], None);
    assert!(ok && out == format!("{config}\n"), "{out:?}");
    let (ok, out) = s.ctl2("127.0.0.11", &["get", "/bundler-test/trailing-newline"], None);
    assert!(ok && out == "two lines\nand a newline\n\n", "values come back byte for byte: {out:?}");
    let (ok, out) = s.ctl2("127.0.0.11", &["-o", "extended", "get", "/coreos.com/network/subnets/10.244.12.0-24"], None);
    let ttl: i64 = out.lines().find_map(|l| l.strip_prefix("TTL: ")).unwrap().parse().unwrap();
    assert!(ok && ttl > 0 && ttl <= subnet_ttl, "{out}");
    let (ok, out) = s.ctl2("127.0.0.11", &["ls", "-p", "/bundler-test"], None);
    assert!(ok && out.contains("/bundler-test/empty-dir/"), "{out}");
    // Loading again over the same keys is fine (directories that exist are left).
    let (code, out) = s.restore(&s.members[0], &["v2", backup.to_str().unwrap()]);
    assert!(code == 0 && out.contains("3 v2 keys loaded"), "{out}");

    // One member lost while the others have quorum: it rejoins and gets the data from them.
    let m3 = &s.members[2];
    let (code, out) = s.restore(m3, &["cluster", backup.to_str().unwrap()]);
    assert_eq!(code, 1, "a whole-cluster restore is refused while other members answer: {out}");
    stop(&mut cluster, 2);
    std::fs::remove_dir_all(m3.root.join("var/lib/etcd/default.etcd")).unwrap();
    let (code, out) = s.restore(m3, &["member"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed the old member") && out.contains("etcd starting as a member of the existing cluster"), "{out}");
    let dropin = std::fs::read_to_string(m3.root.join("run/systemd/system/etcd.service.d/rejoin.conf")).unwrap();
    assert_eq!(dropin, "[Service]\nEnvironmentFile=/run/etcd-rejoin.env\n");
    let rejoin = env_of(&std::fs::read_to_string(m3.root.join("run/etcd-rejoin.env")).unwrap(), &m3.root);
    cluster.children[2] = spawn(m3, &rejoin, &s.dir.path().join("etcd-rejoin.log"));
    s.wait(&cluster);
    let (ok, out) = s.ctl3("127.0.0.13", &["get", "--consistency=s", "--print-value-only", "/registry/namespaces/default"]);
    assert!(ok && out == "ns\n", "the rejoined member serves the data from its own store: {out:?}");
    let (ok, out) = s.ctl3("127.0.0.11", &["member", "list"]);
    assert!(ok && out.lines().count() == 3 && !out.contains("unstarted"), "{out}");
    stop(&mut cluster, 0);
    let (code, out) = s.run(m1, "/usr/libexec/bundler/etcd-health", &[], &s.dir.path().join("unused"));
    assert!(code == 1 && out.contains("https://127.0.0.11:2379 UNHEALTHY"), "{out}");
    drop(cluster);
    // With no quorum left, `member` refuses and points at the whole-cluster restore.
    let (code, out) = s.restore(m3, &["member"]);
    assert!(code == 1 && out.contains("no other member answers") && out.contains("cluster BACKUP on every member"), "{out}");
}
