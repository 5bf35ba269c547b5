//! Packages as data (#14): what each package holds comes from specs/packages.yaml, resolved
//! and checked by the plan; Rust knows no package names or install paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::packages::{example_built, rpmq};
use crate::util::{root, run, Case};

/// String literals in Rust source outside `#[cfg(test)]` code, with their line numbers.
fn literals(src: &str) -> Vec<(usize, String)> {
    let src = match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    };
    let b = src.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' => {
                // A char literal ('"', '\n'), not a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 2;
                }
            }
            b'r' if (b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"')) && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) => {
                let mut j = i + 1;
                while b.get(j) == Some(&b'#') {
                    j += 1;
                }
                if b.get(j) == Some(&b'"') {
                    let hashes = "#".repeat(j - i - 1);
                    let close = format!("\"{hashes}");
                    let start = j + 1;
                    let end = src[start..].find(&close).map(|k| start + k).unwrap_or(b.len());
                    out.push((line, src[start..end].to_string()));
                    line += src[start..end].matches('\n').count();
                    i = end + close.len();
                    continue;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                out.push((line, src[start..j.min(b.len())].to_string()));
                line += src[start..j.min(b.len())].matches('\n').count();
                i = j + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A package name (`k8s-...`) or an install path (`/etc/...`, `/usr/...`, ...) in a literal.
fn packaging_knowledge(lit: &str) -> Vec<String> {
    let mut found = Vec::new();
    let b = lit.as_bytes();
    for (i, _) in lit.match_indices("k8s-") {
        if i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-' || b[i - 1] == b'_') {
            found.push(lit[i..].split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')).next().unwrap().to_string());
        }
    }
    for top in ["/etc", "/usr", "/var", "/opt", "/run", "/srv", "/lib", "/bin", "/sbin", "/home", "/root", "/tmp"] {
        for (i, _) in lit.match_indices(top) {
            let after = b.get(i + top.len());
            let before_ok = i == 0 || matches!(b[i - 1], b' ' | b'=' | b'"' | b'\'' | b'\n' | b'(' | b':' | b'>' | b'{' | b'\t' | b',');
            if before_ok && (after.is_none() || after == Some(&b'/') || after == Some(&b'"')) {
                found.push(lit[i..].split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')' || c == ';').next().unwrap().to_string());
            }
        }
    }
    found
}

/// Literals that name such a thing for a reason other than packaging, each with the reason.
const ALLOWED: &[(&str, &str, &str)] = &[
    ("bundler/src/inventory/raw.rs", "k8s-cluster", "kubespray's inventory group `k8s-cluster` (the old spelling of k8s_cluster), not a package"),
    ("bundler/src/rpm/stream.rs", "/bin/sh", "the scriptlet interpreter written into each RPM header, as rpmbuild writes it"),
    ("bundler/src/repo.rs", "/etc/", "createrepo's rule for which files primary.xml lists (its `primary_files` regexes)"),
    ("bundler/src/repo.rs", "/usr/lib/sendmail", "createrepo's rule for which files primary.xml lists (its `primary_files` regexes)"),
    ("bundler/src/plan/text.rs", "k8s-etcd-restore", "the operator command the plan summary points to for restores, in prose; not a package or a path"),
];

fn scan(src_root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![src_root.join("bundler/src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src_root).unwrap().to_string_lossy().into_owned();
        for (line, lit) in literals(&std::fs::read_to_string(&f).unwrap()) {
            for hit in packaging_knowledge(&lit) {
                if !ALLOWED.iter().any(|(file, what, _)| *file == rel && *what == hit) {
                    out.push(format!("{rel}:{line}: {hit}"));
                }
            }
        }
    }
    out
}

/// Rust keeps no package names or install paths: they are data in specs/ and packaging/.
#[test]
fn packages_as_data_no_package_names_or_install_paths_in_rust() {
    // SCAN_ROOT points the scan at another checkout (to count what main has).
    let found = scan(&std::env::var_os("SCAN_ROOT").map(PathBuf::from).unwrap_or_else(root));
    eprintln!("{} package-name or install-path literals in bundler/src", found.len());
    assert!(
        found.is_empty(),
        "{} package names or install paths in Rust outside tests (move them to specs/packages.yaml or packaging/):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// What `rpm -qp --dump` says of every file and directory of every package bundler built is
/// exactly what `bundler plan --json` listed before anything was downloaded: paths, modes,
/// owners and config flags.
#[test]
fn packages_as_data_every_built_package_holds_exactly_the_plans_file_list() {
    let b = example_built();
    let plan = run(crate::util::bundler().current_dir(b.dir.path()).args(["plan", "--json", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"])).json();
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in plan["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        let mode = |m: &serde_json::Value, kind: u32| format!("{:o}", kind | u32::from_str_radix(m.as_str().unwrap(), 8).unwrap());
        let mut v: Vec<String> = p["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {} {}",
                    f["dst"].as_str().unwrap(),
                    mode(&f["mode"], 0o100000),
                    f["user"].as_str().unwrap(),
                    f["group"].as_str().unwrap(),
                    u8::from(f["config"].as_bool().unwrap())
                )
            })
            .chain(p["dirs"].as_array().unwrap().iter().map(|d| {
                format!("{} {} {} {} 0", d["path"].as_str().unwrap(), mode(&d["mode"], 0o040000), d["user"].as_str().unwrap(), d["group"].as_str().unwrap())
            }))
            .collect();
        v.sort();
        want.insert(name, v);
    }
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rpm in b.rpms() {
        let name = rpmq(&rpm, &["--qf", "%{NAME}"]);
        let mut v: Vec<String> = rpmq(&rpm, &["--dump"])
            .lines()
            .map(|l| {
                // path size mtime digest mode owner group isconfig isdoc rdev symlink
                let f: Vec<&str> = l.split(' ').collect();
                format!("{} {} {} {} {}", f[0], f[4].trim_start_matches('0'), f[5], f[6], f[7])
            })
            .collect();
        v.sort();
        got.insert(name, v);
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "the packages built are the plan's");
    for (name, files) in &want {
        assert!(!files.is_empty(), "{name}: the plan lists no files");
        assert_eq!(&got[name], files, "{name}: rpm --dump against the plan");
    }
}

/// The example inventory planned with the embedded package spec changed by `edit` (`--packages`).
fn with_spec(edit: impl Fn(&str) -> String) -> (Case, crate::util::Run) {
    let c = Case::new();
    c.file("hosts.yaml", &std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap());
    c.file("packages.yaml", &edit(bundler::specs::EMBEDDED));
    let r = c.plan("hosts.yaml", &["--packages", "packages.yaml"]);
    (c, r)
}

#[test]
fn packages_as_data_a_decimal_mode_is_refused_naming_the_file_and_entry() {
    let (_c, r) = with_spec(|s| {
        s.replacen(r#"{dst: /etc/bundler/hosts, template: host/hosts, mode: "0644"}"#, "{dst: /etc/bundler/hosts, template: host/hosts, mode: 644}", 1)
    });
    r.code(2).has("packages.yaml").has("package k8s-common contents[0] (/etc/bundler/hosts)").has("mode 644 is a bare number");
    // The same spec with the quoted mode is accepted: the refusal is the mode's.
    let (_c, r) = with_spec(|s| s.to_string());
    r.code(0);
}

#[test]
fn packages_as_data_collisions_and_bad_paths_are_input_errors() {
    let node_contents = "    contents:\n      - {dst: /usr/lib/systemd/system/docker.service";
    // One destination owned by two packages.
    let (_c, r) = with_spec(|s| {
        s.replacen(
            node_contents,
            "    contents:\n      - {dst: /etc/bundler/hosts, template: host/hosts, mode: \"0644\"}\n      - {dst: /usr/lib/systemd/system/docker.service",
            1,
        )
    });
    r.code(2).has("packages.yaml").has("/etc/bundler/hosts is installed by two packages, k8s-common and k8s-node");
    // Two entries with one destination in one package.
    let (_c, r) = with_spec(|s| {
        s.replacen(
            node_contents,
            "    contents:\n      - {dst: /etc/docker/daemon.json, template: host/hosts, mode: \"0644\"}\n      - {dst: /usr/lib/systemd/system/docker.service",
            1,
        )
    });
    r.code(2).has("package k8s-node: two contents entries install /etc/docker/daemon.json");
    // A path that climbs out.
    let (_c, r) = with_spec(|s| s.replacen("dst: /etc/docker/daemon.json", "dst: /etc/docker/../shadow", 1));
    r.code(2).has("package k8s-node contents[1] (/etc/docker/../shadow)").has("`..` component");
    // A bundle file outside the bundle.
    let (_c, r) = with_spec(|s| s.replacen("dst: install.sh", "dst: ../install.sh", 1));
    r.code(2).has("bundle files[0] (../install.sh)");
}

/// A service added to the node role in the package spec alone (a `services` entry and a
/// `contents` entry; its unit reuses an existing template here) reaches the package's files,
/// host-identity's `--services node` and the role package's scriptlets, with no Rust change.
#[test]
fn packages_as_data_a_service_added_in_the_spec_reaches_host_identity_and_the_scriptlets() {
    let c = Case::new();
    c.file("hosts.yaml", &std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap());
    let spec = bundler::specs::EMBEDDED
        .replacen("      - kube-proxy.service\n", "      - kube-proxy.service\n      - k8s-extra.service\n", 1)
        .replacen(
            "      - {dst: /usr/lib/systemd/system/docker.service",
            "      - {dst: /usr/lib/systemd/system/k8s-extra.service, template: units/kube-proxy.service, mode: \"0644\"}\n      - {dst: /usr/lib/systemd/system/docker.service",
            1,
        );
    assert_ne!(spec, bundler::specs::EMBEDDED);
    c.file("packages.yaml", &spec);
    let plan = bundler::plan_with(&c.path("hosts.yaml"), None, Some(&c.path("packages.yaml"))).expect("plan");
    assert_eq!(plan.services(bundler::specs::Role::Node).last().map(String::as_str), Some("k8s-extra.service"));
    let files = bundler::render::render(&plan).unwrap();
    assert!(files.iter().any(|f| f.path == "/usr/lib/systemd/system/k8s-extra.service" && f.package == "k8s-node"));
    let identity = files.iter().find(|f| f.path == "/usr/libexec/bundler/host-identity").unwrap();
    assert!(identity.content.contains("kubelet.service kube-proxy.service k8s-extra.service\" ;;"), "{}", identity.content);
    let sc = bundler::render::scriptlets(&plan, &files).unwrap();
    let node = sc.iter().find(|s| s.package == "k8s-node").unwrap();
    assert!(node.postun.as_deref().unwrap().contains(
        "for s in flanneld.service docker.service k8s-load-images.service k8s-api-proxy.service kubelet.service kube-proxy.service k8s-extra.service; do"
    ));
    assert!(node.preun.as_deref().unwrap().starts_with("if [ \"$1\" -eq 0 ]; then\n  { systemctl --no-reload disable k8s-extra.service"), "{:?}", node.preun);
}

/// An `image_archives` suffix the images stage does not write is a plan error (exit 2) naming
/// the entry, not a missing file halfway through the package stage.
#[test]
fn packages_as_data_an_image_file_the_images_stage_does_not_write_is_an_input_error() {
    let (_c, r) = with_spec(|s| s.replacen("image_archives: [.tar, .tar.id, .tar.tag]", "image_archives: [.tar, .tar.gz]", 1));
    r.code(2).has("packages.yaml").has("package k8s-images contents[0] (/usr/share/bundler/images)").has("\".tar.gz\" is not a file the images stage writes");
}

/// Packages are rendered once, before the bundle's release is known: a package template that
/// asks for the bundle's file stem (which names the release) fails to render, naming the
/// template, instead of silently getting release 1.
#[test]
fn packages_as_data_a_package_template_cannot_see_the_bundles_release() {
    let c = Case::new();
    c.file("hosts.yaml", &std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap());
    let spec = bundler::specs::EMBEDDED.replacen(
        "      - {dst: /usr/lib/systemd/system/docker.service",
        "      - {dst: /usr/share/bundler/install.sh, template: bundle/install.sh, mode: \"0755\"}\n      - {dst: /usr/lib/systemd/system/docker.service",
        1,
    );
    assert_ne!(spec, bundler::specs::EMBEDDED);
    c.file("packages.yaml", &spec);
    let plan = bundler::plan_with(&c.path("hosts.yaml"), None, Some(&c.path("packages.yaml"))).expect("plan");
    let e = bundler::render::packages(&plan).unwrap_err();
    assert_eq!(e.fields()["kind"], "template", "{e}");
    assert_eq!(e.fields()["template"], "bundle/install.sh", "{e}");
    assert!(e.to_string().contains("rendering packaging/bundle/install.sh"), "{e}");
    assert_eq!(e.exit_code(), 1);
    // The bundle's own files see it, for the release they are rendered with.
    let files = bundler::render::bundle_files(&plan, 7).unwrap();
    let install = files.iter().find(|f| f.path == "install.sh").unwrap();
    assert!(install.content.contains(&format!("{}-{}-7", plan.bundle_name, plan.versions.kubernetes.trim_start_matches('v'))), "{}", install.content);
    let repo = files.iter().find(|f| f.path == format!("{}.repo", plan.bundle_name)).expect("the .repo file is one of the bundle's files");
    assert!(repo.content.contains(&format!("{}-{}-7/repo", plan.bundle_name, plan.versions.kubernetes.trim_start_matches('v'))), "{}", repo.content);
}
