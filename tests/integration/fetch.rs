//! `bundler fetch` against a real HTTP server in the test process serving fixture tarballs
//! with the upstream layouts: success, mismatches, resume, retries, mirrors, offline,
//! damaged cache, concurrency, SIGKILL and export.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::fixtures::{self, Fixture};
use crate::httpd::{Behave, Server};
use crate::util::{bundler, root, run, Run};

struct Env {
    dir: tempfile::TempDir,
    server: Server,
    fx: Vec<Fixture>,
}

impl Env {
    /// Fixtures served under /up/ (the "upstream"), and a catalog pointing there.
    fn new(scale: usize) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start();
        let fx = fixtures::artifacts(scale);
        for f in &fx {
            server.put(&format!("/up/{}", f.file_name), f.bytes.clone());
        }
        std::fs::write(dir.path().join("catalog.yaml"), fixtures::catalog(&fx, &format!("{}/up", server.base))).unwrap();
        Env { dir, server, fx }
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    fn cmd(&self, extra: &[&str]) -> Command {
        let mut c = bundler();
        c.env("BUNDLER_RETRY_BASE_MS", "50")
            .env_remove("BUNDLER_MIRRORS")
            .env_remove("BUNDLER_CACHE")
            .args(["fetch", "--json", "--inventory"])
            .arg(root().join("examples/hosts.yaml"))
            .arg("--catalog")
            .arg(self.dir.path().join("catalog.yaml"))
            .arg("--cache")
            .arg(self.cache())
            .args(extra);
        c
    }
    fn fetch(&self, extra: &[&str]) -> Run {
        run(&mut self.cmd(extra))
    }
    fn f(&self, name: &str) -> &Fixture {
        self.fx.iter().find(|f| f.name == name).unwrap()
    }
    fn cached(&self, f: &Fixture) -> PathBuf {
        self.cache().join("files/sha256").join(f.sha256())
    }
}

fn artifact<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn fetches_and_verifies_everything() {
    let e = Env::new(1);
    let r = e.fetch(&[]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["artifacts"].as_array().unwrap().len(), 4);
    for f in &e.fx {
        let a = artifact(&doc, f.name);
        assert_eq!(a["outcome"], "downloaded");
        assert_eq!(a["expected_digest"], format!("sha256:{}", f.sha256()));
        assert_eq!(a["actual_digest"], a["expected_digest"]);
        assert_eq!(a["url"], format!("{}/up/{}", e.server.base, f.file_name));
        assert_eq!(a["bytes"], f.bytes.len());
        assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
    }
    // A second run uses the cache, re-verified, with no request.
    let before = e.server.log().len();
    let doc = e.fetch(&[]).json();
    assert!(doc["artifacts"].as_array().unwrap().iter().all(|a| a["outcome"] == "cached"));
    assert_eq!(e.server.log().len(), before);
}

#[test]
fn digest_mismatch_caches_nothing() {
    let e = Env::new(1);
    let f = e.f("flannel");
    let wrong = "0".repeat(64);
    let cat = std::fs::read_to_string(e.dir.path().join("catalog.yaml")).unwrap().replace(&f.sha256(), &wrong);
    std::fs::write(e.dir.path().join("catalog.yaml"), cat).unwrap();
    let r = e.fetch(&[]);
    r.code(1).has(&format!(
        "digest mismatch for flannel v0.10.0 from {}/up/{}: expected sha256:{wrong}, got sha256:{}",
        e.server.base,
        f.file_name,
        f.sha256()
    ));
    assert_eq!(files_in(&e.cache().join("files/sha256")).iter().filter(|n| n.starts_with(&wrong)).count(), 0, "no file, partial or meta for the bad digest");
    // A mismatch is not retried.
    assert_eq!(e.server.requests_for(&format!("/up/{}", f.file_name)).len(), 1);
}

#[test]
fn dropped_connection_resumes_with_range() {
    let e = Env::new(4);
    let f = e.f("kubernetes-server");
    let path = format!("/up/{}", f.file_name);
    let cut = f.bytes.len() / 2;
    e.server.once(&path, Behave::DropAfter(cut));
    let r = e.fetch(&[]);
    r.code(0);
    let a = artifact(&r.json(), "kubernetes-server").clone();
    assert_eq!(a["outcome"], "resumed");
    let reqs = e.server.requests_for(&path);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
    assert_eq!(reqs[1].status, 206);
    let sent: usize = reqs.iter().map(|l| l.body_bytes).sum();
    assert_eq!(sent, f.bytes.len(), "resume sends only the missing bytes");
    assert!(sent < f.bytes.len() + cut, "fewer bytes than a restart would need");
    assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
}

#[test]
fn server_that_ignores_range_restarts_cleanly() {
    let e = Env::new(2);
    let f = e.f("kubernetes-server");
    let path = format!("/up/{}", f.file_name);
    e.server.once(&path, Behave::DropAfter(100_000));
    e.server.once(&path, Behave::IgnoreRange);
    e.fetch(&[]).code(0);
    let reqs = e.server.requests_for(&path);
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].range.is_some());
    assert_eq!(reqs[1].status, 200);
    assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
}

