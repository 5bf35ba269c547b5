//! The bundle end to end: build against a local fixture mirror, unpack, install with
//! install.sh into an empty root, verify and tamper, rebuild reproducibly, kill the build at
//! every stage, check the playbook with ansible-playbook.

use std::path::Path;
use std::process::Command;

use crate::dnf::Root;
use crate::etcd::require;
use crate::packages::{example_built, sh, Build};
use crate::util::{bundler, run};

fn sha(p: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn end_to_end_install_sh_verify_and_tampering() {
    let b = Build::example();
    let r = b.build(&[]);
    r.code(0);
    let receipt = r.json();
    let tar = b.tarball();
    assert_eq!(tar.file_name().unwrap(), "k8s-1.9.11-1.tar");
    assert_eq!(receipt["bundle"].as_str().unwrap(), b.p("out/k8s-1.9.11-1.tar").to_str().unwrap());
    assert_eq!(receipt["bundle_sha256"], sha(&tar));
    let stages: Vec<&str> = receipt["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["plan", "render", "pki", "fetch", "images", "signing-key", "extract", "packages", "repository", "bundle"]);
    let bundle = b.bundle();
    for f in [
        "install.sh",
        "README.md",
        "manifest.json",
        "sbom.spdx.json",
        "SHA256SUMS",
        "k8s.repo",
        "hosts",
        "lib/host-identity",
        "ansible/site.yml",
        "ansible/tasks/install.yml",
        "repo/RPM-GPG-KEY-bundler",
        "repo/repodata/repomd.xml.asc",
    ] {
        assert!(
            bundle.join(f).exists(),
            "{f} in the bundle {}: {:?}",
            bundle.display(),
            std::fs::read_dir(&bundle).map(|r| r.map(|e| e.unwrap().path()).collect::<Vec<_>>())
        );
    }
    // The real sha256sum agrees with SHA256SUMS.
    let (ok, out) = sh(Command::new("sha256sum").arg("-c").arg("--quiet").arg("SHA256SUMS").current_dir(&bundle));
    assert!(ok, "{out}");
    // The manifest and the SBOM name everything.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["versions"]["kubernetes"], "v1.9.11");
    assert_eq!(m["inventory"]["sha256"], sha(&b.p("hosts.yaml")));
    assert_eq!(m["rpms"].as_array().unwrap().len(), 10);
    assert!(m["artifacts"].as_array().unwrap().iter().all(|a| a["url"].is_string() && a["digest"].is_string() && a["license"].is_string()));
    let sbom: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("sbom.spdx.json")).unwrap()).unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    let ids: Vec<&str> = sbom["packages"].as_array().unwrap().iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
    for id in ["SPDXRef-Artifact-kubernetes-server", "SPDXRef-RPM-k8s-master", "SPDXRef-Image-pause"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // install.sh in test mode: an empty root, dnf as yum, the claimed host is node01.
    let root = Root::new(Some("node01"));
    let (ok, out) = root.dnf(&b.repo(), &["install", "test-base"]);
    assert!(ok, "{out}");
    let rootp = root.root();
    let yum = format!(
        "dnf --releasever=7 --noplugins --setopt=skip_if_unavailable=False --setopt=install_weak_deps=False --setopt=cachedir={r}/var/cache/dnf --setopt=reposdir={r}/etc/yum.repos.d",
        r = rootp.display()
    );
    let install = || sh(Command::new("sh").arg(bundle.join("install.sh")).env("BUNDLER_INSTALL_ROOT", &rootp).env("BUNDLER_YUM", &yum));
    let (ok, out) = install();
    assert!(ok, "install.sh:\n{out}");
    assert!(out.contains("installing k8s-etcd k8s-node for roles: etcd node"), "{out}");
    let inst = root.installed();
    assert!(inst.contains(&"k8s-node".to_string()) && inst.contains(&"k8s-etcd".to_string()) && !inst.contains(&"k8s-master".to_string()), "{inst:?}");
    let repo_file = std::fs::read_to_string(rootp.join("etc/yum.repos.d/k8s.repo")).unwrap();
    assert!(repo_file.contains(&format!("baseurl=file://{}/repo", bundle.display())) && repo_file.contains("repo_gpgcheck=1"), "{repo_file}");
    // Safe to run twice.
    let (ok, out) = install();
    assert!(ok && out.contains("Nothing to do"), "second install.sh:\n{out}");
    // --role overrides.
    let (_, out) = sh(Command::new("sh").arg(bundle.join("install.sh")).args(["--role", "bogus"]).env("BUNDLER_INSTALL_ROOT", &rootp).env("BUNDLER_YUM", &yum));
    assert!(out.contains("unknown role 'bogus'"), "{out}");

    // bundler verify passes, on the tarball and on the folder.
    run(bundler().arg("verify").arg(&tar)).code(0);
    let v = run(bundler().args(["verify", "--json"]).arg(&bundle));
    v.code(0);
    assert!(v.json()["checks"].as_array().unwrap().len() > 20);
    // Flipping one byte of an RPM, of repomd.xml or of the manifest fails and names the file.
    for (rel, what) in
        [("repo/Packages/k8s-kube-master-bin-1.9.11-1.el7.x86_64.rpm", "rpm"), ("repo/repodata/repomd.xml", "repomd"), ("manifest.json", "manifest")]
    {
        let t = tempfile::tempdir().unwrap();
        sh(Command::new("cp").arg("-a").arg(&bundle).arg(t.path().join("b")));
        let p = t.path().join("b").join(rel);
        let mut bytes = std::fs::read(&p).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&p, bytes).unwrap();
        let r = run(bundler().arg("verify").arg(t.path().join("b")));
        r.code(1).has(&format!("  {rel}: "));
        if what == "repomd" {
            r.has("repo/repodata/repomd.xml: signature:");
        }
    }
    // Another cluster's key, given out of band, is refused.
    let other = Build::example();
    other.build(&[]).code(0);
    run(bundler().arg("verify").arg(&tar).arg("--key").arg(other.repo().join("RPM-GPG-KEY-bundler"))).code(1).has("signature does not verify");
}

