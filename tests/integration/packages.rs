//! Per-role RPMs and the signed repository, checked with Debian's rpm, rpmkeys,
//! createrepo_c, dnf (installs into empty roots), rpmlint and gnupg.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd::require;
use crate::fixtures;
use crate::httpd::Server;
use crate::util::{bundler, root, run, Run, Shared};

/// A build folder: fixture artifacts on a local server, a catalog pointing there, an inventory.
pub struct Build {
    pub dir: tempfile::TempDir,
    /// Serves the fixture artifacts for as long as the build folder lives.
    pub _server: Server,
}

impl Build {
    pub fn new(inventory: &str) -> Build {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start();
        let fx = fixtures::artifacts(1);
        for f in &fx {
            server.put(&format!("/up/{}", f.file_name), f.bytes.clone());
        }
        let images = fixtures::images();
        fixtures::serve_images(&server, &images);
        let catalog = fixtures::catalog(&fx, &format!("{}/up", server.base)) + &fixtures::image_catalog(&images, server.base.trim_start_matches("http://"));
        std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
        std::fs::write(dir.path().join("hosts.yaml"), inventory).unwrap();
        Build { dir, _server: server }
    }
    pub fn example() -> Build {
        Build::new(&std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap())
    }
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn build_cmd(&self) -> Command {
        let mut c = bundler();
        c.current_dir(self.dir.path()).env("SOURCE_DATE_EPOCH", "1700000000").args([
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
            "out",
        ]);
        c
    }
    pub fn build(&self, extra: &[&str]) -> Run {
        run(self.build_cmd().args(extra))
    }
    /// The newest bundle tarball in the output folder.
    pub fn tarball(&self) -> PathBuf {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(self.p("out")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "tar")).collect();
        v.sort_by_key(|p| {
            let s = p.file_stem().unwrap().to_string_lossy().into_owned();
            s.rsplit('-').next().unwrap().parse::<u32>().unwrap()
        });
        v.pop().expect("a bundle tarball")
    }
    /// The newest bundle, unpacked (once per release).
    pub fn bundle(&self) -> PathBuf {
        let tar = self.tarball();
        let stem = tar.file_stem().unwrap().to_string_lossy().into_owned();
        let dest = self.p(&format!("unpacked/{stem}"));
        if !dest.exists() {
            std::fs::create_dir_all(&dest).unwrap();
            tar::Archive::new(std::fs::File::open(&tar).unwrap()).unpack(&dest).unwrap();
        }
        dest.join(&stem)
    }
    pub fn repo(&self) -> PathBuf {
        self.bundle().join("repo")
    }
    /// Every package in the repository, the OS vendor's included.
    pub fn all_rpms(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.repo().join("Packages")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    }
    /// The packages bundler made (not the OS vendor's, which the repository carries unchanged).
    pub fn rpms(&self) -> Vec<PathBuf> {
        let os: Vec<String> = crate::ospkgs::PACKAGES.iter().map(|p| format!("{}.rpm", crate::ospkgs::nevra(p.0))).collect();
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.repo().join("Packages"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !os.contains(&p.file_name().unwrap().to_string_lossy().into_owned()))
            .collect();
        v.sort();
        v
    }
    pub fn rpm(&self, name: &str) -> PathBuf {
        self.rpms()
            .into_iter()
            .find(|p| {
                p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{name}-"))
                    && p.file_name().unwrap().to_str().unwrap()[name.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
            })
            .unwrap_or_else(|| panic!("no {name} rpm"))
    }
}

static EXAMPLE: Shared<Build> = Shared::new();

/// The example inventory's bundle, built (and unpacked) once for the tests that only read it.
pub fn example_built() -> &'static Build {
    EXAMPLE.get(
        || {
            let b = Build::example();
            b.build(&[]).code(0);
            b.bundle();
            b
        },
        |b| b.dir.path().to_path_buf(),
    )
}

