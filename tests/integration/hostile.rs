//! Hostile bundles, caches, state folders, registries and download servers (issue 15): each
//! case asserts the refusal, what it names, and that nothing was written or leaked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fixtures;
use crate::httpd::{Behave, Server};
use crate::packages::{sh, Build};
use crate::util::{bundler, root, run, Run};

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// `bundler verify` with a private TMPDIR, so a test can see verify left nothing behind.
fn verify(target: &Path, extra: &[&str]) -> (Run, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(bundler().arg("verify").arg(target).args(extra).env("TMPDIR", tmp.path()));
    (r, tmp)
}

#[track_caller]
fn left_nothing(tmp: &tempfile::TempDir) {
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "verify left {left:?} behind");
}

/// The failing check lines of `bundler verify` (`  FILE: CHECK: DETAIL`).
fn failures(r: &Run) -> Vec<String> {
    r.stderr.lines().filter(|l| l.starts_with("  ") && !l.starts_with("  caused by")).map(|l| l.trim().to_string()).collect()
}

#[test]
fn verify_catches_one_flipped_byte_in_every_file_and_names_it() {
    let b = Build::example();
    b.build(&[]).code(0);
    let bundle = b.bundle();
    let (r, tmp) = verify(&bundle, &[]);
    r.code(0);
    left_nothing(&tmp);
    let files = files_under(&bundle);
    assert!(files.contains(&"SHA256SUMS.asc".to_string()), "the checksum list is signed: {files:?}");
    for rel in &files {
        let p = bundle.join(rel);
        let orig = std::fs::read(&p).unwrap();
        for at in [0, orig.len() / 2, orig.len().saturating_sub(1)] {
            let mut bytes = orig.clone();
            bytes[at] ^= 0x01;
            std::fs::write(&p, &bytes).unwrap();
            let (r, _) = verify(&bundle, &[]);
            let f = failures(&r);
            assert_eq!(r.code, 1, "{rel} with byte {at} flipped must fail verify:\n{}", r.stderr);
            assert!(f.iter().any(|l| l.starts_with(&format!("{rel}: ")) || l.contains(rel.as_str())), "{rel} (byte {at}) is named:\n{}", r.stderr);
        }
        std::fs::write(&p, &orig).unwrap();
    }
    verify(&bundle, &[]).0.code(0);
}

#[test]
fn verify_refuses_a_swapped_package_even_with_sums_and_manifest_edited_to_match() {
    let b = Build::example();
    b.build(&[]).code(0);
    let bundle = b.bundle();
    let rpm = b.rpm("k8s-kube-node-bin");
    let rel = rpm.strip_prefix(&bundle).unwrap().to_string_lossy().into_owned();
    let old = sha(&std::fs::read(&rpm).unwrap());
    // Another package's bytes under the kubelet's name, and the lists edited to match.
    let other = std::fs::read(b.rpm("k8s-etcd-bin")).unwrap();
    std::fs::write(&rpm, &other).unwrap();
    let new = sha(&other);
    for list in ["SHA256SUMS", "manifest.json"] {
        let t = std::fs::read_to_string(bundle.join(list)).unwrap().replace(&old, &new);
        std::fs::write(bundle.join(list), t).unwrap();
    }
    let (r, tmp) = verify(&bundle, &[]);
    r.code(1).has(&format!("  {rel}: repository metadata: ")).has("SHA256SUMS: signature:");
    left_nothing(&tmp);
}