#[test]
fn same_inputs_same_tarball_and_a_new_node_raises_only_what_changed() {
    let b = Build::example();
    b.build(&[]).code(0);
    let first = sha(&b.tarball());
    // Rebuild from the same inventory, state and cache: byte for byte the same tarball.
    std::fs::remove_dir_all(b.p("out")).unwrap();
    let r = b.build(&[]);
    r.code(0);
    assert_eq!(sha(&b.tarball()), first, "same inputs, same tarball");
    assert!(
        r.json()["packages"].as_array().unwrap().iter().filter(|p| p["name"].as_str().unwrap().ends_with("-bin")).all(|p| p["cached"] == true),
        "binary packages come from the package cache"
    );
    // Add a node: only the packages whose content changed get a higher release.
    let inv = std::fs::read_to_string(b.p("hosts.yaml")).unwrap();
    let inv = inv.replacen(
        "    node02:\n      ansible_host: 192.168.0.213\n      ip: 192.168.0.213\n",
        "    node02:\n      ansible_host: 192.168.0.213\n      ip: 192.168.0.213\n    node03:\n      ip: 192.168.0.214\n",
        1,
    );
    let inv = inv.replacen("        node01:\n        node02:\n    etcd:", "        node01:\n        node02:\n        node03:\n    etcd:", 1);
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    let r = b.build(&[]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["release"], 2);
    let rel = |n: &str| doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == n).unwrap()["release"].as_str().unwrap().to_string();
    // The host list lives in k8s-common; the role packages pin it, so they follow.
    assert_eq!(rel("k8s-common"), "2.el7");
    for unchanged in ["k8s-etcd-bin", "k8s-kube-master-bin", "k8s-kube-node-bin", "k8s-flannel-bin", "k8s-docker-bin"] {
        assert_eq!(rel(unchanged), "1.el7", "{unchanged} did not change");
    }
    assert!(b.p("out/k8s-1.9.11-1.tar").exists(), "the previous bundle is untouched");
    assert!(b.p("out/k8s-1.9.11-2.tar").exists());
}