pub fn sh(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

pub fn rpmq(p: &Path, args: &[&str]) -> String {
    require("rpm");
    let (ok, out) = sh(Command::new("rpm").args(["-qp", "--nosignature"]).args(args).arg(p));
    assert!(ok, "rpm -qp {args:?} {}: {out}", p.display());
    out
}

#[test]
fn packages_are_el7_compatible() {
    let b = example_built();
    let rpms = b.rpms();
    let names: Vec<String> = rpms.iter().map(|p| rpmq(p, &["--qf", "%{NAME}"])).collect();
    for want in [
        "k8s-common",
        "k8s-etcd",
        "k8s-master",
        "k8s-node",
        "k8s-etcd-bin",
        "k8s-kube-master-bin",
        "k8s-kube-node-bin",
        "k8s-flannel-bin",
        "k8s-docker-bin",
        "k8s-images",
    ] {
        assert!(names.contains(&want.to_string()), "{want} in {names:?}");
    }
    for p in &rpms {
        let reqs = rpmq(p, &["--requires"]);
        for bad in ["PayloadIsZstd", "LargeFiles", "RichDependencies", " or ", " and ", "^"] {
            assert!(!reqs.contains(bad), "{}: {bad} in\n{reqs}", p.display());
        }
        let q = rpmq(p, &["--qf", "%{PAYLOADCOMPRESSOR} %{FILEDIGESTALGO} %{RPMVERSION}\n"]);
        assert!(q.starts_with("gzip 8 "), "{}: {q}", p.display());
        let scripts = rpmq(p, &["--scripts"]);
        assert!(scripts.contains("preinstall scriptlet"), "{}: %pre present", p.display());
    }
    // Keys 0600 in 0700 folders; config flags as intended.
    let files = rpmq(&b.rpm("k8s-master"), &["--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}\n]"]);
    let line = |path: &str| files.lines().find(|l| l.starts_with(&format!("{path} "))).unwrap_or_else(|| panic!("{path} in\n{files}")).to_string();
    assert!(line("/etc/kubernetes/pki/apiserver.key").ends_with(" -rw------- root"));
    assert!(line("/etc/kubernetes/pki").contains("drwx------"));
    assert!(line("/etc/kubernetes/apiserver.env").contains(" cn "), "{}", line("/etc/kubernetes/apiserver.env"));
    assert!(!line("/usr/lib/systemd/system/kube-apiserver.service").contains(" c"), "units are not %config");
    let etcd = rpmq(&b.rpm("k8s-etcd"), &["--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}\n]"]);
    assert!(etcd.contains("/etc/etcd/pki/member/server.key -rw------- etcd"), "{etcd}");
    assert!(etcd.contains("/etc/etcd/pki/member drwx------ etcd"), "{etcd}");
    // Exact pins and conflicts.
    let reqs = rpmq(&b.rpm("k8s-master"), &["--requires"]);
    assert!(reqs.contains("k8s-kube-master-bin = 1.9.11-1.el7"), "{reqs}");
    assert!(reqs.contains("k8s-etcd = 1.9.11-1.el7"), "{reqs}");
    assert!(rpmq(&b.rpm("k8s-docker-bin"), &["--conflicts"]).contains("docker-ce"));
    assert!(rpmq(&b.rpm("k8s-etcd-bin"), &["--conflicts"]).contains("etcd"));
    // No root CA key anywhere in any package.
    let state = b.p("bundler-state/pki");
    let roots = [std::fs::read(state.join("kubernetes-ca.key")).unwrap(), std::fs::read(state.join("etcd-ca.key")).unwrap()];
    for p in &rpms {
        let listing = rpmq(p, &["-l"]);
        assert!(!listing.contains("kubernetes-ca.key") && !listing.contains("etcd-ca.key"), "{}", p.display());
        let (ok, content) = sh(Command::new("sh").arg("-c").arg(format!("rpm2cpio '{}' | cpio -i --to-stdout --quiet 2>/dev/null", p.display())));
        assert!(ok);
        for k in &roots {
            assert!(!content.contains(std::str::from_utf8(k).unwrap()), "{} contains a root CA key", p.display());
        }
    }
}

#[test]
fn signatures_verify_with_the_cluster_key_only() {
    require("rpmkeys");
    require("gpg");
    let b = example_built();
    let key = b.repo().join("RPM-GPG-KEY-bundler");
    let db = tempfile::tempdir().unwrap();
    let (ok, out) = sh(Command::new("rpmkeys").arg(format!("--dbpath={}", db.path().display())).arg("--import").arg(&key));
    assert!(ok, "{out}");
    for p in b.rpms() {
        let (ok, out) =
            sh(Command::new("rpmkeys").arg(format!("--dbpath={}", db.path().display())).args(["--define", "_pkgverify_level signature", "-K"]).arg(&p));
        assert!(ok && out.contains("signatures OK"), "{}: {out}", p.display());
    }
    // Another key (another cluster's) does not verify them.
    let other = Build::example();
    other.build(&[]).code(0);
    let db2 = tempfile::tempdir().unwrap();
    sh(Command::new("rpmkeys").arg(format!("--dbpath={}", db2.path().display())).arg("--import").arg(other.repo().join("RPM-GPG-KEY-bundler")));
    let p = b.rpm("k8s-master");
    let (ok, out) =
        sh(Command::new("rpmkeys").arg(format!("--dbpath={}", db2.path().display())).args(["--define", "_pkgverify_level signature", "-K"]).arg(&p));
    assert!(!ok, "verified with a foreign key: {out}");
    // The repository metadata signature verifies with gpg against the shipped key, and fails when tampered.
    let home = tempfile::tempdir().unwrap();
    let gpg = |args: &[&str]| sh(Command::new("gpg").arg("--homedir").arg(home.path()).arg("--batch").args(args));
    assert!(gpg(&["--import", key.to_str().unwrap()]).0);
    let repomd = b.repo().join("repodata/repomd.xml");
    let (ok, out) = gpg(&["--verify", b.repo().join("repodata/repomd.xml.asc").to_str().unwrap(), repomd.to_str().unwrap()]);
    assert!(ok && out.contains("Good signature"), "{out}");
    let bad = home.path().join("repomd.xml");
    let mut bytes = std::fs::read(&repomd).unwrap();
    bytes[60] ^= 1;
    std::fs::write(&bad, bytes).unwrap();
    let (ok, _) = gpg(&["--verify", b.repo().join("repodata/repomd.xml.asc").to_str().unwrap(), bad.to_str().unwrap()]);
    assert!(!ok);
    // The key is RSA and signs with its primary key (what el7 needs).
    let (_, listing) = gpg(&["--list-keys", "--with-colons"]);
    let pubs: Vec<&str> = listing.lines().filter(|l| l.starts_with("pub:") || l.starts_with("sub:")).collect();
    assert_eq!(pubs.len(), 1, "one primary key, no subkeys: {listing}");
    assert_eq!(pubs[0].split(':').nth(3), Some("1"), "RSA: {}", pubs[0]);
}

fn gunzip(p: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()).read_to_string(&mut s).unwrap();
    s
}

