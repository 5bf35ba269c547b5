//! OS packages (CentOS 7 RPMs) carried in the bundle: stand-ins built with Debian's
//! rpmbuild and signed with rpmsign as CentOS 7's are: RSAHEADER (tag 268) and PGP (tag 1002)
//! signatures, RSA/SHA256, as OpenPGP **V3** signature packets (GnuPG 1's `--force-v3-sigs`;
//! Debian's gpg2 only makes V4), by a test key playing the vendor's role, served by the local
//! test server or a file:// tree laid out as a DVD; `rpmkeys -Kv` is the oracle for the
//! signatures. What CentOS 7 packages carry is recorded, with where it was read, in
//! specs/reference/el7-vendor-signatures.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd::require;
use crate::util::{bundler, run, run_tool, Shared};

/// The packages of the default catalog, with the stand-ins' files and requirements.
pub const PACKAGES: &[(&str, &str, &str, &str, &str)] = &[
    // name, version, release, file, requires
    ("socat", "1.7.3.2", "2.el7", "/usr/bin/socat", ""),
    ("conntrack-tools", "1.4.4", "3.el7_3", "/usr/sbin/conntrack", "libnetfilter_cthelper libnetfilter_cttimeout libnetfilter_queue"),
    ("libnetfilter_cthelper", "1.0.0", "9.el7", "/usr/lib64/libnetfilter_cthelper.so.0", ""),
    ("libnetfilter_cttimeout", "1.0.0", "6.el7", "/usr/lib64/libnetfilter_cttimeout.so.1", ""),
    ("libnetfilter_queue", "1.0.2", "2.el7_2", "/usr/lib64/libnetfilter_queue.so.1", ""),
    ("ipset", "6.29", "1.el7", "/usr/sbin/ipset", "ipset-libs"),
    ("ipset-libs", "6.29", "1.el7", "/usr/lib64/libipset.so.3", ""),
];

pub struct Standins {
    pub dir: PathBuf,
    /// A tree as a CentOS mirror's os/x86_64 or a DVD: Packages/ and RPM-GPG-KEY-CentOS-7.
    pub vendor: PathBuf,
    pub fingerprint: String,
    pub other_key_id: String,
    /// socat signed (V3, as the vendor's are) by another key, and unsigned.
    pub other_socat: PathBuf,
    pub unsigned_socat: PathBuf,
    /// socat signed by the vendor key with V4 packets (what Debian's gpg2 makes): a vendor that
    /// signs V4 (a later RHEL, an operator's own mirror) is accepted too.
    pub v4_socat: PathBuf,
    /// The other key's armoured public key (its fingerprint is not the pinned one).
    pub other_key: PathBuf,
}

pub fn nevra(name: &str) -> String {
    let (_, v, r, _, _) = PACKAGES.iter().find(|p| p.0 == name).unwrap();
    format!("{name}-{v}-{r}.x86_64")
}

fn gpg(home: &Path, args: &[&str]) -> String {
    let r = run_tool(Command::new("gpg").env("GNUPGHOME", home).args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]).args(args));
    assert_eq!(r.code, 0, "gpg {args:?}: {}", r.stderr);
    r.stdout
}

fn fingerprint(home: &Path, uid: &str) -> String {
    let out = gpg(home, &["--with-colons", "--fingerprint", uid]);
    out.lines().find(|l| l.starts_with("fpr:")).and_then(|l| l.split(':').nth(9)).unwrap().to_string()
}

/// How a stand-in is signed: V3 packets by GnuPG 1 (as CentOS 7's), or V4 by Debian's gpg2.
#[derive(Clone, Copy)]
enum Packets {
    V3,
    V4,
}