/// A tarball from `(name, type, body, link)` entries, names written raw (so `..` and absolute
/// names can be made).
fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, body, link) in entries {
        if name.len() > 99 {
            // A GNU long name first, as GNU tar writes it.
            let mut l = tar::Header::new_gnu();
            l.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
            l.set_entry_type(tar::EntryType::GNULongName);
            l.set_size(name.len() as u64 + 1);
            l.set_cksum();
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        let mut h = tar::Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            let n = name.len().min(99);
            g.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        }
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A tar member: name, type, body, link target.
type Member = (String, tar::EntryType, Vec<u8>, Option<String>);

/// The genuine bundle as tar entries under `top/`, followed by `extra`.
fn genuine_plus(bundle: &Path, top: &str, extra: Vec<Member>) -> Vec<u8> {
    let mut entries: Vec<Member> = vec![(format!("{top}/"), tar::EntryType::Directory, vec![], None)];
    let mut dirs = std::collections::BTreeSet::new();
    for f in files_under(bundle) {
        let mut p = Path::new(&f).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_string_lossy().into_owned());
            p = d.parent();
        }
    }
    for d in dirs {
        entries.push((format!("{top}/{d}/"), tar::EntryType::Directory, vec![], None));
    }
    for f in files_under(bundle) {
        entries.push((format!("{top}/{f}"), tar::EntryType::Regular, std::fs::read(bundle.join(&f)).unwrap(), None));
    }
    entries.extend(extra);
    let refs: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> = entries.iter().map(|(n, k, b, l)| (n.as_str(), *k, b.as_slice(), l.as_deref())).collect();
    raw_tar(&refs)
}

#[test]
fn verify_refuses_hostile_tarballs_and_leaves_nothing_behind() {
    let b = Build::example();
    b.build(&[]).code(0);
    let bundle = b.bundle();
    let top = bundle.file_name().unwrap().to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let reg = tar::EntryType::Regular;
    let t = |name: &str, tarball: Vec<u8>, want: &str| {
        let p = dir.path().join(format!("{name}.tar"));
        std::fs::write(&p, tarball).unwrap();
        let (r, tmp) = verify(&p, &[]);
        r.code(1).has(want);
        left_nothing(&tmp);
        assert!(!r.stdout.contains(" 0 failed"), "{name}: {}", r.stdout);
    };
    // The genuine bundle, repacked the same way, verifies: the cases below fail for their own reason.
    let p = dir.path().join("genuine.tar");
    std::fs::write(&p, genuine_plus(&bundle, &top, vec![])).unwrap();
    verify(&p, &[]).0.code(0);
    // A genuine decoy folder first, the real one with a changed install.sh after it.
    let mut decoy = genuine_plus(&bundle, "aaa-decoy", vec![]);
    decoy.truncate(decoy.len() - 1024);
    decoy.extend(genuine_plus(&bundle, &top, vec![]));
    t("decoy", decoy, "a second top-level entry");
    let cases: Vec<(&str, Member, &str)> = vec![
        ("symlink", (format!("{top}/shadow"), tar::EntryType::Symlink, vec![], Some("/etc/shadow".into())), "is a symbolic link"),
        ("hardlink", (format!("{top}/shadow"), tar::EntryType::Link, vec![], Some("/etc/shadow".into())), "is a hard link"),
        ("device", (format!("{top}/zero"), tar::EntryType::Char, vec![], None), "is a device"),
        ("fifo", (format!("{top}/fifo"), tar::EntryType::Fifo, vec![], None), "is a FIFO"),
        ("absolute", ("/etc/cron.d/evil".into(), reg, b"* * * * * root reboot\n".to_vec(), None), "has an absolute path"),
        ("dotdot", (format!("{top}/../../evil"), reg, b"x".to_vec(), None), "has a `..` component"),
        ("twice", (format!("{top}/install.sh"), reg, b"#!/bin/sh\nreboot\n".to_vec(), None), "appears twice"),
    ];
    for (name, extra, want) in cases {
        t(name, genuine_plus(&bundle, &top, vec![extra]), want);
    }
    // A sparse member (8 GiB of holes around 512 bytes) and a header claiming 1 TiB are refused
    // at once, not read.
    let mut h = tar::Header::new_gnu();
    h.set_path(format!("{top}/huge")).unwrap();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(512);
    {
        let g = h.as_gnu_mut().unwrap();
        g.realsize.copy_from_slice(b"77777777000\0");
        g.sparse[0].offset.copy_from_slice(b"77777776000\0");
        g.sparse[0].numbytes.copy_from_slice(b"00000001000\0");
    }
    h.set_cksum();
    let mut huge = h.as_bytes().to_vec();
    huge.extend_from_slice(&[b'x'; 512]);
    huge.resize(huge.len() + 1024, 0);
    t("sparse", huge, "is a sparse file");
    let mut h = tar::Header::new_gnu();
    h.set_path(format!("{top}/huge")).unwrap();
    h.set_size(1 << 40);
    h.set_cksum();
    let mut huge = h.as_bytes().to_vec();
    huge.resize(huge.len() + 2048, 0);
    t("lying-size", huge, "claims 1099511627776 bytes");
}