fn md_file(repo: &Path, kind: &str) -> PathBuf {
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let doc = roxmltree::Document::parse(&repomd).unwrap();
    let data = doc.descendants().find(|n| n.has_tag_name("data") && n.attribute("type") == Some(kind)).unwrap();
    let href = data.descendants().find(|n| n.has_tag_name("location")).unwrap().attribute("href").unwrap();
    repo.join(href)
}

/// One package's metadata as comparable strings: field → value(s).
fn describe(pkg: roxmltree::Node) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut m: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for n in pkg.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name().to_string();
        let mut attrs: Vec<String> = n.attributes().map(|a| format!("{}={}", a.name(), a.value())).collect();
        attrs.sort();
        let text = n.children().filter(|c| c.is_text()).map(|c| c.text().unwrap().trim()).collect::<String>();
        let parent = n.parent().map(|p| p.tag_name().name().to_string()).unwrap_or_default();
        m.entry(format!("{parent}/{tag}")).or_default().push(format!("{} {}", attrs.join(" "), text));
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

#[test]
fn repodata_matches_createrepo_c_field_by_field() {
    require("createrepo_c");
    let b = example_built();
    let theirs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(theirs.path().join("Packages")).unwrap();
    // All of them: the OS vendor's packages are described as createrepo_c describes them too.
    for p in b.all_rpms() {
        std::fs::copy(&p, theirs.path().join("Packages").join(p.file_name().unwrap())).unwrap();
        // Same file time as ours (createrepo_c records the file's mtime).
        let t = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::fs::File::options().write(true).open(theirs.path().join("Packages").join(p.file_name().unwrap())).unwrap().set_modified(t).unwrap();
    }
    let (ok, out) = sh(Command::new("createrepo_c").arg("--no-database").arg(theirs.path()));
    assert!(ok, "{out}");
    for kind in ["primary", "filelists", "other"] {
        let ours = gunzip(&md_file(&b.repo(), kind));
        let them = gunzip(&md_file(theirs.path(), kind));
        let (od, td) = (roxmltree::Document::parse(&ours).unwrap(), roxmltree::Document::parse(&them).unwrap());
        let key = |n: &roxmltree::Node| n.descendants().find(|c| c.has_tag_name("name")).and_then(|c| c.text()).or(n.attribute("name")).unwrap().to_string();
        let mut op: Vec<roxmltree::Node> = od.root_element().children().filter(|n| n.has_tag_name("package")).collect();
        let mut tp: Vec<roxmltree::Node> = td.root_element().children().filter(|n| n.has_tag_name("package")).collect();
        op.sort_by_key(key);
        tp.sort_by_key(key);
        assert_eq!(op.len(), tp.len(), "{kind}: package count");
        assert!(op.len() >= 10);
        for (a, t) in op.iter().zip(&tp) {
            let (da, dt) = (describe(*a), describe(*t));
            // Expected difference, on purpose: none. Every field createrepo_c writes, we write the same.
            assert_eq!(da, dt, "{kind}: package {} differs from createrepo_c", key(a));
        }
    }
}

