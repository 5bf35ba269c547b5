//! Packages as data (#14): what each package holds comes from specs/packages.yaml, resolved
//! and checked by the plan; Rust knows no package names or install paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::Build;
use crate::util::{root, run};

/// Measurement, not a test: build the same bundle with another bundler binary
/// (`COMPARE_WITH_BIN`, e.g. one built from main) and with this one, from one state folder,
/// and compare every package and the tarball byte for byte.
#[test]
#[ignore]
fn packages_as_data_compare_bytes_with_another_binary() {
    let other = PathBuf::from(std::env::var("COMPARE_WITH_BIN").expect("COMPARE_WITH_BIN=path of the other bundler"));
    // Two control-plane hosts behind a load balancer, one of them a node, an etcd-only host,
    // no dashboard.
    let two_masters = "all:\n  hosts:\n    m1: {ip: 10.0.0.11}\n    m2: {ip: 10.0.0.12}\n    e1: {ip: 10.0.0.31}\n    n1: {ip: 10.0.0.21}\n  children:\n    kube_control_plane: {hosts: {m1: , m2: }}\n    kube_node: {hosts: {m2: , n1: }}\n    etcd: {hosts: {e1: , m1: , n1: }}\n  vars:\n    loadbalancer_apiserver: {address: 10.0.0.100, port: 6443}\n    dashboard_enabled: false\n";
    let example = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    for (label, inv) in [("example", example.as_str()), ("two-masters-lb", two_masters)] {
        let b = Build::new(inv);
        // The first two builds (other binary) settle the state folder (the first pins
        // first-pull images in bundler.lock, which the second packages); a copy then serves both.
        for _ in 0..2 {
            run(Command::new(&other).args(b.build_cmd().get_args()).current_dir(b.dir.path()).env("SOURCE_DATE_EPOCH", "1700000000")).code(0);
        }
        let copy = tempfile::tempdir().unwrap();
        cp_r(b.dir.path(), copy.path());
        std::fs::remove_dir_all(b.p("out")).unwrap();
        std::fs::remove_dir_all(copy.path().join("out")).unwrap();
        // Binary packages are cached between builds: each binary builds its own.
        for d in [b.dir.path(), copy.path()] {
            let _ = std::fs::remove_dir_all(d.join("cache/rpms"));
        }
        run(Command::new(&other).args(b.build_cmd().get_args()).current_dir(b.dir.path()).env("SOURCE_DATE_EPOCH", "1700000000")).code(0);
        run(Command::new(env!("CARGO_BIN_EXE_bundler")).args(b.build_cmd().get_args()).current_dir(copy.path()).env("SOURCE_DATE_EPOCH", "1700000000")).code(0);
        let list = |d: &Path| -> BTreeMap<String, Vec<u8>> {
            let mut m = BTreeMap::new();
            for e in std::fs::read_dir(d.join("out")).unwrap().flatten() {
                let p = e.path();
                m.insert(p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
                if p.extension().is_some_and(|x| x == "tar") {
                    let mut a = tar::Archive::new(std::fs::File::open(&p).unwrap());
                    for f in a.entries().unwrap() {
                        let mut f = f.unwrap();
                        let name = f.path().unwrap().to_string_lossy().into_owned();
                        let mut v = Vec::new();
                        std::io::Read::read_to_end(&mut f, &mut v).unwrap();
                        m.insert(format!("tar:{name}"), v);
                    }
                }
            }
            m
        };
        let (a, c) = (list(b.dir.path()), list(copy.path()));
        let names: Vec<&String> = a.keys().chain(c.keys()).collect();
        let mut same = 0;
        let mut differ = Vec::new();
        for n in names.iter().collect::<std::collections::BTreeSet<_>>() {
            if a.get(*n) == c.get(*n) {
                same += 1;
            } else {
                differ.push((*n).clone());
            }
        }
        let rpms = a.keys().filter(|k| k.ends_with(".rpm") && k.contains("/Packages/k8s-") && a.get(*k) == c.get(*k)).count();
        eprintln!("{label}: {same} identical entries ({rpms} bundler RPMs identical); differing: {differ:?}");
        if !differ.is_empty() {
            let keep = copy.keep();
            eprintln!("kept {} and {}", b.dir.path().display(), keep.display());
            std::mem::forget(b);
        }
        assert!(differ.is_empty(), "{label}: {differ:?}");
    }
}

fn cp_r(from: &Path, to: &Path) {
    let st = Command::new("cp").arg("-a").arg(format!("{}/.", from.display())).arg(to).status().unwrap();
    assert!(st.success());
}