#[test]
fn verify_on_a_folder_follows_no_link_and_opens_nothing_outside() {
    let b = Build::example();
    b.build(&[]).code(0);
    let bundle = b.bundle();
    let shadow_sha = std::fs::read("/etc/shadow").map(|b| sha(&b)).unwrap_or_else(|_| "x".repeat(64));
    std::os::unix::fs::symlink("/etc/shadow", bundle.join("shadow")).unwrap();
    // The manifest and the checksum list point outside the bundle and at an endless device.
    let m = std::fs::read_to_string(bundle.join("manifest.json")).unwrap();
    let m = m.replacen("\"file\": \"repo/Packages/", "\"file\": \"../../../../etc/shadow\", \"x\": \"repo/Packages/", 1);
    std::fs::write(bundle.join("manifest.json"), m).unwrap();
    let mut sums = std::fs::read_to_string(bundle.join("SHA256SUMS")).unwrap();
    sums.push_str(&format!("{}  /dev/zero\n{}  ../../../../dev/zero\n", "0".repeat(64), "0".repeat(64)));
    std::fs::write(bundle.join("SHA256SUMS"), sums).unwrap();
    let (r, tmp) = verify(&bundle, &[]);
    r.code(1).has("  shadow: plain file: a symbolic link").has("SHA256SUMS: format: line");
    assert!(!r.stderr.contains(&shadow_sha) && !r.stdout.contains(&shadow_sha), "the hash of /etc/shadow is never printed");
    left_nothing(&tmp);
    let (r, _) = verify(&bundle, &["--json"]);
    assert!(!r.stdout.contains(&shadow_sha));
}

#[test]
fn verify_on_the_wrong_folder_says_so_and_blames_no_key() {
    let b = Build::example();
    b.build(&[]).code(0);
    let bundle = b.bundle();
    let empty = tempfile::tempdir().unwrap();
    let (r, _) = verify(empty.path(), &[]);
    r.code(2).has("not a bundle");
    assert!(!r.stderr.contains("--key") && !r.stderr.contains("verification key"), "{}", r.stderr);
    // One level too high: the message points at the bundle folder inside.
    let (r, _) = verify(bundle.parent().unwrap(), &[]);
    r.code(2).has("not a bundle").has(&format!("help: {} looks like a bundle", bundle.display()));
    assert!(!r.stderr.contains("--key"), "{}", r.stderr);
}

/// A fetch of the fixture artifacts from a hostile server (everything under /up/).
struct Fetch {
    dir: tempfile::TempDir,
    server: Server,
    fx: Vec<fixtures::Fixture>,
}

impl Fetch {
    fn new() -> Fetch {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start();
        let fx = fixtures::artifacts(1);
        for f in &fx {
            server.put(&format!("/up/{}", f.file_name), f.bytes.clone());
        }
        std::fs::write(dir.path().join("catalog.yaml"), fixtures::catalog(&fx, &format!("{}/up", server.base))).unwrap();
        Fetch { dir, server, fx }
    }
    fn p(&self, r: &str) -> PathBuf {
        self.dir.path().join(r)
    }
    fn cmd(&self) -> Command {
        let mut c = bundler();
        c.current_dir(self.dir.path())
            .env("BUNDLER_RETRY_BASE_MS", "50")
            .env_remove("BUNDLER_MIRRORS")
            .args(["fetch", "--json", "--quiet", "--inventory"])
            .arg(root().join("examples/hosts.yaml"))
            .args(["--catalog", "catalog.yaml", "--cache", "cache", "--retries", "2"]);
        c
    }
    /// Files in the cache's files/ folder (partials included).
    fn cached(&self) -> Vec<String> {
        if !self.p("cache/files").exists() {
            return Vec::new();
        }
        files_under(&self.p("cache/files"))
    }
}

