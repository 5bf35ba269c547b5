//! A real three-member etcd cluster (Debian's etcd-server) on 127.0.0.11-13 with TLS and
//! client-certificate auth, for the PKI and render tests. One at a time: they share ports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static ONE_CLUSTER: Mutex<()> = Mutex::new(());

pub const MEMBERS: [(&str, &str); 3] = [("etcd1", "127.0.0.11"), ("etcd2", "127.0.0.12"), ("etcd3", "127.0.0.13")];

pub struct Cluster {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
    pub logs: Vec<PathBuf>,
}

/// Members started by a test itself (with its own environment), stopped on drop.
pub struct Running {
    pub children: Vec<Child>,
    pub logs: Vec<PathBuf>,
    pub _guard: MutexGuard<'static, ()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Running {
    pub fn wait_healthy(&self, health: impl Fn(&str) -> bool) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if MEMBERS.iter().all(|(_, ip)| health(ip)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "etcd cluster not healthy in 60s:\n{}",
            self.logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect::<Vec<_>>().join("\n---\n")
        );
    }
}

/// Only one cluster at a time: they share 127.0.0.11-13:2379/2380.
pub fn lock() -> MutexGuard<'static, ()> {
    require("etcd");
    require("etcdctl");
    ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Tls<'a> {
    pub ca: &'a Path,
    pub server_cert: &'a Path,
    pub server_key: &'a Path,
    pub peer_cert: &'a Path,
    pub peer_key: &'a Path,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn require(tool: &str) {
    let ok = Command::new("sh").args(["-c", &format!("command -v {tool}")]).stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "`{tool}` is not installed; scripts/test.sh installs the tools the tests need (a missing tool fails, it does not skip)");
}

/// Start each member with flags built by `flags(name, ip)`, and wait until all are healthy.
pub fn start(flags: impl Fn(&str, &str, &Path) -> Vec<String>, env: &[(&str, &str)], health: impl Fn(&str) -> bool) -> Cluster {
    let guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    let mut logs = Vec::new();
    for (name, ip) in MEMBERS {
        let data = dir.path().join(name);
        let log = dir.path().join(format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let mut c = Command::new("etcd");
        c.args(flags(name, ip, &data)).stdout(Stdio::null()).stderr(f);
        for (k, v) in env {
            c.env(k, v);
        }
        children.push(c.spawn().unwrap());
        logs.push(log);
    }
    let mut cl = Cluster { children, _dir: dir, _guard: guard, logs };
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if MEMBERS.iter().all(|(_, ip)| health(ip)) {
            return cl;
        }
        for c in &mut cl.children {
            if let Ok(Some(st)) = c.try_wait() {
                panic!(
                    "an etcd member exited ({st}):\n{}",
                    cl.logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect::<Vec<_>>().join("\n---\n")
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("etcd cluster not healthy in 60s:\n{}", cl.logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect::<Vec<_>>().join("\n---\n"));
}

pub fn tls_flags<'a>(t: &'a Tls<'a>) -> impl Fn(&str, &str, &Path) -> Vec<String> + 'a {
    move |name, ip, data| {
        let cluster = MEMBERS.iter().map(|(n, i)| format!("{n}=https://{i}:2380")).collect::<Vec<_>>().join(",");
        vec![
            format!("--name={name}"),
            format!("--data-dir={}", data.display()),
            format!("--listen-client-urls=https://{ip}:2379"),
            format!("--advertise-client-urls=https://{ip}:2379"),
            format!("--listen-peer-urls=https://{ip}:2380"),
            format!("--initial-advertise-peer-urls=https://{ip}:2380"),
            format!("--initial-cluster={cluster}"),
            "--initial-cluster-state=new".into(),
            "--initial-cluster-token=bundler-test".into(),
            format!("--cert-file={}", t.server_cert.display()),
            format!("--key-file={}", t.server_key.display()),
            format!("--trusted-ca-file={}", t.ca.display()),
            "--client-cert-auth".into(),
            format!("--peer-cert-file={}", t.peer_cert.display()),
            format!("--peer-key-file={}", t.peer_key.display()),
            format!("--peer-trusted-ca-file={}", t.ca.display()),
            "--peer-client-cert-auth".into(),
        ]
    }
}

/// etcdctl (v3 API) with a client certificate; returns (success, stdout+stderr).
pub fn ctl3(ip: &str, ca: &Path, cert: &Path, key: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints=https://{ip}:2379"))
        .arg(format!("--cacert={}", ca.display()))
        .arg(format!("--cert={}", cert.display()))
        .arg(format!("--key={}", key.display()))
        .arg("--dial-timeout=3s")
        .arg("--command-timeout=5s")
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
