//! The yum repository, written by bundler itself: repodata as yum 3.4.3 reads it (gzip XML,
//! sha256 everywhere, checksum-named files), `repomd.xml.asc` signed with the cluster key,
//! the public key and a `.repo` file beside it. No createrepo at build time.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::rpmfile::{read_info, RpmDep, RpmInfo};
use crate::signing::SigningKey;

use crate::names::KEY_FILE;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Repo {
    pub dir: PathBuf,
    pub repomd_sha256: String,
    pub packages: Vec<(String, String)>,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            _ => o.push(c),
        }
    }
    o
}

/// Files yum needs in primary.xml: under /etc, paths with `bin/`, and /usr/lib/sendmail.
fn primary_file(p: &str) -> bool {
    p.starts_with("/etc/") || p.contains("bin/") || p == "/usr/lib/sendmail"
}

fn entries(out: &mut String, tag: &str, deps: &[RpmDep], skip: impl Fn(&RpmDep) -> bool) {
    // A duplicate is skipped when it equals the last entry kept with its name, as createrepo_c
    // does (so `/bin/sh` of %pretrans, of Requires(pre) and of %preun make three entries).
    let mut seen: Vec<&RpmDep> = Vec::new();
    for d in deps {
        let last = seen.iter().rev().find(|x| x.name == d.name);
        if skip(d) || last.is_some_and(|x| x.flags == d.flags && x.version == d.version && x.release == d.release && x.pre == d.pre) {
            continue;
        }
        seen.push(d);
    }
    if seen.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{tag}>");
    for d in seen {
        let _ = write!(out, "      <rpm:entry name=\"{}\"", esc(&d.name));
        if !d.flags.is_empty() {
            let _ = write!(out, " flags=\"{}\" epoch=\"{}\" ver=\"{}\"", d.flags, if d.epoch.is_empty() { "0" } else { &d.epoch }, esc(&d.version));
            if !d.release.is_empty() {
                let _ = write!(out, " rel=\"{}\"", esc(&d.release));
            }
        }
        if d.pre && tag == "requires" {
            out.push_str(" pre=\"1\"");
        }
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "    </rpm:{tag}>");
}

struct Pkg {
    info: RpmInfo,
    sha256: String,
    size: u64,
    href: String,
    mtime: u64,
}

fn primary(pkgs: &[Pkg]) -> String {
    let mut o = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        pkgs.len()
    );
    for p in pkgs {
        let i = &p.info;
        let _ = write!(
            o,
            "<package type=\"rpm\">\n  <name>{}</name>\n  <arch>{}</arch>\n  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>\n  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>\n  <summary>{}</summary>\n  <description>{}</description>\n  <packager>{}</packager>\n  <url>{}</url>\n  <time file=\"{}\" build=\"{}\"/>\n  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>\n  <location href=\"{}\"/>\n  <format>\n    <rpm:license>{}</rpm:license>\n    <rpm:vendor>{}</rpm:vendor>\n    <rpm:group>{}</rpm:group>\n    <rpm:buildhost>{}</rpm:buildhost>\n    <rpm:sourcerpm>{}</rpm:sourcerpm>\n    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
            esc(&i.name), esc(&i.arch), i.epoch, esc(&i.version), esc(&i.release), p.sha256, esc(&i.summary), esc(&i.description), esc(&i.packager), esc(&i.url),
            p.mtime, i.build_time, p.size, i.installed_size, i.archive_size, esc(&p.href), esc(&i.license), esc(&i.vendor), esc(&i.group), esc(&i.build_host), esc(&i.source_rpm),
            i.header_start, i.header_end
        );
        entries(&mut o, "provides", &i.provides, |_| false);
        // As createrepo_c: no rpmlib() requirements, none the package satisfies itself.
        let own_files: Vec<&str> = i.files.iter().map(|f| f.path.as_str()).collect();
        entries(&mut o, "requires", &i.requires, |d| {
            d.name.starts_with("rpmlib(")
                || own_files.contains(&d.name.as_str())
                || i.provides.iter().any(|p| p.name == d.name && p.flags == d.flags && p.version == d.version && p.release == d.release)
        });
        entries(&mut o, "conflicts", &i.conflicts, |_| false);
        entries(&mut o, "obsoletes", &i.obsoletes, |_| false);
        entries(&mut o, "suggests", &i.suggests, |_| false);
        entries(&mut o, "enhances", &i.enhances, |_| false);
        entries(&mut o, "recommends", &i.recommends, |_| false);
        entries(&mut o, "supplements", &i.supplements, |_| false);
        for f in i.files.iter().filter(|f| primary_file(&f.path)) {
            match (f.dir, f.ghost) {
                (true, _) => {
                    let _ = writeln!(o, "    <file type=\"dir\">{}</file>", esc(&f.path));
                }
                (_, true) => {
                    let _ = writeln!(o, "    <file type=\"ghost\">{}</file>", esc(&f.path));
                }
                _ => {
                    let _ = writeln!(o, "    <file>{}</file>", esc(&f.path));
                }
            }
        }
        o.push_str("  </format>\n</package>\n");
    }
    o.push_str("</metadata>\n");
    o
}