#[test]
fn an_endless_or_oversized_body_is_cut_off_and_nothing_is_kept() {
    let f = Fetch::new();
    let big = f.fx.iter().max_by_key(|x| x.bytes.len()).unwrap();
    let path = format!("/up/{}", big.file_name);
    // No length announced, bytes forever.
    f.server.always(&path, Behave::Endless);
    let r = run(f.cmd().env("BUNDLER_MAX_DOWNLOAD_BYTES", (big.bytes.len() * 2).to_string()));
    r.code(1).has(&format!("the body goes on past {} bytes", big.bytes.len() * 2));
    assert!(!f.cached().iter().any(|c| c.contains(&big.sha256())), "{:?}", f.cached());
    // A length announced beyond the cap is refused before the body is read.
    let f = Fetch::new();
    let r = run(f.cmd().env("BUNDLER_MAX_DOWNLOAD_BYTES", (big.bytes.len() / 2).to_string()));
    r.code(1).has(&format!("more than the {} bytes allowed for one artifact", big.bytes.len() / 2));
}

#[test]
fn a_server_dripping_bytes_is_stopped_at_the_time_limit_per_artifact() {
    let f = Fetch::new();
    let big = f.fx.iter().max_by_key(|x| x.bytes.len()).unwrap();
    // One byte, then a pause shorter than the stall timeout, forever: only a wall-clock limit ends it.
    f.server.always(&format!("/up/{}", big.file_name), Behave::Slow(1, std::time::Duration::from_millis(300)));
    let r = run(f.cmd().env("BUNDLER_ARTIFACT_TIMEOUT_SECS", "3").args(["--stall-timeout", "30"]));
    r.code(1).has(&format!("{} ", big.name)).has("took longer than the 3 s allowed per artifact");
}

