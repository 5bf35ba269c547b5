//! The embedded catalog holds every digest row of the reference table, copied exactly, and
//! a user's catalog replaces or extends it entry by entry.

use crate::util::{root, Case};
use bundler::catalog::{Catalog, Source, Trust};

struct Row {
    url_or_image: String,
    algo: String,
    digest: String,
    trust: String,
}

fn reference_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("specs/reference/upstream-pins.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| artifact"))
        .map(|l| {
            let c: Vec<&str> = l.trim().trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(c.len(), 7, "row shape: {l}");
            Row { url_or_image: c[2].to_string(), algo: c[3].to_string(), digest: c[4].trim_matches('`').to_string(), trust: c[5].to_string() }
        })
        .collect()
}

#[test]
fn vendored_reference_matches_the_shared_one_when_present() {
    // CI lays shared/ beside the clone; the repository keeps its own copy so tests do not depend on it.
    let shared = root().join("../shared/reference/upstream-pins.md");
    if shared.exists() {
        assert_eq!(std::fs::read_to_string(shared).unwrap(), std::fs::read_to_string(root().join("specs/reference/upstream-pins.md")).unwrap());
    }
}

#[test]
fn every_reference_row_is_in_the_catalog_exactly() {
    let cat = Catalog::embedded();
    let rows = reference_rows();
    assert!(rows.len() >= 60, "reference table has {} rows", rows.len());
    // `first-pull` images have no published digest, so no reference row: bundler.lock pins them.
    let pinned: Vec<_> = cat.entries.iter().filter(|e| e.trust != Trust::FirstPull).collect();
    assert_eq!(pinned.len(), rows.len(), "one catalog entry per reference row");
    for e in cat.entries.iter().filter(|e| e.trust == Trust::FirstPull) {
        assert!(matches!(&e.source, Source::Image { digest: None, .. }), "{} {} has no digest of its own", e.name, e.version);
        let Source::Image { reference, .. } = &e.source else { unreachable!() };
        let repo = reference.rsplit_once(':').unwrap().0;
        assert!(!rows.iter().any(|r| r.url_or_image.starts_with(&format!("{repo}@"))), "{repo} has a reference digest: pin it instead");
    }
    for r in &rows {
        let found = cat.entries.iter().find(|e| match &e.source {
            Source::File { url, digests, .. } => {
                url == &r.url_or_image && digests.iter().any(|d| d.hex == r.digest && format!("{:?}", d.algo).to_lowercase() == r.algo)
            }
            Source::Image { reference, digest: Some(digest), .. } => {
                r.url_or_image.starts_with(&format!("{}@", reference.rsplit_once(':').unwrap().0))
                    && format!("sha256:{}", digest.hex) == r.digest
                    && r.url_or_image.ends_with(&r.digest)
            }
            Source::Image { digest: None, .. } => false,
        });
        let e = found.unwrap_or_else(|| panic!("reference row {} {} not in catalog", r.url_or_image, r.digest));
        let single = r.trust.contains("third-party");
        assert_eq!(e.trust.single_source(), single, "trust of {}", r.url_or_image);
        let expect = match r.trust.as_str() {
            "upstream release notes" => Trust::UpstreamReleaseNotes,
            "kubespray pin" => Trust::KubesprayPin,
            "pinned by the Kubernetes build" => Trust::KubernetesBuild,
            "pinned by Docker's own build" => Trust::DockerBuild,
            t if t.starts_with("single third-party") => Trust::SingleThirdParty,
            _ => Trust::ObservedThirdParty,
        };
        assert_eq!(e.trust, expect, "{}", r.url_or_image);
    }
    // The names later stages refer to exist.
    for n in [
        "kubernetes-server",
        "etcd",
        "flannel",
        "docker",
        "cni-plugins",
        "pause",
        "kube-dns",
        "dnsmasq-nanny",
        "dns-sidecar",
        "dashboard",
        "heapster",
        "influxdb",
        "grafana",
        "busybox",
        "busybox-previous",
    ] {
        assert!(cat.entries.iter().any(|e| e.name == n), "{n}");
    }
}

#[test]
fn user_catalog_replaces_and_extends() {
    let c = Case::new();
    let inv = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    c.file("hosts.yaml", &inv.replace("etcd_version: v3.0.17", "etcd_version: v3.0.99"));
    c.file(
        "catalog.yaml",
        "artifacts:\n  - name: etcd\n    version: v3.0.99\n    url: http://mirror.example/etcd-v3.0.99-linux-amd64.tar.gz\n    sha256: 1111111111111111111111111111111111111111111111111111111111111111\n    license: Apache-2.0\n  - name: flannel\n    version: v0.10.0\n    url: https://github.com/coreos/flannel/releases/download/v0.10.0/flannel-v0.10.0-linux-amd64.tar.gz\n    sha256: 2222222222222222222222222222222222222222222222222222222222222222\n    trust: kubernetes-build\n",
    );
    let r = c.plan("hosts.yaml", &["--json", "--catalog", "catalog.yaml"]);
    r.code(0);
    let p = r.json();
    let a = |n: &str| p["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == n).unwrap().clone();
    assert_eq!(a("etcd")["url"], "http://mirror.example/etcd-v3.0.99-linux-amd64.tar.gz");
    assert_eq!(a("etcd")["trust"], "user");
    assert_eq!(a("flannel")["digest"], "sha256:2222222222222222222222222222222222222222222222222222222222222222");
    assert_eq!(a("flannel")["single_source"], false);
}

#[test]
fn bad_user_catalog_is_bad_input() {
    let c = Case::new();
    c.file("catalog.yaml", "artifacts:\n  - name: etcd\n    version: v3.0.17\n    url: https://x/etcd.tgz\n    sha256: NOTHEX\n  - name: x\n    version: \"1\"\n    colour: blue\n");
    std::fs::copy(root().join("examples/hosts.yaml"), c.path("hosts.yaml")).unwrap();
    let r = c.plan("hosts.yaml", &["--catalog", "catalog.yaml"]);
    r.code(2).has("catalog.yaml:8:5: error: artifacts[1]: unknown field `colour`");
    c.file("catalog.yaml", "artifacts:\n  - name: etcd\n    version: v3.0.17\n    url: https://x/etcd.tgz\n    sha256: NOTHEX\n");
    c.plan("hosts.yaml", &["--catalog", "catalog.yaml"])
        .code(2)
        .has("catalog.yaml:2:5: error: artifact `etcd` v3.0.17: `NOTHEX` is not a 64-character lowercase hex Sha256 digest");
}