/// rpmsign with `--rpmv3`: a header-only (RSAHEADER) and a header+payload (PGP) signature.
/// `home` is gpg2's home; GnuPG 1 keeps its own copy of the secret keys in `home/v1`.
fn sign(home: &Path, uid: &str, files: &[PathBuf], packets: Packets) {
    let (gpg, gpg_home) = match packets {
        Packets::V3 => ("/usr/bin/gpg1", home.join("v1")),
        Packets::V4 => ("/usr/bin/gpg", home.to_path_buf()),
    };
    let mut cmd = Command::new("rpmsign");
    cmd.env("GNUPGHOME", &gpg_home)
        .arg("--addsign")
        .arg("--rpmv3")
        .args(["--define", &format!("_gpg_name {uid}")])
        .args(["--define", &format!("_gpg_path {}", gpg_home.display())])
        .args(["--define", &format!("__gpg {gpg}")])
        // CentOS 7 signs with RSA/SHA256.
        .args(["--define", "_gpg_digest_algo sha256"]);
    if let Packets::V3 = packets {
        cmd.args(["--define", "_gpg_sign_cmd_extra_args --force-v3-sigs"]);
    }
    let r = run_tool(cmd.args(files));
    assert_eq!(r.code, 0, "rpmsign: {}{}", r.stdout, r.stderr);
}

static STANDINS: Shared<Standins> = Shared::new();

/// Built once per test process.
pub fn standins() -> &'static Standins {
    STANDINS.get(make, |s| s.dir.clone())
}

fn make() -> Standins {
    require("rpmbuild");
    require("rpmsign");
    require("gpg");
    require("gpg1");
    let dir = tempfile::Builder::new().prefix("bundler-ospkgs-").tempdir().unwrap().keep();
    let home = dir.join("g");
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let vendor_uid = "Test Vendor 7 Key <security@vendor.invalid>";
    let other_uid = "Somebody Else <other@vendor.invalid>";
    gpg(&home, &["--quick-gen-key", vendor_uid, "rsa2048", "sign", "never"]);
    gpg(&home, &["--quick-gen-key", other_uid, "rsa2048", "sign", "never"]);
    let fpr = fingerprint(&home, vendor_uid);
    let other_fpr = fingerprint(&home, other_uid);
    // GnuPG 1 (the one that still makes V3 signatures) gets a copy of both secret keys.
    let v1 = home.join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    std::fs::set_permissions(&v1, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = dir.join("secret.asc");
    std::fs::write(&secret, gpg(&home, &["--armor", "--export-secret-keys"])).unwrap();
    let r = run_tool(Command::new("gpg1").args(["--homedir"]).arg(&v1).args(["--batch", "--import"]).arg(&secret));
    assert_eq!(r.code, 0, "gpg1 --import: {}", r.stderr);
    std::fs::remove_file(&secret).unwrap();

    let top = dir.join("rpmbuild");
    let mut built = Vec::new();
    for (name, version, release, file, requires) in PACKAGES {
        let spec = dir.join(format!("{name}.spec"));
        let req = if requires.is_empty() { String::new() } else { format!("Requires: {requires}\n") };
        let parent = Path::new(file).parent().unwrap().display().to_string();
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: stand-in for CentOS 7's {name}\nLicense: GPLv2\nURL: http://vendor.invalid/\nAutoReqProv: no\n{req}\n%description\nA test stand-in for the vendor package {name}.\n\n%install\nmkdir -p %{{buildroot}}{parent}\nprintf '#!/bin/sh\\necho {name} stand-in\\n' > %{{buildroot}}{file}\nchmod 755 %{{buildroot}}{file}\n\n%files\n{file}\n"
            ),
        )
        .unwrap();
        let r = run_tool(
            Command::new("rpmbuild")
                .arg("-bb")
                .args(["--define", &format!("_topdir {}", top.display())])
                .args(["--define", "_binary_payload w9.gzdio"])
                .args(["--define", "debug_package %{nil}"])
                .args(["--define", "__os_install_post %{nil}"])
                .args(["--define", "_build_id_links none"])
                .args(["--target", "x86_64"])
                .arg(&spec),
        );
        assert_eq!(r.code, 0, "rpmbuild {name}: {}{}", r.stdout, r.stderr);
        built.push(top.join("RPMS/x86_64").join(format!("{name}-{version}-{release}.x86_64.rpm")));
    }
    let unsigned = dir.join("unsigned");
    let other = dir.join("other");
    let v4 = dir.join("v4");
    let vendor = dir.join("vendor");
    for d in [&unsigned, &other, &v4, &vendor.join("Packages")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let socat = format!("{}.rpm", nevra("socat"));
    std::fs::copy(&built[0], unsigned.join(&socat)).unwrap();
    std::fs::copy(&built[0], other.join(&socat)).unwrap();
    sign(&home, other_uid, &[other.join(&socat)], Packets::V3);
    std::fs::copy(&built[0], v4.join(&socat)).unwrap();
    sign(&home, vendor_uid, &[v4.join(&socat)], Packets::V4);
    let vendor_files: Vec<PathBuf> = built
        .iter()
        .map(|b| {
            let dst = vendor.join("Packages").join(b.file_name().unwrap());
            std::fs::copy(b, &dst).unwrap();
            dst
        })
        .collect();
    sign(&home, vendor_uid, &vendor_files, Packets::V3);
    std::fs::write(vendor.join("RPM-GPG-KEY-CentOS-7"), gpg(&home, &["--armor", "--export", vendor_uid])).unwrap();
    let other_key = dir.join("other.asc");
    std::fs::write(&other_key, gpg(&home, &["--armor", "--export", other_uid])).unwrap();
    let _ = Command::new("gpgconf").env("GNUPGHOME", &home).args(["--kill", "all"]).status();
    Standins {
        vendor,
        fingerprint: fpr,
        other_key_id: other_fpr[24..].to_string(),
        other_socat: other.join(&socat),
        unsigned_socat: unsigned.join(&socat),
        v4_socat: v4.join(&socat),
        other_key,
        dir,
    }
}