#[test]
fn a_fifo_or_device_on_a_file_mirror_is_refused_without_reading() {
    let f = Fetch::new();
    let mirror = f.p("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    for x in &f.fx {
        let c = std::ffi::CString::new(mirror.join(x.file_name).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }
    let r = run(f.cmd().arg("--no-upstream").arg("--mirror").arg(format!("file://{}", mirror.display())));
    r.code(1).has("not a regular file");
    assert!(f.cached().is_empty(), "{:?}", f.cached());
}

#[test]
fn a_bad_signing_key_fails_before_any_download() {
    crate::etcd::require("gpg");
    let b = Build::example();
    let gnupg = b.p("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| sh(Command::new("gpg").arg("--homedir").arg(&gnupg).args(["--batch", "--pinentry-mode", "loopback"]).args(args));
    let (ok, out) = gpg(&["--passphrase", "hunter2", "--quick-gen-key", "locked <l@x.invalid>", "rsa2048", "sign", "never"]);
    assert!(ok, "{out}");
    let (ok, armored) = gpg(&["--passphrase", "hunter2", "--armor", "--export-secret-keys", "locked"]);
    assert!(ok, "{armored}");
    std::fs::write(b.p("locked.asc"), &armored[armored.find("-----BEGIN").unwrap()..]).unwrap();
    b.build(&["--signing-key", "locked.asc"]).code(2).has("protected by a passphrase");
    b.build(&["--signing-key", "/dev/zero"]).code(2).has("not a regular file");
    std::fs::write(b.p("huge.asc"), vec![b'a'; 2 << 20]).unwrap();
    b.build(&["--signing-key", "huge.asc"]).code(2).has("more than the 1048576 bytes");
    assert!(!b.p("cache/files").exists() || files_under(&b.p("cache/files")).is_empty(), "nothing was downloaded");
    assert!(!b.p("out").exists());
}

#[test]
fn an_oversized_manifest_is_refused() {
    let srv = Server::start();
    let img = fixtures::image("pause", "3.0");
    srv.put(&format!("/v2/{}/manifests/{}", img.repository, img.digest), vec![b' '; (4 << 20) + 1]);
    let r = images_fetch(&srv, &img, &[], &[]);
    r.code(1).has("more than the 4194304");
}

/// `bundler fetch --images` of one image whose catalog reference is on `srv`.
fn images_fetch(srv: &Server, img: &fixtures::FixtureImage, envs: &[(&str, &str)], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let files = Server::start();
    let fx = fixtures::artifacts(1);
    for f in &fx {
        files.put(&format!("/up/{}", f.file_name), f.bytes.clone());
    }
    let line = format!(
        "  - name: pause\n    version: \"3.0\"\n    image: {}/{}:3.0\n    digest: \"{}\"\n    trust: user\n",
        srv.base.trim_start_matches("http://"),
        img.repository,
        img.digest
    );
    std::fs::write(dir.path().join("catalog.yaml"), fixtures::catalog(&fx, &format!("{}/up", files.base)) + &line).unwrap();
    std::fs::write(
        dir.path().join("hosts.yaml"),
        "all:\n  hosts:\n    master: {ip: 192.168.0.211}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node: {hosts: {master: }}\n    etcd: {hosts: {master: }}\n  vars:\n    dns_mode: none\n    dashboard_enabled: false\n    monitoring_enabled: false\n    bundler_smoke_test_images: false\n",
    )
    .unwrap();
    let mut c = bundler();
    c.current_dir(dir.path())
        .env("BUNDLER_RETRY_BASE_MS", "50")
        .env_remove("BUNDLER_REGISTRY_USERNAME")
        .env_remove("BUNDLER_REGISTRY_PASSWORD")
        .env_remove("BUNDLER_REGISTRY_TOKEN")
        .env_remove("BUNDLER_REGISTRY_HOST")
        .args([
            "fetch",
            "--json",
            "--quiet",
            "--inventory",
            "hosts.yaml",
            "--catalog",
            "catalog.yaml",
            "--cache",
            "cache",
            "--images",
            "images",
            "--retries",
            "1",
        ])
        .args(extra);
    for (k, v) in envs {
        c.env(k, v);
    }
    run(&mut c)
}

fn host(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

#[test]
fn registry_credentials_go_only_to_the_registry_they_are_for() {
    let img = fixtures::image("pause", "3.0");
    // Credentials without the registry they are for are refused up front.
    let nowhere = Server::start();
    images_fetch(&nowhere, &img, &[("BUNDLER_REGISTRY_TOKEN", "s3cr3t-token")], &[]).code(2).has("set BUNDLER_REGISTRY_HOST");
    assert!(nowhere.log().is_empty());

    // A private mirror (that has not got the image) and the image's own registry: the token
    // is for the mirror and never reaches the other.
    let mirror = Server::start();
    let upstream = Server::start();
    fixtures::serve_images(&upstream, std::slice::from_ref(&img));
    let r = images_fetch(
        &upstream,
        &img,
        &[("BUNDLER_REGISTRY_TOKEN", "s3cr3t-token"), ("BUNDLER_REGISTRY_HOST", &host(&mirror))],
        &["--registry-mirror", &mirror.base],
    );
    r.code(0);
    assert!(mirror.log().iter().any(|l| l.authorization.as_deref() == Some("Bearer s3cr3t-token")), "the mirror gets it: {:?}", mirror.log());
    assert!(!upstream.log().is_empty() && upstream.log().iter().all(|l| l.authorization.is_none()), "upstream never: {:?}", upstream.log());
    assert!(!r.stderr.contains("s3cr3t") && !r.stdout.contains("s3cr3t"));

    // A token realm on another host, over plain http: no user name or password, even when allowed.
    let reg = Server::start();
    let realm = Server::start();
    fixtures::serve_images(&reg, std::slice::from_ref(&img));
    reg.require_token("tok-1", Some("robot:pw"));
    realm.require_token("tok-1", Some("robot:pw"));
    reg.token_realm(&format!("{}/token", realm.base));
    let envs = [("BUNDLER_REGISTRY_USERNAME", "robot"), ("BUNDLER_REGISTRY_PASSWORD", "pw"), ("BUNDLER_REGISTRY_HOST", &host(&reg))];
    images_fetch(&reg, &img, &envs, &[]).code(1).has("plain http on another host");
    let with_allow = [envs[0], envs[1], envs[2], ("BUNDLER_REGISTRY_REALM_HOSTS", &host(&realm))];
    images_fetch(&reg, &img, &with_allow, &[]).code(1);
    let token_reqs: Vec<_> = realm.log().into_iter().filter(|l| l.path.starts_with("/token")).collect();
    assert!(!token_reqs.is_empty() && token_reqs.iter().all(|l| l.authorization.is_none()), "{token_reqs:?}");
    // The same realm on the registry's own host gets them (the normal token flow).
    let own = Server::start();
    fixtures::serve_images(&own, std::slice::from_ref(&img));
    own.require_token("tok-2", Some("robot:pw"));
    images_fetch(&own, &img, &[envs[0], envs[1], ("BUNDLER_REGISTRY_HOST", &host(&own))], &[]).code(0);
    // Credentials for another registry are not sent to this one.
    let r = images_fetch(&own, &img, &[envs[0], envs[1], ("BUNDLER_REGISTRY_HOST", "registry.example:5000")], &[]);
    r.code(1).has("the credentials are for registry.example:5000 only");
    assert!(own.log().iter().rfind(|l| l.path.starts_with("/token")).unwrap().authorization.is_none());
}

fn chown(p: &Path, uid: u32) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::chown(c.as_ptr(), uid, uid) }, 0, "chown {}", p.display());
}

