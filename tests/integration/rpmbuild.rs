//! bundler's RPM writer against the real `rpmbuild`, tag by tag, the way rpm-rs checks its
//! own builder (rpm-rs/rpm tests/compare.rs): one package described to both, every tag
//! `rpm --querytags` knows read back with `rpm -qp --qf`, and the differences we mean listed
//! with their reasons. Any other difference fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bundler::rpm::{Content, DirEntry, FileEntry, PackageSpec};

use crate::util::{require, run_tool};

/// 2023-11-14 12:00:00 UTC: rpmbuild keeps only the day of a %changelog entry and stores it
/// at noon (build/parseChangelog.c `dateToTimet`), so a noon time lets the two agree.
const TIME: u64 = 1_699_963_200;
const CONF: &str = "key = value\n";
const TOOL: &str = "#!/bin/sh\necho compare\n";
const PRE: &str = "getent group compare >/dev/null || :";
const POST: &str = "echo installed >/dev/null";
const PRETRANS: &str = "echo checked >/dev/null";

/// Tags allowed to differ, and why. Everything else `rpm --querytags` lists must be equal,
/// and every tag here must differ (so the list cannot hide a change).
const EXPECTED_DIFFERENCES: &[(&str, &str)] = &[
    // Who wrote the header.
    ("RPMVERSION", "bundler records 4.11.3, the rpm of CentOS 7 whose format it writes; rpmbuild its own version"),
    ("OPTFLAGS", "rpmbuild's compiler flags; bundler compiles nothing"),
    ("PLATFORM", "rpmbuild's target platform string (noarch-debian-linux); rpm 4.11 does not read it back"),
    ("ENCODING", "rpm >= 4.16 declares utf-8; rpm 4.11 does not know the tag"),
    // rpm >= 4.14 adds a digest of the compressed payload, which rpm 4.11 ignores; bundler
    // writes gzip members compressed in parallel, so its compressed bytes differ anyway.
    ("PAYLOADDIGEST", "rpm >= 4.14 only; the compressed bytes differ"),
    ("PAYLOADDIGESTALGO", "rpm >= 4.14 only"),
    ("PAYLOADDIGESTALT", "rpm >= 4.16 only"),
    // Digests and signatures over bytes that differ (the tags above, the compressed payload);
    // bundler signs its packages, rpmbuild without --sign does not.
    ("SIGMD5", "MD5 of header and payload"),
    ("PKGID", "the same MD5, as rpm names it for queries"),
    ("SHA1HEADER", "SHA1 of the header"),
    ("HDRID", "the same SHA1, as rpm names it for queries"),
    ("SHA256HEADER", "SHA256 of the header"),
    ("SIGSIZE", "size of header and compressed payload"),
    ("LONGSIGSIZE", "the same, 64-bit"),
    ("RSAHEADER", "bundler's RSA signature of the header; rpmbuild's package is unsigned"),
    ("SIGPGP", "bundler's RSA signature of header and payload; rpmbuild's package is unsigned"),
    ("HEADERIMMUTABLE", "the header region itself, holding all of the above"),
    // rpmbuild classifies each file with libmagic and records classes and multilib colours;
    // rpm 4.11 uses colours only to resolve multilib file conflicts, which noarch packages and
    // the single-arch binaries bundler packages never have.
    ("CLASSDICT", "libmagic file classes"),
    ("FILECLASS", "index into CLASSDICT per file"),
    ("FILECOLORS", "multilib colour per file"),
];

