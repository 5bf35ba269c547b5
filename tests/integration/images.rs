//! Container images: pulled by digest from Debian's docker-registry (images pushed there with
//! skopeo from OCI layouts the test builds), checked with `skopeo inspect docker-archive:`;
//! digest mismatches, basic auth, the token flow, resume and offline rebuilds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::etcd::require;
use crate::fixtures::{self, FixtureImage};
use crate::httpd::{Behave, Server};
use crate::packages::sh;
use crate::util::{bundler, root, run, Run};

/// Only the pause image: no DNS, no Dashboard, no monitoring, no smoke-test images.
const INVENTORY: &str = "all:\n  hosts:\n    master: {ip: 192.168.0.211}\n    node01: {ip: 192.168.0.212}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node: {hosts: {node01: }}\n    etcd: {hosts: {master: }}\n  vars:\n    dns_mode: none\n    dashboard_enabled: false\n    monitoring_enabled: false\n    bundler_smoke_test_images: false\n";

pub struct Registry {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's docker-registry on 127.0.0.1 with a config the test writes; `htpasswd` turns on basic auth.
pub fn registry(htpasswd: Option<(&str, &str)>) -> Registry {
    require("docker-registry");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", dir.path().join("data").display());
    if let Some((u, p)) = htpasswd {
        let hash = bcrypt::hash(p, 5).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("{u}:{hash}\n")).unwrap();
        cfg.push_str(&format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", dir.path().join("htpasswd").display()));
    }
    std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
    let child = Command::new("docker-registry").arg("serve").arg(dir.path().join("config.yml")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let host = format!("127.0.0.1:{port}");
    let t = Instant::now();
    while std::net::TcpStream::connect(&host).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Registry { child, host, _dir: dir }
}

/// An OCI layout folder holding one fixture image, as the test builds it.
fn oci_layout(img: &FixtureImage, dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    // OCI wants OCI media types: rewrite the schema 2 manifest's types (same blobs).
    let m = String::from_utf8(img.manifest.clone())
        .unwrap()
        .replace("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json")
        .replace("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
        .replace("application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+gzip");
    use sha2::Digest;
    let mhex = hex::encode(sha2::Sha256::digest(m.as_bytes()));
    std::fs::write(blobs.join(&mhex), &m).unwrap();
    for (d, b) in &img.blobs {
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), b).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{mhex}"), "size": m.len(), "annotations": {"org.opencontainers.image.ref.name": img.version}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Push with skopeo (as docker schema 2) and return the registry's manifest digest.
pub fn push(img: &FixtureImage, reg: &Registry, creds: Option<&str>) -> String {
    require("skopeo");
    let layout = tempfile::tempdir().unwrap();
    oci_layout(img, layout.path());
    let dest = format!("docker://{}/{}:{}", reg.host, img.repository, img.version);
    let mut c = Command::new("skopeo");
    c.args(["copy", "--dest-tls-verify=false", "--format", "v2s2"]);
    if let Some(cr) = creds {
        c.args(["--dest-creds", cr]);
    }
    let (ok, out) = sh(c.arg(format!("oci:{}:{}", layout.path().display(), img.version)).arg(&dest));
    assert!(ok, "skopeo copy: {out}");
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false"]);
    if let Some(cr) = creds {
        c.args(["--creds", cr]);
    }
    let (ok, out) = sh(c.arg(&dest));
    assert!(ok, "skopeo inspect: {out}");
    let v: serde_json::Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

struct Case {
    dir: tempfile::TempDir,
    _files: Server,
}

impl Case {
    /// File fixtures on a local server; `images` are catalog image lines.
    fn new(images: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let files = Server::start();
        let fx = fixtures::artifacts(1);
        for f in &fx {
            files.put(&format!("/up/{}", f.file_name), f.bytes.clone());
        }
        std::fs::write(dir.path().join("catalog.yaml"), fixtures::catalog(&fx, &format!("{}/up", files.base)) + images).unwrap();
        std::fs::write(dir.path().join("hosts.yaml"), INVENTORY).unwrap();
        Case { dir, _files: files }
    }
    fn p(&self, r: &str) -> PathBuf {
        self.dir.path().join(r)
    }
    fn fetch(&self, envs: &[(&str, &str)], extra: &[&str]) -> Run {
        let mut c = bundler();
        c.current_dir(self.dir.path())
            .env("BUNDLER_RETRY_BASE_MS", "50")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["fetch", "--json", "--quiet", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml", "--cache", "cache", "--images", "images"])
            .args(extra);
        for (k, v) in envs {
            c.env(k, v);
        }
        run(&mut c)
    }
}

fn line(name: &str, version: &str, image: &str, digest: &str) -> String {
    format!("  - name: {name}\n    version: \"{version}\"\n    image: {image}\n    digest: \"{digest}\"\n    trust: user\n")
}

fn inspect_raw(archive: &Path) -> serde_json::Value {
    let (ok, out) = sh(Command::new("skopeo").args(["inspect", "--raw"]).arg(format!("docker-archive:{}", archive.display())));
    assert!(ok, "skopeo inspect --raw: {out}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn pulls_by_digest_from_a_real_registry_and_skopeo_reads_the_archive() {
    let reg = registry(None);
    let img = fixtures::image("pause", "3.0");
    let digest = push(&img, &reg, None);
    let reference = format!("{}/{}:{}", reg.host, img.repository, img.version);
    let case = Case::new(&line("pause", "3.0", &reference, &digest));
    let r = case.fetch(&[], &[]);
    r.code(0);
    let doc = r.json();
    let pulled = &doc["images"][0];
    assert_eq!(pulled["manifest_digest"], digest);
    assert_eq!(pulled["config_digest"], img.config_digest);
    let archive = case.p("images/pause.tar");
    let raw = inspect_raw(&archive);
    assert_eq!(raw["config"]["digest"], img.config_digest);
    // docker-save archives hold layers uncompressed, as `docker save` does: their digests are the diff_ids.
    assert_eq!(raw["layers"][0]["digest"], img.diff_id);
    let (ok, out) = sh(Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}", archive.display())));
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The archive is tagged with the name kubelet and the manifests use: skopeo finds the image by it.
    let (ok, out) = sh(Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}:{reference}", archive.display())));
    assert!(ok, "tagged {reference}: {out}");
    let (ok, _) = sh(Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}:example.com/other:1", archive.display())));
    assert!(!ok, "an unknown tag is not found");
    assert_eq!(v["Layers"], serde_json::json!([img.diff_id]));
    assert_eq!(doc["images"][0]["layers"], serde_json::json!([img.layer_digest]), "the registry's (compressed) layer was what was pulled and verified");
    assert_eq!(std::fs::read_to_string(case.p("images/pause.tar.id")).unwrap().trim(), img.config_digest);
}

#[test]
fn a_catalog_digest_that_does_not_match_is_refused_and_nothing_is_cached() {
    let reg = registry(None);
    let img = fixtures::image("pause", "3.0");
    let real = push(&img, &reg, None);
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", reg.host, img.repository), &wrong));
    let r = case.fetch(&[], &[]);
    r.code(1).has("1 image(s) could not be pulled").has(&format!("manifest {wrong}")).has("HTTP 404");
    // Asking by the real digest under the wrong pin: the registry's answer must not match either.
    assert!(!case.p(&format!("cache/files/sha256/{}", wrong.trim_start_matches("sha256:"))).exists());
    assert!(!case.p(&format!("cache/files/sha256/{}", real.trim_start_matches("sha256:"))).exists());
    assert!(!case.p("images/pause.tar").exists());
}

#[test]
fn a_mirror_serving_other_bytes_under_a_digest_is_a_mismatch() {
    // A local "registry" (the test server) answers with a manifest whose bytes are not the pinned digest.
    let srv = Server::start();
    let img = fixtures::image("pause", "3.0");
    let other = fixtures::image("dashboard", "v1.8.3");
    srv.put(&format!("/v2/{}/manifests/{}", img.repository, img.digest), other.manifest.clone());
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", srv.base.trim_start_matches("http://"), img.repository), &img.digest));
    case.fetch(&[], &[]).code(1).has("manifest digest mismatch for fixtures/pause").has(&format!("expected {}", img.digest));
    assert!(!case.p(&format!("cache/files/sha256/{}", img.digest.trim_start_matches("sha256:"))).exists());
}

#[test]
fn basic_auth_registry_with_and_without_credentials() {
    let reg = registry(Some(("ops", "s3cret")));
    let img = fixtures::image("pause", "3.0");
    let digest = push(&img, &reg, Some("ops:s3cret"));
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", reg.host, img.repository), &digest));
    case.fetch(&[], &[]).code(1).has("set BUNDLER_REGISTRY_USERNAME, BUNDLER_REGISTRY_PASSWORD and BUNDLER_REGISTRY_HOST");
    let r = case.fetch(&[("BUNDLER_REGISTRY_USERNAME", "ops"), ("BUNDLER_REGISTRY_PASSWORD", "wrong"), ("BUNDLER_REGISTRY_HOST", &reg.host)], &[]);
    r.code(1);
    assert!(!r.stderr.contains("wrong") && !r.stdout.contains("wrong"), "a password never reaches the output");
    case.fetch(&[("BUNDLER_REGISTRY_USERNAME", "ops"), ("BUNDLER_REGISTRY_PASSWORD", "s3cret"), ("BUNDLER_REGISTRY_HOST", &reg.host)], &[]).code(0);
    assert_eq!(inspect_raw(&case.p("images/pause.tar"))["layers"][0]["digest"], img.diff_id);
}

#[test]
fn token_protected_registry_flow() {
    let srv = Server::start();
    let img = fixtures::image("pause", "3.0");
    fixtures::serve_images(&srv, std::slice::from_ref(&img));
    srv.require_token("tok-123", Some("robot:pw"));
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", srv.base.trim_start_matches("http://"), img.repository), &img.digest));
    case.fetch(&[], &[]).code(1).has("token service").has("HTTP 401");
    let host = srv.base.trim_start_matches("http://").to_string();
    case.fetch(&[("BUNDLER_REGISTRY_USERNAME", "robot"), ("BUNDLER_REGISTRY_PASSWORD", "pw"), ("BUNDLER_REGISTRY_HOST", &host)], &[]).code(0);
    let log = srv.log();
    assert!(log.iter().any(|l| l.path.starts_with("/token?") && l.path.contains("scope=repository%3Afixtures%2Fpause%3Apull") && l.status == 200), "{log:?}");
    assert!(log.iter().any(|l| l.path.contains("/blobs/") && l.status == 200));
}

#[test]
fn interrupted_blob_resumes_and_offline_rebuilds_the_same_archive() {
    let srv = Server::start();
    let img = fixtures::image("pause", "3.0");
    fixtures::serve_images(&srv, std::slice::from_ref(&img));
    let layer_path = format!("/v2/{}/blobs/{}", img.repository, img.layer_digest);
    let layer_len = img.blobs[1].1.len();
    srv.once(&layer_path, Behave::DropAfter(layer_len / 2));
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", srv.base.trim_start_matches("http://"), img.repository), &img.digest));
    case.fetch(&[], &[]).code(0);
    let reqs = srv.requests_for(&layer_path);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range.as_deref(), Some(format!("bytes={}-", layer_len / 2).as_str()));
    let first = std::fs::read(case.p("images/pause.tar")).unwrap();
    // Offline, from the cached manifest and blobs: the same archive, byte for byte, no request.
    std::fs::remove_dir_all(case.p("images")).unwrap();
    let n = srv.log().len();
    case.fetch(&[], &["--offline"]).code(0);
    assert_eq!(std::fs::read(case.p("images/pause.tar")).unwrap(), first);
    assert_eq!(srv.log().len(), n);
}

#[test]
fn images_are_shipped_in_k8s_images_and_listed_everywhere() {
    let b = crate::packages::Build::example();
    let r = b.build(&[]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["images"].as_array().unwrap().len(), 10);
    let listing = crate::packages::rpmq(&b.rpm("k8s-images"), &["-l"]);
    for n in ["pause", "kube-dns", "dnsmasq-nanny", "dns-sidecar", "dashboard", "heapster", "influxdb", "grafana", "busybox", "busybox-previous"] {
        assert!(listing.contains(&format!("/usr/share/bundler/images/{n}.tar\n")), "{n} in\n{listing}");
    }
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(b.bundle().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["images"].as_array().unwrap().len(), 10);
    let sbom = std::fs::read_to_string(b.bundle().join("sbom.spdx.json")).unwrap();
    for n in ["heapster", "influxdb", "grafana", "busybox"] {
        assert!(m["images"].as_array().unwrap().iter().any(|i| i["name"] == n), "{n} in the manifest");
        assert!(sbom.contains(&format!("fixtures/{n}@sha256:")), "{n} in the SBOM");
    }
    assert!(m["images"].as_array().unwrap().iter().all(|i| i["digest"].as_str().unwrap().starts_with("sha256:")));
    // kubelet runs the pause image it was given, by the tag the archive carries.
    let kubelet = std::fs::read_to_string(b.bundle().join("manifest.json")).unwrap();
    let pause_ref = m["images"].as_array().unwrap().iter().find(|i| i["name"] == "pause").unwrap()["reference"].as_str().unwrap().to_string();
    assert!(kubelet.contains(&pause_ref));
    let _ = root();
}

fn first_pull_line(name: &str, version: &str, image: &str) -> String {
    format!("  - name: {name}\n    version: \"{version}\"\n    image: {image}\n    license: Apache-2.0\n    trust: first-pull\n")
}

fn today() -> String {
    bundler::image_lock::day(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
}

/// An image with no published digest: the first pull by tag records its digest in bundler.lock
/// beside the inventory, the next pull verifies it, and a tag moved to other content is refused
/// naming both digests, with the lock left as it was.
#[test]
fn first_pull_records_the_digest_later_pulls_verify_it_and_a_moved_tag_is_refused() {
    let reg = registry(None);
    let img = fixtures::image("pause", "3.0");
    let digest = push(&img, &reg, None);
    let reference = format!("{}/{}:3.0", reg.host, img.repository);
    let case = Case::new(&first_pull_line("pause", "3.0", &reference));
    // Before any pull the plan says so and has no digest.
    let plan = run(bundler().current_dir(case.dir.path()).args(["plan", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"]));
    plan.code(0);
    assert!(plan.stdout.contains("pinned on first pull: not pulled yet, the next build records its digest in bundler.lock"), "{}", plan.stdout);
    assert!(!case.p("bundler.lock").exists());

    case.fetch(&[], &[]).code(0);
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(case.p("bundler.lock")).unwrap()).unwrap();
    assert_eq!(lock["images"][&reference]["digest"], digest.as_str(), "{lock}");
    assert_eq!(lock["images"][&reference]["pinned_on"], today().as_str());
    assert_eq!(inspect_raw(&case.p("images/pause.tar"))["layers"][0]["digest"], img.diff_id);
    let plan = run(bundler().current_dir(case.dir.path()).args(["plan", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"]));
    plan.code(0);
    assert!(plan.stdout.contains(&format!("pinned on first pull, {} (bundler.lock): {digest}", today())), "{}", plan.stdout);
    let pj = run(bundler().current_dir(case.dir.path()).args(["plan", "--json", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"])).json();
    assert_eq!(pj["images"][0]["digest"], digest.as_str());
    assert_eq!(pj["images"][0]["first_pull"]["pinned_on"], today().as_str());
    assert_eq!(pj["images"][0]["trust"], "first-pull");

    // Second pull: by the locked digest, the tag still names it; the lock is not rewritten.
    let before = std::fs::read(case.p("bundler.lock")).unwrap();
    std::fs::remove_dir_all(case.p("images")).unwrap();
    case.fetch(&[], &[]).code(0);
    assert_eq!(std::fs::read(case.p("bundler.lock")).unwrap(), before);
    assert!(case.p("images/pause.tar").exists());

    // The tag is pushed again with other content: refused with both digests, nothing changes.
    let mut other = fixtures::image("dashboard", "v1.8.3");
    other.repository = img.repository.clone();
    other.version = "3.0";
    let moved = push(&other, &reg, None);
    assert_ne!(moved, digest);
    std::fs::remove_dir_all(case.p("images")).unwrap();
    let r = case.fetch(&[], &[]);
    r.code(1).has("tag `3.0` changed").has(&format!("now names {moved}")).has(&format!("bundler.lock pins {digest}"));
    assert_eq!(std::fs::read(case.p("bundler.lock")).unwrap(), before);
    assert!(!case.p("images/pause.tar").exists());

    // Offline the locked digest alone is used, from the cache.
    case.fetch(&[], &["--offline"]).code(0);
    assert_eq!(inspect_raw(&case.p("images/pause.tar"))["layers"][0]["digest"], img.diff_id);

    // A damaged lock is bad input naming the file and line, and nothing is pulled.
    std::fs::write(case.p("bundler.lock"), "{\"version\": 1,\n  \"images\": {\"x:1\": {\"digest\": \"md5:00\", \"pinned_on\": \"2026-01-01\"}}}\n").unwrap();
    case.fetch(&[], &[]).code(2).has("bundler.lock:2:14").has("not `sha256:`");
}

#[test]
fn a_first_pull_image_offline_before_any_pull_says_what_to_do() {
    let reg = registry(None);
    let img = fixtures::image("pause", "3.0");
    push(&img, &reg, None);
    let case = Case::new(&first_pull_line("pause", "3.0", &format!("{}/{}:3.0", reg.host, img.repository)));
    // The files are cached online first (no images), so only the image is missing offline.
    run(bundler().current_dir(case.dir.path()).args(["fetch", "--quiet", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml", "--cache", "cache"]))
        .code(0);
    case.fetch(&[], &["--offline"]).code(1).has("--offline: no digest in bundler.lock yet");
    assert!(!case.p("bundler.lock").exists());
}

#[test]
fn a_catalog_entry_with_both_first_pull_and_a_digest_is_refused() {
    let case = Case::new("  - name: pause\n    version: \"3.0\"\n    image: 127.0.0.1:1/x/pause:3.0\n    digest: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n    trust: first-pull\n");
    case.fetch(&[], &[]).code(2).has("a `first-pull` image has no `digest:`");
}

/// The operator's own images (`bundler_extra_images`) take the same path: pulled by tag once,
/// pinned in bundler.lock, shipped in the images package; bad entries are bad input with a line.
#[test]
fn extra_images_from_the_inventory_are_pinned_on_first_pull_and_planned_for_k8s_images() {
    let reg = registry(None);
    let pause = fixtures::image("pause", "3.0");
    let pause_digest = push(&pause, &reg, None);
    let mut app = fixtures::image("dashboard", "v1.8.3");
    app.repository = "team/app".into();
    app.version = "1.0";
    let app_digest = push(&app, &reg, None);
    let case = Case::new(&line("pause", "3.0", &format!("{}/{}:3.0", reg.host, pause.repository), &pause_digest));
    let app_ref = format!("{}/team/app:1.0", reg.host);
    std::fs::write(case.p("hosts.yaml"), format!("{INVENTORY}    bundler_extra_images:\n      - {app_ref}\n")).unwrap();
    let pj = run(bundler().current_dir(case.dir.path()).args(["plan", "--json", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"])).json();
    let extra = pj["images"].as_array().unwrap().iter().find(|i| i["reference"] == app_ref.as_str()).unwrap().clone();
    assert_eq!(extra["name"], "extra-app-1.0");
    assert_eq!(extra["used_by"], serde_json::json!(["k8s-images"]));
    assert_eq!(extra["trust"], "first-pull");
    case.fetch(&[], &[]).code(0);
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(case.p("bundler.lock")).unwrap()).unwrap();
    assert_eq!(lock["images"][&app_ref]["digest"], app_digest.as_str());
    assert_eq!(lock["images"].as_object().unwrap().len(), 1, "catalog-pinned images are not locked: {lock}");
    let (ok, out) = sh(Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}:{app_ref}", case.p("images/extra-app-1.0.tar").display())));
    assert!(ok, "the archive carries the operator's tag: {out}");

    std::fs::write(case.p("hosts.yaml"), format!("{INVENTORY}    bundler_extra_images:\n      - \"no tag here\"\n")).unwrap();
    case.fetch(&[], &[]).code(2).has("hosts.yaml:1").has("`bundler_extra_images`: `no tag here` has no tag");
}

/// `bundler build` takes the same path: the first build records the digest, and the manifest and
/// SBOM list the recorded digest.
#[test]
fn a_build_pins_a_first_pull_image_and_lists_its_digest_in_manifest_and_sbom() {
    let b = crate::packages::Build::new(INVENTORY);
    let img = fixtures::image("pause", "3.0");
    b._server.put(&format!("/v2/{}/manifests/3.0", img.repository), img.manifest.clone());
    let cat = std::fs::read_to_string(b.p("catalog.yaml")).unwrap();
    let pinned = format!("    digest: \"{}\"\n    license: Apache-2.0\n    trust: user\n", img.digest);
    assert!(cat.contains(&pinned));
    std::fs::write(b.p("catalog.yaml"), cat.replacen(&pinned, "    license: Apache-2.0\n    trust: first-pull\n", 1)).unwrap();
    b.build(&[]).code(0);
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(b.p("bundler.lock")).unwrap()).unwrap();
    let (reference, entry) = lock["images"].as_object().unwrap().iter().next().unwrap();
    assert!(reference.ends_with("/fixtures/pause:3.0"));
    assert_eq!(entry["digest"], img.digest.as_str());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(b.bundle().join("manifest.json")).unwrap()).unwrap();
    let pause = m["images"].as_array().unwrap().iter().find(|i| i["name"] == "pause").unwrap();
    assert_eq!(pause["digest"], img.digest.as_str());
    assert_eq!(pause["trust"], "first-pull");
    let sbom = std::fs::read_to_string(b.bundle().join("sbom.spdx.json")).unwrap();
    assert!(sbom.contains(&format!("fixtures/pause@{}", img.digest)), "{sbom}");
    let before = std::fs::read(b.p("bundler.lock")).unwrap();
    b.build(&[]).code(0);
    assert_eq!(std::fs::read(b.p("bundler.lock")).unwrap(), before);
}