#[test]
fn file_changed_on_the_server_is_not_stitched() {
    let e = Env::new(2);
    let f = e.f("etcd");
    let path = format!("/up/{}", f.file_name);
    // First the server has an older file and the connection drops; then it has the pinned one.
    let mut old = f.bytes.clone();
    let n = old.len();
    old[n - 10] ^= 0xff;
    e.server.put(&path, old);
    e.server.once(&path, Behave::DropAfter(n / 2));
    e.server.once(&path, Behave::ReplaceWith(f.bytes.clone()));
    let r = e.fetch(&[]);
    r.code(0);
    let reqs = e.server.requests_for(&path);
    let last = reqs.last().unwrap();
    assert!(last.if_range.is_some(), "the resume carried the old ETag");
    assert_eq!(last.status, 200, "If-Range did not match, so the whole new file came");
    assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
}

#[test]
fn server_error_then_success_and_404_without_retry() {
    let e = Env::new(1);
    let d = e.f("docker");
    let dp = format!("/up/{}", d.file_name);
    e.server.once(&dp, Behave::Status(500));
    e.server.once(&dp, Behave::Status(429));
    let r = e.fetch(&[]);
    r.code(0);
    assert_eq!(e.server.requests_for(&dp).len(), 3);
    assert!(r.stderr.is_empty() || !r.stderr.contains("error"), "{}", r.stderr);

    let e = Env::new(1);
    let c = e.f("flannel");
    let cp = format!("/up/{}", c.file_name);
    e.server.always(&cp, Behave::Status(404));
    let r = e.fetch(&[]);
    r.code(1).has(&format!("{}/up/{} (attempt 1): HTTP 404 Not Found", e.server.base, c.file_name));
    assert_eq!(e.server.requests_for(&cp).len(), 1, "404 is not retried");
}

#[test]
fn stalled_body_is_retried() {
    let e = Env::new(2);
    let f = e.f("flannel");
    let path = format!("/up/{}", f.file_name);
    e.server.once(&path, Behave::StallAfter(10_000, Duration::from_secs(8)));
    let r = e.fetch(&["--stall-timeout", "1"]);
    r.code(0);
    assert_eq!(artifact(&r.json(), "flannel")["outcome"], "resumed");
    assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
}

#[test]
fn retries_are_bounded_and_say_why() {
    let e = Env::new(1);
    let f = e.f("flannel");
    let path = format!("/up/{}", f.file_name);
    e.server.always(&path, Behave::Status(502));
    let r = e.fetch(&["--retries", "3"]);
    r.code(1).has(&format!("{}/up/{} (attempt 3 of 3): HTTP 502 Bad Gateway; giving up on this URL", e.server.base, f.file_name));
    assert_eq!(e.server.requests_for(&path).len(), 3);
}

#[test]
fn mirrors_in_order_and_no_upstream() {
    let e = Env::new(1);
    // Mirror one has only etcd; mirror two has everything.
    let etcd = e.f("etcd");
    e.server.put(&format!("/m1/{}", etcd.file_name), etcd.bytes.clone());
    for f in &e.fx {
        e.server.put(&format!("/m2/{}", f.file_name), f.bytes.clone());
    }
    let m1 = format!("{}/m1", e.server.base);
    let m2 = format!("{}/m2/", e.server.base);
    let r = e.fetch(&["--mirror", &m1, "--mirror", &m2]);
    r.code(0);
    let doc = r.json();
    assert_eq!(artifact(&doc, "etcd")["url"], format!("{m1}/{}", etcd.file_name));
    assert_eq!(artifact(&doc, "docker")["url"], format!("{}/m2/docker-17.12.1-ce.tgz", e.server.base));
    assert!(e.server.log().iter().all(|l| !l.path.starts_with("/up/")), "upstream not contacted");

    let e = Env::new(1);
    let r = e.fetch(&["--no-upstream", "--mirror", &format!("{}/empty", e.server.base)]);
    r.code(1).has("/empty/kubernetes-server-linux-amd64.tar.gz (attempt 1): HTTP 404 Not Found");
    assert!(e.server.log().iter().all(|l| !l.path.starts_with("/up/")), "--no-upstream forbids upstream");
}

#[test]
fn offline_uses_only_the_cache() {
    let e = Env::new(1);
    let r = e.fetch(&["--offline"]);
    r.code(1).has("--offline: 4 artifact(s) are not in the cache");
    for f in &e.fx {
        r.has(&format!("  {}  sha256:{}", f.file_name, f.sha256()));
    }
    assert!(e.server.log().is_empty(), "offline opened no connection");
    e.fetch(&[]).code(0);
    let n = e.server.log().len();
    let r = e.fetch(&["--offline"]);
    r.code(0);
    assert!(r.json()["artifacts"].as_array().unwrap().iter().all(|a| a["outcome"] == "cached"));
    assert_eq!(e.server.log().len(), n);
}