/// The package as bundler describes it.
fn spec() -> PackageSpec {
    let file = |path: &str, body: &str, mode: u32, config: bool| FileEntry {
        path: path.into(),
        content: Content::Bytes(body.as_bytes().to_vec()),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())),
        mode,
        user: "root".into(),
        group: "root".into(),
        config,
        ghost: false,
    };
    PackageSpec {
        name: "bundler-compare".into(),
        kind: bundler::specs::PackageKind::Config,
        version: bundler::names::RpmVersion::parse("1.0").unwrap(),
        release: 1,
        arch: bundler::rpm::Arch::Noarch,
        summary: "Compare bundler's RPM writer with rpmbuild".into(),
        description: "One package written by bundler and by rpmbuild.".into(),
        license: "ASL 2.0".into(),
        requires: vec![bundler::rpm::Dep { name: "/bin/sh".into(), exact: None, when: bundler::rpm::When::Pre }],
        conflicts: vec!["etcd".into()],
        files: vec![
            file("/etc/compare/app.conf", CONF, 0o644, true),
            // Written on the host, owned by the package: `%ghost %config(noreplace)`.
            FileEntry { sha256: String::new(), ghost: true, ..file("/etc/compare/host.env", "", 0o644, true) },
            file("/usr/bin/compare-tool", TOOL, 0o755, false),
        ],
        dirs: vec![DirEntry { path: "/etc/compare".into(), mode: 0o755, user: "root".into(), group: "root".into() }],
        pretrans: Some(PRETRANS.into()),
        pre: Some(PRE.into()),
        post: Some(POST.into()),
        preun: None,
        postun: None,
        build_time: TIME,
        origin_digest: None,
        origin_tarball: None,
    }
}

/// The same package as a spec file.
fn spec_file() -> String {
    format!(
        r#"Name: bundler-compare
Version: 1.0
Release: 1.el7
Summary: Compare bundler's RPM writer with rpmbuild
License: ASL 2.0
URL: https://kubernetes.io
Vendor: bundler
Packager: bundler <bundler@localhost>
Group: System Environment/Base
BuildArch: noarch
Requires(pre): /bin/sh
Conflicts: etcd
AutoReqProv: no

%description
One package written by bundler and by rpmbuild.

%install
mkdir -p %{{buildroot}}/etc/compare %{{buildroot}}/usr/bin
printf '%s' '{CONF}' > %{{buildroot}}/etc/compare/app.conf
printf '%s' '{TOOL}' > %{{buildroot}}/usr/bin/compare-tool

%pretrans
{PRETRANS}

%pre
{PRE}

%post
{POST}

%files
%dir %attr(0755,root,root) /etc/compare
%config(noreplace) %attr(0644,root,root) /etc/compare/app.conf
%ghost %config(noreplace) %attr(0644,root,root) /etc/compare/host.env
%attr(0755,root,root) /usr/bin/compare-tool

%changelog
* Tue Nov 14 2023 bundler <bundler@localhost> - 1.0-1.el7
- bundler-compare 1.0-1.el7 built by bundler
"#
    )
}

fn rpmbuild(dir: &Path) -> std::path::PathBuf {
    require("rpmbuild");
    let top = dir.join("rpmbuild");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/bundler-compare.spec");
    std::fs::write(&spec, spec_file()).unwrap();
    let mut c = Command::new("rpmbuild");
    c.env("TZ", "UTC").env("SOURCE_DATE_EPOCH", TIME.to_string()).env("HOME", dir);
    for d in [
        format!("_topdir {}", top.display()),
        "_buildhost bundler".into(),
        // What bundler writes for el7: gzip level 6, SHA-256 file digests.
        "_binary_payload w6.gzdio".into(),
        "_binary_filedigest_algorithm 8".into(),
        // Reproducible: build time and file times from SOURCE_DATE_EPOCH.
        "use_source_date_epoch_as_buildtime 1".into(),
        "clamp_mtime_to_source_date_epoch 1".into(),
        // No post-install scripts rewriting the files, no build-id links, no debuginfo.
        "__os_install_post %{nil}".into(),
        "_build_id_links none".into(),
        "debug_package %{nil}".into(),
    ] {
        c.arg("--define").arg(d);
    }
    let r = run_tool(c.arg("-bb").arg(&spec));
    assert_eq!(r.code, 0, "rpmbuild:\n{}{}", r.stdout, r.stderr);
    top.join("RPMS/noarch/bundler-compare-1.0-1.el7.noarch.rpm")
}