#[test]
fn rpmlint_is_clean_apart_from_the_reasoned_filters() {
    require("rpmlint");
    let b = example_built();
    let rc = root().join("packaging/rpmlint/bundler.rpmlintrc");
    let (_, out) = sh(Command::new("rpmlint").arg("-r").arg(&rc).args(b.rpms()));
    assert!(out.contains(&format!("{} packages and 0 specfiles checked; 0 errors, 0 warnings", b.rpms().len())), "rpmlint:\n{out}");
    // Each filter has a reason written above it.
    let text = std::fs::read_to_string(&rc).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("addFilter")) {
        let mut j = i;
        while j > 0 && lines[j - 1].starts_with("addFilter") {
            j -= 1;
        }
        assert!(j > 0 && lines[j - 1].starts_with('#'), "filter without a reason: {l}");
    }
    // Without the filters rpmlint does find things, so this check can fail.
    let (_, raw) = sh(Command::new("rpmlint").args(b.rpms()));
    assert!(!raw.contains("0 errors, 0 warnings"), "{raw}");
}

#[test]
fn the_users_own_signing_key_is_used_and_a_non_rsa_key_refused() {
    require("gpg");
    let home = tempfile::tempdir().unwrap();
    // stdout only (gpg talks on stderr).
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                if o.status.success() { String::new() } else { String::from_utf8_lossy(&o.stderr).into_owned() }
            ),
        )
    };
    // An RSA key whose primary key signs, with no subkey: what el7 needs.
    let (ok, out) = gpg(&["--quick-gen-key", "Ops Signing <ops@example.test>", "rsa2048", "sign", "never"]);
    assert!(ok, "{out}");
    let (ok, secret) = gpg(&["--armor", "--export-secret-keys", "ops@example.test"]);
    assert!(ok, "{secret}");
    let b = Build::example();
    std::fs::write(b.p("ops.key"), &secret).unwrap();
    let r = b.build(&["--signing-key", "ops.key"]);
    r.code(0);
    let (_, fpr) = gpg(&["--with-colons", "--fingerprint", "ops@example.test"]);
    let fpr = fpr.lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_string();
    assert_eq!(r.json()["signing_key_fingerprint"], fpr);
    let (ok, public) = gpg(&["--armor", "--export", "ops@example.test"]);
    assert!(ok);
    std::fs::write(b.p("ops.pub"), &public).unwrap();
    let db = tempfile::tempdir().unwrap();
    sh(Command::new("rpmkeys").arg(format!("--dbpath={}", db.path().display())).arg("--import").arg(b.p("ops.pub")));
    let (ok, out) = sh(Command::new("rpmkeys")
        .arg(format!("--dbpath={}", db.path().display()))
        .args(["--define", "_pkgverify_level signature", "-K"])
        .arg(b.rpm("k8s-master")));
    assert!(ok, "{out}");
    run(bundler().arg("verify").arg(b.tarball()).arg("--key").arg(b.p("ops.pub"))).code(0);
    // An EdDSA key would make every package unreadable on el7: refused before anything is built.
    let (ok, out) = gpg(&["--quick-gen-key", "Ed <ed@example.test>", "ed25519", "sign", "never"]);
    assert!(ok, "{out}");
    let (_, ed) = gpg(&["--armor", "--export-secret-keys", "ed@example.test"]);
    std::fs::write(b.p("ed.key"), ed).unwrap();
    b.build(&["--signing-key", "ed.key"]).code(2).has("--signing-key ed.key: ").has("only verify RSA signatures made by the primary key");
}

/// Issue 12 item 3: with no SOURCERPM tag rpm takes a header for a source package, and the
/// repository says `<rpm:sourcerpm>(none)</rpm:sourcerpm>` for every bundle package.
#[test]
fn every_package_names_its_source_rpm_in_the_header_and_the_repodata() {
    require("rpm");
    let b = example_built();
    let primary = gunzip(&md_file(&b.repo(), "primary"));
    let doc = roxmltree::Document::parse(&primary).unwrap();
    let mut in_repo = std::collections::BTreeMap::new();
    for pkg in doc.root_element().children().filter(|n| n.has_tag_name("package")) {
        let name = pkg.descendants().find(|c| c.has_tag_name("name")).unwrap().text().unwrap().to_string();
        let src = pkg.descendants().find(|c| c.tag_name().name() == "sourcerpm").map(|c| c.text().unwrap_or("").to_string());
        in_repo.insert(name, src);
    }
    for p in b.rpms() {
        let q = rpmq(&p, &["--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{SOURCERPM}"]);
        let mut f = q.split('\t');
        let (name, vr, src) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        assert_eq!(src, format!("{name}-{vr}.src.rpm"), "{}: rpm -qp --qf %{{SOURCERPM}}", p.display());
        assert_eq!(in_repo.get(name), Some(&Some(src.to_string())), "{name}: <rpm:sourcerpm> in primary.xml");
    }
}