fn filelists(pkgs: &[Pkg]) -> String {
    let mut o =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n", pkgs.len());
    for p in pkgs {
        let i = &p.info;
        let _ = writeln!(
            o,
            "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">\n  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>",
            p.sha256,
            esc(&i.name),
            esc(&i.arch),
            i.epoch,
            esc(&i.version),
            esc(&i.release)
        );
        for f in &i.files {
            let t = if f.dir {
                " type=\"dir\""
            } else if f.ghost {
                " type=\"ghost\""
            } else {
                ""
            };
            let _ = writeln!(o, "  <file{t}>{}</file>", esc(&f.path));
        }
        o.push_str("</package>\n");
    }
    o.push_str("</filelists>\n");
    o
}

fn other(pkgs: &[Pkg]) -> String {
    let mut o = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{}\">\n", pkgs.len());
    for p in pkgs {
        let i = &p.info;
        let _ = writeln!(
            o,
            "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">\n  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>",
            p.sha256,
            esc(&i.name),
            esc(&i.arch),
            i.epoch,
            esc(&i.version),
            esc(&i.release)
        );
        for (author, date, text) in &i.changelog {
            let _ = writeln!(o, "  <changelog author=\"{}\" date=\"{date}\">{}</changelog>", esc(author), esc(text));
        }
        o.push_str("</package>\n");
    }
    o.push_str("</otherdata>\n");
    o
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // mtime 0 and no file name: the same XML always gives the same bytes.
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn sha(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// Write `repodata/` for the RPMs in `dir/Packages`, sign it, and put the key beside it.
/// `known`: sha256 and size of packages already hashed when they were written (by file name),
/// so they are not read again.
pub fn write(dir: &Path, key: &SigningKey, timestamp: u64, known: &std::collections::BTreeMap<String, (String, u64)>) -> Result<Repo> {
    let pkg_dir = dir.join("Packages");
    let mut names: Vec<String> = std::fs::read_dir(&pkg_dir)
        .map_err(|source| Error::Read { path: pkg_dir.clone(), source })?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    names.sort();
    let mut pkgs = Vec::new();
    for n in &names {
        let path = pkg_dir.join(n);
        let info = read_info(&path)?;
        let (sha256, size) = match known.get(n) {
            Some(k) => k.clone(),
            None => crate::digest::hash_file(&path, crate::digest::Algo::Sha256)
                .map(|(d, n)| (d.hex, n))
                .map_err(|source| Error::Read { path: path.clone(), source })?,
        };
        // The file time yum records is the repository's time, which the bundle tarball gives
        // every file, so metadata does not depend on when the file was copied (and an OS
        // vendor's package, built long before, reads the same as createrepo_c says).
        let f = std::fs::File::options().write(true).open(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(timestamp)).map_err(|source| Error::Write { path: path.clone(), source })?;
        pkgs.push(Pkg { mtime: timestamp, info, sha256, size, href: format!("Packages/{n}") });
    }
    let repodata = dir.join("repodata");
    let staging = dir.join(".repodata.tmp");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| Error::Write { path: staging.clone(), source })?;
    let mut repomd = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{timestamp}</revision>\n");
    for (kind, xml) in [("primary", primary(&pkgs)), ("filelists", filelists(&pkgs)), ("other", other(&pkgs))] {
        let gz = gzip(xml.as_bytes());
        let gz_sha = sha(&gz);
        let name = format!("{gz_sha}-{kind}.xml.gz");
        let p = staging.join(&name);
        std::fs::write(&p, &gz).map_err(|source| Error::Write { path: p.clone(), source })?;
        let _ = write!(
            repomd,
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{gz_sha}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"repodata/{name}\"/>\n    <timestamp>{timestamp}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            sha(xml.as_bytes()),
            gz.len(),
            xml.len()
        );
    }
    repomd.push_str("</repomd>\n");
    let w = |p: PathBuf, b: &[u8]| std::fs::write(&p, b).map_err(|source| Error::Write { path: p.clone(), source });
    w(staging.join("repomd.xml"), repomd.as_bytes())?;
    w(staging.join("repomd.xml.asc"), key.sign_detached(repomd.as_bytes(), timestamp)?.as_bytes())?;
    let _ = std::fs::remove_dir_all(&repodata);
    std::fs::rename(&staging, &repodata).map_err(|source| Error::Write { path: repodata.clone(), source })?;
    w(dir.join(KEY_FILE), key.public_armored.as_bytes())?;
    Ok(Repo { dir: dir.to_path_buf(), repomd_sha256: sha(repomd.as_bytes()), packages: pkgs.iter().map(|p| (p.href.clone(), p.sha256.clone())).collect() })
}