const NOBODY: u32 = 65534;

#[test]
fn a_cache_or_state_another_user_could_write_is_refused_before_anything_happens() {
    // The tests run as root; `nobody` plays the other user.
    let f = Fetch::new();
    std::fs::create_dir_all(f.p("cache")).unwrap();
    chown(&f.p("cache"), NOBODY);
    run(&mut f.cmd()).code(2).has("cache folder").has("is owned by uid 65534");
    assert!(f.server.log().is_empty(), "nothing downloaded");
    assert!(!f.p("cache/files").exists());
    chown(&f.p("cache"), 0);
    std::fs::set_permissions(f.p("cache"), std::fs::Permissions::from_mode(0o777)).unwrap();
    run(&mut f.cmd()).code(2).has("is writable by every user").has("chmod go-w");
    assert!(f.server.log().is_empty());

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("examples/hosts.yaml"), dir.path().join("hosts.yaml")).unwrap();
    let issue = || run(bundler().current_dir(dir.path()).args(["certs", "issue", "--inventory", "hosts.yaml"]));
    let state = dir.path().join("bundler-state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    issue().code(2).has("state folder").has("is writable by every user");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown(&state, NOBODY);
    issue().code(2).has("is owned by uid 65534");
    chown(&state, 0);
    // A symlinked state/pki would take the keys elsewhere.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, state.join("pki")).unwrap();
    issue().code(2).has("is a symbolic link");
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none(), "no key written through the link");
    std::fs::remove_file(state.join("pki")).unwrap();
    // A link planted where a key goes is replaced, never written through.
    std::fs::create_dir_all(state.join("pki")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("stolen.key"), state.join("pki/admin.key")).unwrap();
    issue().code(0);
    assert!(!elsewhere.join("stolen.key").exists(), "the key went to the state folder, not through the link");
    assert!(std::fs::symlink_metadata(state.join("pki/admin.key")).unwrap().is_file());
    assert_eq!(std::fs::metadata(state.join("pki/admin.key")).unwrap().mode() & 0o777, 0o600);
}