#[test]
fn damaged_cached_file_is_fetched_again() {
    let e = Env::new(1);
    e.fetch(&[]).code(0);
    let f = e.f("docker");
    let p = e.cached(f);
    let mut b = std::fs::read(&p).unwrap();
    b[100] ^= 1;
    std::fs::write(&p, b).unwrap();
    let r = run(e.cmd(&[]).arg("--quiet"));
    r.code(0);
    let doc = r.json();
    assert_eq!(artifact(&doc, "docker")["outcome"], "downloaded");
    assert_eq!(artifact(&doc, "etcd")["outcome"], "cached");
    assert_eq!(std::fs::read(&p).unwrap(), f.bytes);
}

#[test]
fn damaged_file_is_reported_in_the_log() {
    let e = Env::new(1);
    e.fetch(&[]).code(0);
    let p = e.cached(e.f("etcd"));
    std::fs::write(&p, b"garbage").unwrap();
    let c = e.cmd(&[]);
    let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).filter(|a| a != "--json").collect();
    let r = run(bundler().env("BUNDLER_RETRY_BASE_MS", "50").args(args));
    r.code(0).has("etcd: cached file").has("no longer matches its digest; fetching it again");
    // Log lines, not control codes.
    assert!(!r.stderr.contains('\u{1b}'), "no terminal control codes in logs");
    assert!(r.stderr.contains("kubernetes-server: fetching") || r.stderr.contains("kubernetes-server: cached"));
}

#[test]
fn two_processes_share_one_cache() {
    let e = Env::new(4);
    for f in &e.fx {
        e.server.always(&format!("/up/{}", f.file_name), Behave::Slow(64 * 1024, Duration::from_millis(5)));
    }
    let a = e.cmd(&[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = e.cmd(&[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    for f in &e.fx {
        assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
        assert_eq!(e.server.requests_for(&format!("/up/{}", f.file_name)).len(), 1, "{} downloaded once", f.name);
    }
    assert!(files_in(&e.cache().join("files/sha256")).iter().all(|n| !n.contains("partial")));
}

#[test]
fn sigkill_mid_download_then_rerun_completes() {
    let e = Env::new(8);
    let f = e.f("kubernetes-server");
    let path = format!("/up/{}", f.file_name);
    e.server.once(&path, Behave::Slow(32 * 1024, Duration::from_millis(20)));
    let mut child = e.cmd(&["--jobs", "1"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let partial = e.cache().join("files/sha256").join(format!("{}.partial", f.sha256()));
    let mut waited = 0;
    while std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) < 200_000 && waited < 1000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    let got = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(got >= 200_000, "download under way before the kill ({got} bytes)");
    kill9(child.id());
    let _ = child.wait();
    assert!(!e.cached(f).exists(), "nothing half-written in the final place");
    let r = e.fetch(&[]);
    r.code(0);
    assert_eq!(artifact(&r.json(), "kubernetes-server")["outcome"], "resumed");
    assert_eq!(std::fs::read(e.cached(f)).unwrap(), f.bytes);
}

fn kill9(pid: u32) {
    let st = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(st.success());
}

#[test]
fn export_then_offline_file_mirror() {
    let e = Env::new(1);
    // The export carries the plan's images too: serve fixture images from the same server.
    let images = fixtures::images();
    fixtures::serve_images(&e.server, &images);
    let cat = fixtures::catalog(&e.fx, &format!("{}/up", e.server.base)) + &fixtures::image_catalog(&images, e.server.base.trim_start_matches("http://"));
    std::fs::write(e.dir.path().join("catalog.yaml"), cat).unwrap();
    let out = e.dir.path().join("mirror");
    let r = e.fetch(&["--export", out.to_str().unwrap()]);
    r.code(0);
    assert_eq!(r.json()["export"], out.join("SHA256SUMS").to_str().unwrap());
    // The real sha256sum accepts the listing.
    let st = Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&out).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stdout));
    let names: Vec<String> = files_in(&out).into_iter().filter(|n| !n.ends_with(".manifest") && !n.ends_with(".blob")).collect();
    // The four artifacts, SHA256SUMS, and the OS packages with their vendor key.
    assert_eq!(names.len(), 5 + crate::ospkgs::PACKAGES.len() + 1, "{names:?}");
    // Another machine: empty cache, offline, the folder as a file:// mirror.
    let n = e.server.log().len();
    let other = e.dir.path().join("cache2");
    let r = run(bundler()
        .args(["fetch", "--json", "--offline", "--inventory"])
        .arg(root().join("examples/hosts.yaml"))
        .arg("--catalog")
        .arg(e.dir.path().join("catalog.yaml"))
        .arg("--cache")
        .arg(&other)
        .arg("--mirror")
        .arg(format!("file://{}", out.display())));
    r.code(0);
    let doc = r.json();
    for f in &e.fx {
        assert_eq!(artifact(&doc, f.name)["outcome"], "copied");
        assert_eq!(std::fs::read(other.join("files/sha256").join(f.sha256())).unwrap(), f.bytes);
    }
    assert_eq!(e.server.log().len(), n);
}