#[test]
fn a_failed_or_killed_build_leaves_the_output_folder_as_it_was() {
    let b = Build::example();
    b.build(&[]).code(0);
    let listing = |b: &Build| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(b.p("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), sha(&p)))
            .collect();
        v.sort();
        v
    };
    let before = listing(&b);
    // A change, so that a finished build would write a new tarball.
    let inv = std::fs::read_to_string(b.p("hosts.yaml")).unwrap().replace("kube_proxy_mode: iptables", "kube_proxy_mode: ipvs");
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    for stage in ["fetch", "pki", "render", "images", "packages", "repository", "bundle", "publish"] {
        let r = run(b.build_cmd().env("BUNDLER_TEST_FAIL_AT", stage));
        r.code(1).has(&format!("stage {stage} failed"));
        assert_eq!(listing(&b), before, "after a failure at {stage}");
        let r = run(b.build_cmd().env("BUNDLER_TEST_KILL_AT", stage));
        assert_eq!(r.code, -1, "killed at {stage}");
        assert_eq!(listing(&b), before, "after a kill at {stage}");
    }
    // And the next build completes.
    b.build(&[]).code(0);
    assert_eq!(listing(&b).len(), before.len() + 1);
}

/// Regression: the build downloaded every artifact (some 500 MB for real) before it rendered a
/// template or made a certificate, so an error there surfaced only after the downloads.
#[test]
fn build_renders_and_makes_certificates_before_the_first_download() {
    let b = Build::example();
    // Certificates that cannot be used: the Kubernetes CA's certificate with another CA's key.
    run(bundler().current_dir(b.p("")).args(["certs", "issue", "--quiet", "--inventory", "hosts.yaml"])).code(0);
    std::fs::copy(b.p("bundler-state/pki/etcd-ca.key"), b.p("bundler-state/pki/kubernetes-ca.key")).unwrap();
    let r = b.build(&[]);
    r.code(1).has("kubernetes-ca.crt and ").has("do not belong together");
    assert_eq!(b._server.log().len(), 0, "requests before the certificate error: {:?}", b._server.log().iter().map(|l| &l.path).collect::<Vec<_>>());
    // The same build with the pair restored does download, so the count above can be non-zero.
    std::fs::remove_dir_all(b.p("bundler-state")).unwrap();
    b.build(&[]).code(0);
    assert!(!b._server.log().is_empty());
}

/// Regression: `bundler build` printed the plan's warnings only after a successful build,
/// so a build that failed later never showed them.
#[test]
fn build_shows_plan_warnings_on_stderr_even_when_it_fails() {
    let inv = std::fs::read_to_string(crate::util::root().join("examples/hosts.yaml"))
        .unwrap()
        .replace("      ip: 192.168.0.212\n", "      ip: 192.168.0.212\n      kube_proxy_mode: ipvs\n");
    let b = Build::new(&inv);
    let cmd = b.build_cmd();
    // Not quiet: what a person running it sees.
    let args: Vec<_> = cmd.get_args().filter(|a| *a != "--quiet" && *a != "--json").map(|a| a.to_owned()).collect();
    let mut c = bundler();
    c.current_dir(b.p("")).env("SOURCE_DATE_EPOCH", "1700000000").args(args);
    for at in ["fetch", "packages"] {
        let r = run(c.env("BUNDLER_TEST_FAIL_AT", at));
        r.code(1).has(&format!("stage {at} failed"));
        assert!(r.stderr.contains("warning: `kube_proxy_mode` is set on a group or host"), "failed at {at}: {}", r.stderr);
    }
    // And once, not twice, when the build succeeds.
    let r = run(c.env_remove("BUNDLER_TEST_FAIL_AT"));
    r.code(0);
    assert_eq!(r.stderr.matches("`kube_proxy_mode` is set on a group or host").count(), 1, "{}", r.stderr);
}

#[test]
fn ansible_playbook_syntax_check() {
    require("ansible-playbook");
    let b = example_built();
    let (ok, out) = sh(Command::new("ansible-playbook")
        .arg("--syntax-check")
        .arg("-i")
        .arg(b.p("hosts.yaml"))
        .arg(b.bundle().join("ansible/site.yml"))
        .env("ANSIBLE_LOCALHOST_WARNING", "False"));
    assert!(ok, "{out}");
    assert!(out.contains("playbook: "), "{out}");
    // A broken playbook fails the same check, so it can fail.
    let broken = b.p("broken.yml");
    std::fs::write(&broken, "- hosts: all\n  tasks:\n    - nosuchmodule_xyz: {}\n").unwrap();
    let (ok, _) = sh(Command::new("ansible-playbook").arg("--syntax-check").arg("-i").arg(b.p("hosts.yaml")).arg(&broken));
    assert!(!ok);
}