/// Every `*.key` in the state folder matches its `*.crt`, and openssl verifies each leaf
/// against its CA.
#[track_caller]
fn state_consistent(state: &Path) {
    let pki = state.join("pki");
    for e in std::fs::read_dir(&pki).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "crt") && p.file_name().unwrap() != "client-ca.crt" {
            let key = p.with_extension("key");
            let k = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
            let (_, pem) = x509_parser::pem::parse_x509_pem(&std::fs::read(&p).unwrap()).unwrap();
            let cert = pem.parse_x509().unwrap();
            assert_eq!(cert.public_key().subject_public_key.data.as_ref(), k.public_key_raw(), "{} matches {}", key.display(), p.display());
        }
    }
    let (ok, out) =
        sh(Command::new("openssl").arg("verify").arg("-CAfile").arg(pki.join("kubernetes-ca.crt")).arg(pki.join("admin.crt")).arg(pki.join("apiserver.crt")));
    assert!(ok, "{out}");
    let (ok, out) = sh(Command::new("openssl").arg("verify").arg("-CAfile").arg(pki.join("etcd-ca.crt")).arg(pki.join("etcd-peer.crt")));
    assert!(ok, "{out}");
}

#[test]
fn two_certs_issue_at_once_leave_a_consistent_state() {
    crate::etcd::require("openssl");
    for _ in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(root().join("examples/hosts.yaml"), dir.path().join("hosts.yaml")).unwrap();
        let spawn = || bundler().current_dir(dir.path()).args(["certs", "issue", "--quiet", "--inventory", "hosts.yaml"]).spawn().unwrap();
        let (mut a, mut c) = (spawn(), spawn());
        assert!(a.wait().unwrap().success() && c.wait().unwrap().success());
        state_consistent(&dir.path().join("bundler-state"));
    }
}

#[test]
fn certs_issue_killed_after_any_write_recovers() {
    crate::etcd::require("openssl");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("examples/hosts.yaml"), dir.path().join("hosts.yaml")).unwrap();
    let state = dir.path().join("bundler-state");
    let issue = |kill: Option<u32>| {
        let mut c = bundler();
        c.current_dir(dir.path()).args(["certs", "issue", "--quiet", "--inventory", "hosts.yaml"]);
        if let Some(n) = kill {
            c.env("BUNDLER_TEST_KILL_AFTER_WRITES", n.to_string());
        }
        run(&mut c)
    };
    let mut n = 1;
    loop {
        let _ = std::fs::remove_dir_all(&state);
        let r = issue(Some(n));
        if r.code == 0 {
            break; // past the last write: nothing more to kill
        }
        assert_eq!(r.code, -1, "killed after write {n}: {}", r.stderr);
        let again = issue(None);
        again.code(0);
        state_consistent(&state);
        assert!(!state.join(".pending").exists());
        n += 1;
        assert!(n < 400, "runaway");
    }
    assert!(n > 20, "the kill points covered every write ({n})");
}

#[test]
fn a_changed_cached_package_is_rebuilt_not_shipped() {
    let b = Build::example();
    b.build(&[]).code(0);
    let first = std::fs::read(b.rpm("k8s-etcd-bin")).unwrap();
    let mut cached: Vec<PathBuf> =
        files_under(&b.p("cache/rpms")).into_iter().filter(|f| f.contains("k8s-etcd-bin") && f.ends_with(".rpm")).map(|f| b.p("cache/rpms").join(f)).collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let c = cached.pop().unwrap();
    assert_eq!(std::fs::metadata(&c).unwrap().mode() & 0o777, 0o600, "staged and cached packages are private");
    let mut bytes = std::fs::read(&c).unwrap();
    let i = bytes.len() - 10;
    bytes[i] ^= 0xff;
    // Written in place (as a hand edit or disk damage would), not through a new file.
    std::fs::OpenOptions::new().write(true).open(&c).and_then(|mut f| std::io::Write::write_all(&mut f, &bytes)).unwrap();
    std::fs::remove_dir_all(b.p("out")).unwrap();
    let r = b.build(&[]);
    r.code(0);
    let etcd = r.json()["packages"].as_array().unwrap().iter().find(|p| p["name"] == "k8s-etcd-bin").unwrap().clone();
    assert_eq!(etcd["cached"], false, "rebuilt, not reused");
    let _ = std::fs::remove_dir_all(b.p("unpacked"));
    assert_eq!(std::fs::read(b.rpm("k8s-etcd-bin")).unwrap(), first, "the same package as built the first time");
    verify(&b.tarball(), &[]).0.code(0);
}