/// Catalog entries for the stand-ins under `base` (a URL of a tree holding Packages/ and
/// the key), pinning the test vendor key's fingerprint.
pub fn catalog(base: &str, fingerprint: &str) -> String {
    let mut s = format!("os_key:\n  name: RPM-GPG-KEY-CentOS-7\n  url: {base}/RPM-GPG-KEY-CentOS-7\n  fingerprint: \"{fingerprint}\"\nos_packages:\n");
    for (name, ..) in PACKAGES {
        let n = nevra(name);
        let req = if matches!(*name, "socat" | "conntrack-tools" | "ipset") { "    required_by: [k8s-node]\n" } else { "" };
        s.push_str(&format!("  - name: {name}\n    nevra: {n}\n    urls: [\"{base}/Packages/{n}.rpm\"]\n    license: GPL-2.0-only\n{req}"));
    }
    s
}

/// The stand-ins as a `file://` tree, for every fixture catalog (no test reaches a real mirror).
pub fn fixture_catalog() -> String {
    let s = standins();
    catalog(&format!("file://{}", s.vendor.display()), &s.fingerprint)
}

/// A build folder whose OS packages come from the test server, laid out as the vault.
fn http_build(server_path: &str) -> crate::packages::Build {
    let s = standins();
    let b = crate::packages::Build::example();
    for e in std::fs::read_dir(s.vendor.join("Packages")).unwrap() {
        let e = e.unwrap();
        b._server.put(&format!("{server_path}/Packages/{}", e.file_name().to_string_lossy()), std::fs::read(e.path()).unwrap());
    }
    b._server.put(&format!("{server_path}/RPM-GPG-KEY-CentOS-7"), std::fs::read(s.vendor.join("RPM-GPG-KEY-CentOS-7")).unwrap());
    let text = std::fs::read_to_string(b.p("catalog.yaml")).unwrap();
    let text = text.replace(&format!("file://{}", s.vendor.display()), &format!("{}{server_path}", b._server.base));
    std::fs::write(b.p("catalog.yaml"), text).unwrap();
    b
}