/// Every tag rpm knows, read from one package: tag → its values, one per line.
fn tags(p: &Path, names: &[String]) -> BTreeMap<String, String> {
    let mut fmt = String::new();
    for n in names {
        // Arrays one element a line; a tag the package lacks prints nothing.
        fmt.push_str(&format!("@@{n}\n[%{{{n}}}\n]"));
    }
    let r = run_tool(Command::new("rpm").args(["-qp", "--nosignature", "--nodigest", "--qf"]).arg(&fmt).arg(p));
    assert_eq!(r.code, 0, "rpm -qp {}: {}", p.display(), r.stderr);
    let mut out = BTreeMap::new();
    for chunk in r.stdout.split("@@").skip(1) {
        let (name, rest) = chunk.split_once('\n').unwrap();
        out.insert(name.to_string(), rest.to_string());
    }
    out
}

#[test]
fn one_package_tag_by_tag_against_rpmbuild() {
    require("rpm");
    let dir = tempfile::tempdir().unwrap();
    let theirs = rpmbuild(dir.path());
    let key = bundler::signing::SigningKey::load_or_create(&dir.path().join("state"), None, "compare").unwrap();
    let ours = dir.path().join("bundler-compare-1.0-1.el7.noarch.rpm");
    bundler::rpm::write_one(&spec(), &ours, &key).unwrap();

    let listed = run_tool(Command::new("rpm").arg("--querytags"));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let names: Vec<String> = listed.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    assert!(names.len() > 150, "rpm --querytags: {names:?}");
    let (a, b) = (tags(&ours, &names), tags(&theirs, &names));

    let allowed: BTreeMap<&str, &str> = EXPECTED_DIFFERENCES.iter().copied().collect();
    let mut unexpected = Vec::new();
    let mut equal = 0;
    for n in &names {
        let (x, y) = (&a[n], &b[n]);
        if x == y {
            equal += 1;
        } else if !allowed.contains_key(n.as_str()) {
            unexpected.push(format!("{n}:\n  bundler:  {x:?}\n  rpmbuild: {y:?}"));
        }
    }
    assert!(unexpected.is_empty(), "tags that differ from rpmbuild's and are not in EXPECTED_DIFFERENCES:\n{}", unexpected.join("\n"));
    // The list holds only differences that happen, so it cannot hide a tag that changed.
    let stale: Vec<&str> = EXPECTED_DIFFERENCES.iter().map(|d| d.0).filter(|n| names.iter().any(|x| x == n) && a[*n] == b[*n]).collect();
    let unknown: Vec<&str> = EXPECTED_DIFFERENCES.iter().map(|d| d.0).filter(|n| !names.iter().any(|x| x == n)).collect();
    assert!(stale.is_empty() && unknown.is_empty(), "EXPECTED_DIFFERENCES lists tags that do not differ: {stale:?}, or that rpm does not know: {unknown:?}");
    // The comparison compares something: the tags that carry the package agree and are set.
    for n in [
        "NAME",
        "VERSION",
        "RELEASE",
        "ARCH",
        "FILENAMES",
        "FILEMODES",
        "FILEDIGESTS",
        "FILEFLAGS",
        "PROVIDES",
        "CONFLICTS",
        "PREIN",
        "POSTIN",
        "CHANGELOGTEXT",
    ] {
        assert!(!a[n].is_empty() && a[n] == b[n], "{n}: bundler {:?}, rpmbuild {:?}", a[n], b[n]);
    }
    assert!(equal > 100, "{equal} tags equal");
    // Requirements, read as rpm lists them: the same (rpmbuild adds no rpmlib() feature of a
    // newer rpm for this package, and AutoReqProv is off).
    let reqs = |p: &Path| -> Vec<String> {
        let r = run_tool(Command::new("rpm").args(["-qp", "--nosignature", "--requires"]).arg(p));
        r.stdout.lines().map(str::to_string).collect()
    };
    let (ra, rb) = (reqs(&ours), reqs(&theirs));
    assert_eq!(ra, rb, "requirements");
    // The source package: rpmbuild names the spec's, bundler the package's own, the same here.
    assert_eq!(a["SOURCERPM"].trim(), "bundler-compare-1.0-1.el7.src.rpm");
    assert_eq!(a["SOURCERPM"], b["SOURCERPM"], "same name for a spec named after the package");
}