#[test]
fn the_tarball_is_0640_and_a_full_output_disk_leaves_nothing() {
    let b = Build::example();
    b.build(&[]).code(0);
    let tar = b.tarball();
    assert_eq!(std::fs::metadata(&tar).unwrap().mode() & 0o777, 0o640);
    let size = std::fs::metadata(&tar).unwrap().len();
    // The output folder on a small file system of its own: the copy across runs out of space.
    std::fs::rename(b.p("out"), b.p("out.first")).unwrap();
    let small = b.p("out");
    std::fs::create_dir_all(&small).unwrap();
    let (ok, out) = sh(Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={}k", size / 1024 / 2)]).arg("tmpfs").arg(&small));
    assert!(ok, "mount a small tmpfs (the tests run as root): {out}");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(small.clone());
    // A change, so the build writes a new tarball rather than finding nothing to do.
    let inv = std::fs::read_to_string(b.p("hosts.yaml")).unwrap().replace("kube_proxy_mode: iptables", "kube_proxy_mode: ipvs");
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    let r = b.build(&[]);
    r.code(1);
    assert!(r.stderr.contains("No space left") || r.stderr.contains("os error 28"), "{}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing in the output folder, hidden files included: {left:?}");
    // Room enough, but killed with the copy across file systems complete and not yet named.
    let (ok, out) = sh(Command::new("mount").args(["-o", &format!("remount,size={}k", size / 1024 * 4)]).arg(&small));
    assert!(ok, "{out}");
    let r = run(b.build_cmd().env("BUNDLER_TEST_KILL_AT", "publish-copied"));
    assert_eq!(r.code, -1, "killed: {}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a kill mid-publish leaves nothing either: {left:?}");
    b.build(&[]).code(0);
    let tar = b.tarball();
    assert_eq!(std::fs::metadata(&tar).unwrap().mode() & 0o777, 0o640, "copied across file systems, still 0640");
    verify(&tar, &[]).0.code(0);
}

#[test]
fn two_builds_at_once_on_one_state_ship_certificates_that_chain() {
    crate::etcd::require("openssl");
    let b = Build::example();
    // Each its own output folder (build_cmd fixes `--output out`), one state and cache.
    let mk = |out: &str| {
        let mut c = bundler();
        c.current_dir(b.dir.path()).env("SOURCE_DATE_EPOCH", "1700000000").args([
            "build",
            "--json",
            "--quiet",
            "--inventory",
            "hosts.yaml",
            "--catalog",
            "catalog.yaml",
            "--cache",
            "cache",
            "--output",
            out,
        ]);
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
    };
    let (mut x, mut y) = (mk("out-a"), mk("out-b"));
    assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
    state_consistent(&b.p("bundler-state"));
    for out in ["out-a", "out-b"] {
        let tar = std::fs::read_dir(b.p(out)).unwrap().next().unwrap().unwrap().path();
        verify(&tar, &[]).0.code(0);
        // The CA certificate the bundle ships is the state's, and its admin certificate chains to it.
        let dir = tempfile::tempdir().unwrap();
        tar::Archive::new(std::fs::File::open(&tar).unwrap()).unpack(dir.path()).unwrap();
        let top = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let master = std::fs::read_dir(top.join("repo/Packages"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("k8s-master-"))
            .unwrap();
        let x = dir.path().join("x");
        std::fs::create_dir_all(&x).unwrap();
        let (ok, out) = sh(Command::new("sh").arg("-c").arg(format!("rpm2cpio {} | cpio -idm --quiet", master.display())).current_dir(&x));
        assert!(ok, "{out}");
        let (ok, out) = sh(Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(b.p("bundler-state/pki/kubernetes-ca.crt"))
            .arg(x.join("etc/kubernetes/pki/admin.crt")));
        assert!(ok, "{out}");
    }
}