fn rpmkeys_ok(key: &Path, rpm: &Path) -> (bool, String) {
    require("rpmkeys");
    let db = tempfile::tempdir().unwrap();
    let r = run_tool(Command::new("rpmkeys").arg(format!("--dbpath={}", db.path().display())).arg("--import").arg(key));
    assert_eq!(r.code, 0, "rpmkeys --import: {}", r.stderr);
    let r = run_tool(Command::new("rpmkeys").arg(format!("--dbpath={}", db.path().display())).arg("-Kv").arg(rpm));
    (r.code == 0 && r.stdout.contains("Signature, key ID") && !r.stdout.contains("NOKEY") && !r.stdout.contains("BAD"), format!("{}{}", r.stdout, r.stderr))
}

#[test]
fn the_stand_ins_are_signed_as_the_vendor_signs_and_rpmkeys_agrees() {
    let s = standins();
    let key = s.vendor.join("RPM-GPG-KEY-CentOS-7");
    let socat = s.vendor.join("Packages").join(format!("{}.rpm", nevra("socat")));
    // The oracle: rpm's own check, with the vendor key and with the other key. CentOS 7's
    // packages show "Header V3 RSA/SHA256 Signature" (RSAHEADER) and "V3 RSA/SHA256 Signature"
    // (PGP) under rpm -Kv (specs/reference/el7-vendor-signatures.md); so do the stand-ins.
    let (ok, out) = rpmkeys_ok(&key, &socat);
    assert!(ok, "{out}");
    assert!(out.contains("Header V3 RSA/SHA256 Signature") && out.contains("\n    V3 RSA/SHA256 Signature"), "V3 header and header+payload signatures: {out}");
    assert!(!rpmkeys_ok(&key, &s.other_socat).0 && !rpmkeys_ok(&key, &s.unsigned_socat).0);
    let (ok, out) = rpmkeys_ok(&key, &s.v4_socat);
    assert!(ok && out.contains("Header V4 RSA/SHA256 Signature"), "{out}");
    // bundler's check agrees with rpmkeys on all of them, and says which packets it checked.
    let text = std::fs::read_to_string(&key).unwrap();
    let lines = bundler::rpmfile::verify_vendor_signature(&socat, &text).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("RSAHEADER v3 SHA256 key id ") && lines[1].starts_with("PGP v3 SHA256 key id "), "{lines:?}");
    let lines = bundler::rpmfile::verify_vendor_signature(&s.v4_socat, &text).unwrap();
    assert!(lines[0].starts_with("RSAHEADER v4 SHA256") && lines[1].starts_with("PGP v4 SHA256"), "{lines:?}");
    let e = bundler::rpmfile::verify_vendor_signature(&s.other_socat, &text).unwrap_err();
    assert!(e.contains(&s.other_key_id) && e.contains("not the pinned key"), "{e}");
    let e = bundler::rpmfile::verify_vendor_signature(&s.unsigned_socat, &text).unwrap_err();
    assert!(e.contains("not signed"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let altered = |at: usize, name: &str| {
        let p = dir.path().join(name);
        let mut bytes = std::fs::read(&socat).unwrap();
        bytes[at] ^= 0x55;
        std::fs::write(&p, &bytes).unwrap();
        p
    };
    // A payload altered after signing: the header signature still verifies, the PGP one must not.
    let n = std::fs::metadata(&socat).unwrap().len() as usize;
    let bad = altered(n - 20, "payload.rpm");
    assert!(!rpmkeys_ok(&key, &bad).0);
    let e = bundler::rpmfile::verify_vendor_signature(&bad, &text).unwrap_err();
    assert!(e.contains("PGP") && e.contains("does not verify") && !e.contains("RSAHEADER"), "{e}");
    // A header altered (a byte of its summary): both signatures fail.
    let bytes = std::fs::read(&socat).unwrap();
    let at = bytes.windows(9).position(|w| w == b"stand-in ").unwrap();
    let bad = altered(at, "header.rpm");
    assert!(!rpmkeys_ok(&key, &bad).0);
    let e = bundler::rpmfile::verify_vendor_signature(&bad, &text).unwrap_err();
    assert!(e.contains("its RSAHEADER signature by key id") && e.contains("its PGP signature by key id") && e.contains("the package was altered"), "{e}");
}

#[test]
fn the_bundle_carries_the_vendor_packages_unchanged_and_dnf_installs_them_with_the_node_role() {
    let s = standins();
    let path = "/centos/7.4.1708/os/x86_64";
    let b = http_build(path);
    let plan = run(bundler().current_dir(b.dir.path()).args(["plan", "--json", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"]));
    plan.code(0);
    let doc = plan.json();
    let listed: Vec<&str> = doc["os_packages"].as_array().unwrap().iter().map(|p| p["nevra"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), PACKAGES.len(), "{listed:?}");
    let node = doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == "k8s-node").unwrap();
    for r in ["socat", "conntrack-tools", "ipset"] {
        assert!(node["requires"].as_array().unwrap().iter().any(|x| x == r), "k8s-node requires {r}: {node}");
    }
    assert_eq!(doc["os_key"]["fingerprint"], s.fingerprint.as_str());

    let r = b.build(&[]);
    r.code(0);
    for (name, ..) in PACKAGES {
        let file = format!("{}.rpm", nevra(name));
        let got = std::fs::read(b.repo().join("Packages").join(&file)).unwrap_or_else(|e| panic!("{file} in the bundle's repository: {e}"));
        assert_eq!(got, std::fs::read(s.vendor.join("Packages").join(&file)).unwrap(), "{file} carried unchanged");
        assert!(!b._server.requests_for(&format!("{path}/Packages/{file}")).is_empty(), "{file} fetched from the server");
        let (ok, out) = rpmkeys_ok(&b.repo().join("RPM-GPG-KEY-CentOS-7"), &b.repo().join("Packages").join(&file));
        assert!(ok, "rpmkeys -K on the bundled {file}: {out}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(b.bundle().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["os_packages"].as_array().unwrap().len(), PACKAGES.len());
    assert_eq!(manifest["os_key"]["fingerprint"], s.fingerprint.as_str());
    let sbom = std::fs::read_to_string(b.bundle().join("sbom.spdx.json")).unwrap();
    assert!(sbom.contains("SPDXRef-OS-RPM-conntrack-tools") && sbom.contains(&format!("{}.rpm", nevra("ipset-libs"))), "SBOM lists the OS packages");
    let repo_path = std::fs::read_dir(b.bundle()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "repo")).unwrap();
    let repo_file = std::fs::read_to_string(repo_path).unwrap();
    assert!(repo_file.contains("/RPM-GPG-KEY-CentOS-7"), "the .repo trusts the vendor key: {repo_file}");
    run(bundler().arg("verify").arg(b.tarball())).code(0);

    // dnf, gpgcheck on, into an empty root: the node role pulls the vendor packages in.
    let root = crate::dnf::Root::new(Some("node01"));
    let (ok, out) = root.dnf(&b.repo(), &["install", "k8s-node"]);
    assert!(ok, "dnf install k8s-node:\n{out}");
    let inst = root.installed();
    for (name, ..) in PACKAGES {
        assert!(inst.contains(&name.to_string()), "{name} installed: {inst:?}");
    }
    assert!(root.root().join("usr/sbin/conntrack").exists() && root.root().join("usr/bin/socat").exists());

    // Cached under the key and NEVRA: a second build needs no server.
    let before = b._server.log().len();
    b.build(&["--offline"]).code(0);
    assert_eq!(b._server.log().len(), before, "offline rebuild made no request");
}

fn refused(replace: &Path, what: &[&str]) {
    let s = standins();
    let b = http_build("/os");
    // socat is served from the server as `replace` (signed by another key, or unsigned).
    b._server.put(&format!("/os/Packages/{}.rpm", nevra("socat")), std::fs::read(replace).unwrap());
    let r = b.build(&[]);
    r.code(2);
    let err = &r.stderr;
    assert!(err.contains(&nevra("socat")) && what.iter().all(|w| err.contains(w)), "{what:?}: {err}");
    assert!(err.contains(&s.fingerprint) && err.contains(&s.fingerprint[24..]), "names the pinned key: {err}");
    assert!(err.contains("help:") && err.contains("--os-mirror"), "says what to do: {err}");
    assert!(!b.p("out").exists() || std::fs::read_dir(b.p("out")).unwrap().next().is_none(), "nothing written");
    let cached = b.p("cache/os").join(&s.fingerprint).join(format!("{}.rpm", nevra("socat")));
    assert!(!cached.exists(), "nothing cached");
    let leftovers: Vec<_> = std::fs::read_dir(b.p("cache/os").join(&s.fingerprint))
        .map(|d| d.map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().contains("socat")).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_package_signed_by_another_key_is_refused() {
    refused(&standins().other_socat, &[&standins().other_key_id, "not the pinned key"]);
}

#[test]
fn an_unsigned_package_is_refused() {
    refused(&standins().unsigned_socat, &["not signed"]);
}

#[test]
fn a_vendor_package_altered_after_signing_is_refused() {
    // The vendor's own V3-signed socat with one payload byte changed on the way.
    let s = standins();
    let mut bytes = std::fs::read(s.vendor.join("Packages").join(format!("{}.rpm", nevra("socat")))).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("socat.rpm");
    std::fs::write(&bad, &bytes).unwrap();
    refused(&bad, &["its PGP signature by key id", "does not verify: the package was altered"]);
}

#[test]
fn a_vendor_key_with_another_fingerprint_is_refused() {
    let s = standins();
    let b = http_build("/os");
    b._server.put("/os/RPM-GPG-KEY-CentOS-7", std::fs::read(&s.other_key).unwrap());
    let r = b.build(&[]);
    r.code(2);
    assert!(r.stderr.contains("RPM-GPG-KEY-CentOS-7") && r.stderr.contains(&s.fingerprint) && r.stderr.contains(&s.other_key_id), "{}", r.stderr);
    assert!(!b.p("cache/os/keys").join(format!("{}.asc", s.fingerprint)).exists());
}

#[test]
fn an_operators_dvd_tree_is_used_with_os_mirror_and_fetch_exports_the_packages() {
    let s = standins();
    let b = http_build("/nothing-here");
    // The catalog's URLs answer 404; the DVD (a file:// tree with Packages/ and the key) has them.
    let r = b.build(&["--os-mirror", &format!("file://{}", s.vendor.display())]);
    r.code(0);
    for (name, ..) in PACKAGES {
        assert!(b.repo().join("Packages").join(format!("{}.rpm", nevra(name))).exists());
    }
    let export = b.p("export");
    let f = run(bundler().current_dir(b.dir.path()).args([
        "fetch",
        "--json",
        "--inventory",
        "hosts.yaml",
        "--catalog",
        "catalog.yaml",
        "--cache",
        "cache",
        "--export",
        "export",
    ]));
    f.code(0);
    let sums = std::fs::read_to_string(export.join("SHA256SUMS")).unwrap();
    for (name, ..) in PACKAGES {
        assert!(sums.contains(&format!("{}.rpm", nevra(name))), "{sums}");
    }
    assert!(sums.contains("RPM-GPG-KEY-CentOS-7"));
    // The exported folder is a mirror for a fresh cache, with no server and no --os-mirror.
    let g = run(bundler()
        .current_dir(b.dir.path())
        .args(["fetch", "--json", "--offline", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml", "--cache", "cache2", "--mirror"])
        .arg(format!("file://{}", export.display())));
    g.code(0);
    assert_eq!(g.json()["os_packages"]["packages"].as_array().unwrap().len(), PACKAGES.len());
}

#[test]
fn a_catalog_with_a_bad_fingerprint_or_nevra_is_refused_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog.yaml");
    let inv = crate::util::root().join("examples/hosts.yaml");
    let plan = |text: &str| {
        std::fs::write(&cat, text).unwrap();
        run(bundler().args(["plan", "--inventory"]).arg(&inv).arg("--catalog").arg(&cat))
    };
    let r = plan("artifacts: []\nos_key:\n  name: K\n  url: http://x.invalid/K\n  fingerprint: \"F4A80EB5\"\n");
    r.code(2);
    assert!(r.stderr.contains("catalog.yaml") && r.stderr.contains("F4A80EB5") && r.stderr.contains("40 hex digits"), "{}", r.stderr);
    let r = plan("artifacts: []\nos_packages:\n  - name: socat\n    nevra: socat.rpm\n    urls: [\"http://x.invalid/socat.rpm\"]\n");
    r.code(2);
    assert!(r.stderr.contains("socat-VERSION-RELEASE.ARCH"), "{}", r.stderr);
}

#[test]
fn verify_refuses_a_bundle_whose_os_package_was_altered() {
    let b = http_build("/os");
    b.build(&[]).code(0);
    let dir = b.bundle();
    let p = dir.join("repo/Packages").join(format!("{}.rpm", nevra("socat")));
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0x55;
    std::fs::write(&p, &bytes).unwrap();
    let r = run(bundler().arg("verify").arg(&dir));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Caught from the signed root down: the signed repository metadata no longer matches it.
    assert!(r.stderr.contains(&format!("repo/Packages/{}.rpm: repository metadata: sha256", nevra("socat"))), "{}", r.stderr);
}

#[test]
fn bundler_cache_lists_and_prunes_the_os_packages() {
    let s = standins();
    let b = http_build("/os");
    b.build(&[]).code(0);
    let cache = b.p("cache");
    let os_dir = cache.join("os").join(&s.fingerprint);
    // Left by earlier builds: an older socat build and another vendor's key, which no recorded build used.
    let stale = os_dir.join("socat-1.7.3.2-1.el7.x86_64.rpm");
    std::fs::copy(os_dir.join(format!("{}.rpm", nevra("socat"))), &stale).unwrap();
    let other_key = cache.join("os/keys/0000000000000000000000000000000000000000.asc");
    std::fs::copy(&s.other_key, &other_key).unwrap();

    let r = run(bundler().args(["--json", "cache", "--cache"]).arg(&cache));
    r.code(0);
    let d = r.json();
    let entries = d["entries"].as_array().unwrap();
    let entry = |p: &str| entries.iter().find(|e| e["path"] == p).unwrap_or_else(|| panic!("{p} not listed: {d}"));
    for (name, ..) in PACKAGES {
        let e = entry(&format!("os/{}/{}.rpm", s.fingerprint, nevra(name)));
        assert!(e["used_by_records"] == 1 && e["what"].as_str().unwrap().contains(&nevra(name)) && e["bytes"].as_u64().unwrap() > 0, "{e}");
    }
    let key = entry(&format!("os/keys/{}.asc", s.fingerprint));
    assert_eq!(key["used_by_records"], 1, "{key}");
    assert_eq!(entry(&format!("os/{}/socat-1.7.3.2-1.el7.x86_64.rpm", s.fingerprint))["used_by_records"], 0);
    assert!(d["os_bytes"].as_u64().unwrap() > 0, "{d}");
    let r = run(bundler().args(["cache", "--cache"]).arg(&cache));
    r.code(0);
    assert!(r.stdout.contains(&format!("os packages {} file(s)", PACKAGES.len() + 1)), "{}", r.stdout);

    // prune removes what no recorded build used, and keeps what the newest did.
    let r = run(bundler().args(["--json", "cache", "prune", "--keep", "1", "--cache"]).arg(&cache));
    r.code(0);
    let mut removed: Vec<String> = r.json()["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    removed.sort();
    let mut want = vec!["os/keys/0000000000000000000000000000000000000000.asc".to_string(), format!("os/{}/socat-1.7.3.2-1.el7.x86_64.rpm", s.fingerprint)];
    want.sort();
    assert_eq!(removed, want);
    assert!(!stale.exists() && !other_key.exists());
    // What the build used is still there: it rebuilds offline from the cache alone.
    let before = b._server.log().len();
    b.build(&["--offline"]).code(0);
    assert_eq!(b._server.log().len(), before, "offline rebuild made no request");
}
