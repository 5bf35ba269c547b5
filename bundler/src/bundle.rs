//! The bundle: one tarball holding the signed repository, the installer, the playbook, the
//! manifest, an SPDX SBOM, SHA256SUMS and an operator README; written reproducibly (sorted
//! entries, fixed owners, modes and times) and checked again by `bundler verify`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::model::Built;
use crate::model::Fetched;
use crate::plan::Plan;

#[derive(Serialize, Deserialize, Default)]
struct Record {
    release: u32,
    content: String,
}

/// The bundle's release: kept while the set of packages is unchanged, raised when it changes.
pub fn release(state: &Path, built: &[Built], plan: &Plan) -> Result<u32> {
    let p = crate::layout::state::bundle_record(state);
    let mut h = sha2::Sha256::new();
    h.update(plan.versions.kubernetes.as_bytes());
    // Package file names carry name-version-release, which change only with content; their
    // bytes also hold build times (SOURCE_DATE_EPOCH), which must not raise the release.
    for b in built {
        h.update(format!("{}\n", b.file_name).as_bytes());
    }
    let content = hex::encode(h.finalize());
    let old: Option<Record> = crate::files::read_regular_string(&p, 1 << 20).ok().and_then(|t| serde_json::from_str(&t).ok());
    let release = match old {
        Some(r) if r.content == content => return Ok(r.release),
        Some(r) => r.release + 1,
        None => 1,
    };
    crate::files::write_private(&p, serde_json::to_string_pretty(&Record { release, content }).unwrap().as_bytes())?;
    Ok(release)
}

fn sha_file(p: &Path) -> Result<String> {
    crate::digest::hash_file(p, crate::digest::Algo::Sha256).map(|(d, _)| d.hex).map_err(|source| Error::Read { path: p.to_path_buf(), source })
}

pub struct Contents<'a> {
    pub plan: &'a Plan,
    pub inventory_sha256: &'a str,
    pub fetched: &'a [Fetched],
    pub built: &'a [Built],
    pub os_packages: &'a [crate::model::FetchedOs],
    pub key_fingerprint: &'a str,
    pub stem: &'a str,
    pub time: u64,
}

pub fn manifest(c: &Contents) -> serde_json::Value {
    let p = c.plan;
    json!({
        "schema_version": 1,
        "bundle": c.stem,
        "cluster": p.bundle_name,
        "inventory": {"file": Path::new(&p.inventory).file_name().map(|f| f.to_string_lossy().into_owned()), "sha256": c.inventory_sha256},
        "versions": p.versions,
        "hosts": p.hosts,
        "signing_key_fingerprint": c.key_fingerprint,
        "artifacts": p.artifacts.iter().map(|a| {
            let f = c.fetched.iter().find(|f| f.name == a.name);
            json!({"name": a.name, "version": a.version, "url": a.url, "digest": a.digest.to_string(), "license": a.license, "trust": a.trust, "single_source": a.single_source, "bytes": f.map(|f| f.bytes)})
        }).collect::<Vec<_>>(),
        "images": p.images.iter().map(|i| json!({"name": i.name, "version": i.version, "reference": i.reference, "digest": i.digest, "license": i.license, "trust": i.trust})).collect::<Vec<_>>(),
        "os_key": p.os_key.as_ref().filter(|_| !c.os_packages.is_empty()).map(|k| json!({"name": k.name, "fingerprint": k.fingerprint, "file": format!("repo/{}", k.file_name), "url": k.url})),
        "os_packages": c.os_packages.iter().map(|o| {
            let planned = p.os_packages.iter().find(|x| x.name == o.name);
            json!({"name": o.name, "nevra": o.nevra, "file": format!("repo/Packages/{}", o.file_name), "sha256": o.sha256, "size": o.bytes, "signed_by": o.signed_by, "url": planned.and_then(|x| x.urls.first()), "license": planned.and_then(|x| x.license.clone()), "required_by": planned.map(|x| x.required_by.clone()).unwrap_or_default()})
        }).collect::<Vec<_>>(),
        "rpms": c.built.iter().map(|b| json!({"name": b.name, "version": b.version, "release": b.release, "nvr": format!("{}-{}-{}", b.name, b.version, b.release), "file": format!("repo/Packages/{}", b.file_name), "sha256": b.sha256, "size": b.size})).collect::<Vec<_>>(),
    })
}

fn spdx_id(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// An SPDX 2.3 document covering upstream binaries, RPMs and images.
pub fn sbom(c: &Contents) -> serde_json::Value {
    let p = c.plan;
    let created = time::OffsetDateTime::from_unix_timestamp(c.time as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let created = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        created.year(),
        created.month() as u8,
        created.day(),
        created.hour(),
        created.minute(),
        created.second()
    );
    let mut packages = Vec::new();
    let mut rels = Vec::new();
    let spdx_license = |l: &Option<String>| l.clone().unwrap_or_else(|| "NOASSERTION".into());
    for a in &p.artifacts {
        let id = format!("SPDXRef-Artifact-{}", spdx_id(&a.name));
        let (algo, hex) = (a.digest.algo.name(), &a.digest.hex);
        packages.push(json!({
            "SPDXID": id, "name": a.name, "versionInfo": a.version, "downloadLocation": a.url, "filesAnalyzed": false,
            "checksums": [{"algorithm": algo.to_uppercase(), "checksumValue": hex}],
            "licenseConcluded": "NOASSERTION", "licenseDeclared": spdx_license(&a.license), "copyrightText": "NOASSERTION",
            "comment": a.trust_note,
        }));
    }
    for i in &p.images {
        let id = format!("SPDXRef-Image-{}", spdx_id(&i.name));
        let (repo, tag) = i.reference.rsplit_once(':').unwrap_or((&i.reference, &i.version));
        packages.push(json!({
            "SPDXID": id, "name": i.name, "versionInfo": i.version, "downloadLocation": format!("{repo}@{}", i.digest), "filesAnalyzed": false,
            "checksums": [{"algorithm": "SHA256", "checksumValue": i.digest.trim_start_matches("sha256:")}],
            "licenseConcluded": "NOASSERTION", "licenseDeclared": spdx_license(&i.license), "copyrightText": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": format!("pkg:docker/{}@{}?tag={tag}", repo.replace(':', "%3A"), i.digest)}],
        }));
    }
    for o in c.os_packages {
        let id = format!("SPDXRef-OS-RPM-{}", spdx_id(&o.name));
        let planned = p.os_packages.iter().find(|x| x.name == o.name);
        packages.push(json!({
            "SPDXID": id, "name": o.name, "versionInfo": o.nevra.strip_prefix(&format!("{}-", o.name)).unwrap_or(&o.nevra),
            "downloadLocation": planned.and_then(|x| x.urls.first()).cloned().unwrap_or_else(|| "NOASSERTION".into()), "filesAnalyzed": false,
            "packageFileName": format!("repo/Packages/{}", o.file_name),
            "checksums": [{"algorithm": "SHA256", "checksumValue": o.sha256}],
            "licenseConcluded": "NOASSERTION", "licenseDeclared": spdx_license(&planned.and_then(|x| x.license.clone())), "copyrightText": "NOASSERTION", "supplier": "Organization: CentOS",
            "comment": planned.map(|x| x.trust_note.clone()).unwrap_or_default(),
        }));
        rels.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}));
    }
    for b in c.built {
        let id = format!("SPDXRef-RPM-{}", spdx_id(&b.name));
        packages.push(json!({
            "SPDXID": id, "name": b.name, "versionInfo": format!("{}-{}", b.version, b.release), "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
            "packageFileName": format!("repo/Packages/{}", b.file_name),
            "checksums": [{"algorithm": "SHA256", "checksumValue": b.sha256}],
            "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION", "supplier": "Organization: bundler",
        }));
        rels.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}));
        let def = p.packages.iter().find(|x| x.name == b.name);
        if let Some(a) = def.and_then(|d| d.artifact.clone()) {
            rels.push(json!({"spdxElementId": id, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": format!("SPDXRef-Artifact-{}", spdx_id(&a))}));
        }
        for img in def.map(|d| d.images.clone()).unwrap_or_default() {
            rels.push(json!({"spdxElementId": id, "relationshipType": "CONTAINS", "relatedSpdxElement": format!("SPDXRef-Image-{}", spdx_id(&img))}));
        }
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": c.stem,
        "documentNamespace": format!("https://bundler.invalid/spdx/{}-{}", c.stem, &c.inventory_sha256[..16.min(c.inventory_sha256.len())]),
        "creationInfo": {"created": created, "creators": [concat!("Tool: bundler-", env!("CARGO_PKG_VERSION"))]},
        "packages": packages,
        "relationships": rels,
    })
}

/// The detached signature over `SHA256SUMS`, made with the repository key.
pub const SUMS_SIGNATURE: &str = "SHA256SUMS.asc";

/// Every regular file under `dir`, relative, sorted.
fn walk(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|source| Error::Read { path: d.clone(), source })? {
            let e = e.map_err(|source| Error::Read { path: d.clone(), source })?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The bundle stage: beside the repository already in `dir/repo`, the bundle's rendered files,
/// the manifest, the SBOM, SHA256SUMS and its signature; then the tarball at `tar`.
pub fn write(dir: &Path, c: &Contents, files: &[crate::model::File], key: &crate::signing::SigningKey, tar: &Path) -> Result<crate::digest::Digest> {
    use std::os::unix::fs::PermissionsExt;
    let werr = |path: &Path, source| Error::Write { path: path.to_path_buf(), source };
    for f in files {
        let rel = crate::paths::BundlePath::parse(&f.path).map_err(|e| Error::Internal(format!("bundle file {}: {e}", f.path)))?;
        let p = dir.join(rel.as_str());
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| werr(parent, e))?;
        }
        std::fs::write(&p, &f.content).map_err(|e| werr(&p, e))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).map_err(|e| werr(&p, e))?;
    }
    let mpath = dir.join("manifest.json");
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest(c)).unwrap() + "\n").map_err(|e| werr(&mpath, e))?;
    let spath = dir.join("sbom.spdx.json");
    std::fs::write(&spath, serde_json::to_string_pretty(&sbom(c)).unwrap() + "\n").map_err(|e| werr(&spath, e))?;
    // Packages were hashed as they were written; nothing reads them again for that.
    let known = c
        .built
        .iter()
        .map(|b| (format!("repo/Packages/{}", b.file_name), b.sha256.clone()))
        .chain(c.os_packages.iter().map(|p| (format!("repo/Packages/{}", p.file_name), p.sha256.clone())))
        .collect();
    let sums = write_sums(dir, &known)?;
    // The checksum list is signed too, so `verify` proves every file from the key down.
    let asc = dir.join(SUMS_SIGNATURE);
    std::fs::write(&asc, key.sign_detached(sums.as_bytes(), c.time)?).map_err(|e| werr(&asc, e))?;
    write_tar(dir, c.stem, c.time, tar)
}

/// `known`: sha256 of files already hashed (by path relative to `dir`), not read again.
/// Returns the list as written.
fn write_sums(dir: &Path, known: &BTreeMap<String, String>) -> Result<String> {
    let mut s = String::new();
    for f in walk(dir)?.into_iter().filter(|f| f != "SHA256SUMS" && f != SUMS_SIGNATURE) {
        let sum = match known.get(&f) {
            Some(k) => k.clone(),
            None => sha_file(&dir.join(&f))?,
        };
        s.push_str(&format!("{sum}  {f}\n"));
    }
    std::fs::write(dir.join("SHA256SUMS"), &s).map_err(|source| Error::Write { path: dir.join("SHA256SUMS"), source })?;
    Ok(s)
}

/// A reproducible, uncompressed tar (the RPMs inside are compressed already); its SHA-256,
/// hashed as it was written.
fn write_tar(dir: &Path, top: &str, time: u64, out: &Path) -> Result<crate::digest::Digest> {
    let w = |source| Error::Write { path: out.to_path_buf(), source };
    // 0640 at most: the tarball holds the admin and kubelet-signing CA keys (inside k8s-master).
    let f = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o640).open(out).map_err(w)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o640)).map_err(w)?;
        f
    };
    let mut t = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, crate::digest::HashingWriter::new(f, crate::digest::Algo::Sha256)));
    let header = |size: u64, mode: u32, kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(mode);
        h.set_entry_type(kind);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        h.set_mtime(time);
        h
    };
    let files = walk(dir)?;
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    dirs.insert(String::new());
    for f in &files {
        let mut p = Path::new(f).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_string_lossy().into_owned());
            p = d.parent();
        }
    }
    let mut entries: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    for d in dirs {
        entries.insert(if d.is_empty() { format!("{top}/") } else { format!("{top}/{d}/") }, None);
    }
    for f in files {
        entries.insert(format!("{top}/{f}"), Some(dir.join(&f)));
    }
    for (name, src) in entries {
        match src {
            None => {
                let mut h = header(0, 0o755, tar::EntryType::Directory);
                t.append_data(&mut h, &name, std::io::empty()).map_err(w)?;
            }
            Some(p) => {
                use std::os::unix::fs::PermissionsExt;
                let md = std::fs::metadata(&p).map_err(|source| Error::Read { path: p.clone(), source })?;
                let mode = if md.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
                let mut h = header(md.len(), mode, tar::EntryType::Regular);
                let file = std::fs::File::open(&p).map_err(|source| Error::Read { path: p.clone(), source })?;
                t.append_data(&mut h, &name, std::io::BufReader::with_capacity(1 << 20, file)).map_err(w)?;
            }
        }
    }
    let mut inner = t.into_inner().map_err(w)?;
    inner.flush().map_err(w)?;
    let (f, digest) = inner.into_inner().map_err(|e| w(e.into_error()))?.finish();
    f.sync_all().map_err(w)?;
    Ok(digest)
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub file: String,
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Verification {
    pub bundle: PathBuf,
    pub key_fingerprint: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

// Bounds for `verify`: a bundle is bundler's own output, so anything far beyond what bundler
// writes is refused rather than read.
const MAX_MEMBERS: usize = 100_000;
const MAX_DEPTH: usize = 16;
/// The biggest single member (the largest real one, the kube-master package, is ~250 MiB).
const MAX_MEMBER: u64 = 4 << 30;
const MAX_KEY: u64 = 1 << 20;
const MAX_REPOMD: u64 = 1 << 20;
const MAX_ASC: u64 = 64 << 10;
const MAX_SUMS: u64 = 16 << 20;
const MAX_MANIFEST: u64 = 64 << 20;
/// primary.xml uncompressed.
const MAX_PRIMARY: u64 = 256 << 20;

/// The bundle's files as found, never followed through a link: only names found here are
/// ever opened, so a manifest or checksum list cannot point verify outside the bundle.
struct Tree {
    dir: PathBuf,
    files: BTreeMap<String, u64>,
    hashes: std::cell::RefCell<BTreeMap<String, String>>,
}

impl Tree {
    fn open(&self, rel: &str) -> std::result::Result<(std::fs::File, u64), String> {
        use std::os::unix::fs::OpenOptionsExt;
        if !self.files.contains_key(rel) {
            return Err("not a regular file of the bundle".into());
        }
        let p = self.dir.join(rel);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&p)
            .map_err(|e| format!("cannot open: {e}"))?;
        let md = f.metadata().map_err(|e| e.to_string())?;
        if !md.is_file() {
            return Err("not a regular file".into());
        }
        Ok((f, md.len()))
    }
    fn read(&self, rel: &str, max: u64) -> std::result::Result<Vec<u8>, String> {
        use std::io::Read as _;
        let (f, len) = self.open(rel)?;
        if len > max {
            return Err(format!("{len} bytes, more than the {max} bytes such a file may have"));
        }
        let mut b = Vec::with_capacity(len as usize);
        f.take(max).read_to_end(&mut b).map_err(|e| e.to_string())?;
        Ok(b)
    }
    fn sha(&self, rel: &str) -> std::result::Result<String, String> {
        use std::io::Read as _;
        if let Some(h) = self.hashes.borrow().get(rel) {
            return Ok(h.clone());
        }
        let (f, len) = self.open(rel)?;
        let mut h = sha2::Sha256::new();
        let mut r = f.take(len);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = r.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let hex = hex::encode(h.finalize());
        self.hashes.borrow_mut().insert(rel.to_string(), hex.clone());
        Ok(hex)
    }
}

/// A member name a bundle may hold: relative, plain components, bounded depth.
fn member_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.starts_with('/') {
        return Err("an absolute path".into());
    }
    // On the raw text, not `Path::components` (which quietly drops `.` and empty segments).
    let mut depth = 0;
    for c in name.split('/') {
        match c {
            ".." => return Err("a `..` component".into()),
            "" | "." => return Err("an empty or `.` component".into()),
            _ if c.contains('\0') => return Err("a NUL byte".into()),
            _ => depth += 1,
        }
    }
    if depth > MAX_DEPTH {
        return Err(format!("more than {MAX_DEPTH} levels deep"));
    }
    Ok(())
}

/// Unpack a bundle tarball into the private folder `into`, refusing anything but plain
/// files and folders under exactly one top-level folder. Returns the top-level folder.
fn unpack(tar_path: &Path, into: &Path) -> std::result::Result<PathBuf, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt;
    let (f, tar_len) = crate::files::open_regular(tar_path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut a = tar::Archive::new(std::io::BufReader::new(f));
    let mut top: Option<String> = None;
    let mut seen = BTreeSet::new();
    for (n, e) in a.entries().map_err(|e| format!("not a tar archive: {e}"))?.enumerate() {
        if n >= MAX_MEMBERS {
            return Err(format!("more than {MAX_MEMBERS} members"));
        }
        let mut e = e.map_err(|e| format!("not a readable tar archive: {e}"))?;
        let name = String::from_utf8(e.path_bytes().into_owned()).map_err(|_| "a member name that is not UTF-8".to_string())?;
        let name = name.trim_end_matches('/').to_string();
        member_name(&name).map_err(|why| format!("member `{name}` has {why}"))?;
        let kind = e.header().entry_type();
        let first = name.split('/').next().unwrap_or_default().to_string();
        match &top {
            None => top = Some(first.clone()),
            Some(t) if *t != first => return Err(format!("a second top-level entry `{first}` beside `{t}`: a bundle has exactly one top-level folder")),
            _ => {}
        }
        if !seen.insert(name.clone()) {
            return Err(format!("member `{name}` appears twice (a later copy would replace the checked one)"));
        }
        let dst = into.join(&name);
        match kind {
            tar::EntryType::Directory => {
                crate::files::create_private_dir(&dst).map_err(|e| format!("unpacking `{name}`: {e}"))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous if name.contains('/') => {
                let size = e.header().entry_size().map_err(|e| format!("member `{name}`: {e}"))?;
                if size > tar_len || size > MAX_MEMBER {
                    return Err(format!("member `{name}` claims {size} bytes, more than the archive holds or a bundle member may have"));
                }
                crate::files::create_private_dir(dst.parent().unwrap()).map_err(|e| format!("unpacking `{name}`: {e}"))?;
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&dst)
                    .map_err(|e| format!("unpacking `{name}`: {e}"))?;
                let copied = std::io::copy(&mut (&mut e).take(size), &mut out).map_err(|e| format!("member `{name}`: {e}"))?;
                if copied != size {
                    return Err(format!("member `{name}` is cut short ({copied} of {size} bytes)"));
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                return Err(format!("`{name}` is a file at the top level; a bundle has exactly one top-level folder"))
            }
            other => {
                let what = match other {
                    tar::EntryType::Symlink => "a symbolic link",
                    tar::EntryType::Link => "a hard link",
                    tar::EntryType::Char | tar::EntryType::Block => "a device",
                    tar::EntryType::Fifo => "a FIFO",
                    tar::EntryType::GNUSparse => "a sparse file",
                    _ => "not a plain file or folder",
                };
                return Err(format!("member `{name}` is {what}; a bundle holds only plain files and folders"));
            }
        }
    }
    let top = top.ok_or("an empty archive")?;
    if !into.join(&top).is_dir() {
        return Err(format!("`{top}` is not a folder"));
    }
    Ok(into.join(top))
}

/// Every plain file under `dir` (relative name → size), with whatever else is there named as a
/// problem and never opened: links, devices, FIFOs, sockets, hard-linked or sparse files.
/// Plain files (relative name → size), and (name, why) for everything refused.
type Walked = (BTreeMap<String, u64>, Vec<(String, String)>);

fn walk_strict(dir: &Path) -> Result<Walked> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut files = BTreeMap::new();
    let mut problems = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut count = 0usize;
    while let Some((d, depth)) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|source| Error::Read { path: d.clone(), source })? {
            let e = e.map_err(|source| Error::Read { path: d.clone(), source })?;
            count += 1;
            if count > MAX_MEMBERS {
                return Err(Error::Damaged { path: dir.to_path_buf(), problem: format!("more than {MAX_MEMBERS} entries; not a bundle") });
            }
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let md = std::fs::symlink_metadata(&p).map_err(|source| Error::Read { path: p.clone(), source })?;
            let ft = md.file_type();
            if ft.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    problems.push((rel, format!("more than {MAX_DEPTH} levels deep")));
                } else {
                    stack.push((p, depth + 1));
                }
            } else if ft.is_file() {
                if md.nlink() > 1 {
                    problems.push((rel, "a hard link (another name shares its content); a bundle holds only plain files".into()));
                } else if md.len() > MAX_MEMBER {
                    problems.push((rel, format!("{} bytes, more than a bundle member may have", md.len())));
                } else if md.len() > (64 << 20) && md.blocks() * 512 < md.len() / 8 {
                    problems.push((rel, "a sparse file; a bundle member never is".into()));
                } else {
                    files.insert(rel, md.len());
                }
            } else {
                let what = if ft.is_symlink() {
                    "a symbolic link"
                } else if ft.is_block_device() || ft.is_char_device() {
                    "a device"
                } else if ft.is_fifo() {
                    "a FIFO"
                } else {
                    "a socket or other special file"
                };
                problems.push((rel, format!("{what}; a bundle holds only plain files and folders, and verify follows nothing")));
            }
        }
    }
    Ok((files, problems))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The start of `<tag` (followed by a space, `>` or `/`) in `s`.
fn find_tag(s: &str, tag: &str) -> Option<usize> {
    let pat = format!("<{tag}");
    let mut from = 0;
    while let Some(i) = s[from..].find(&pat) {
        let at = from + i;
        match s[at + pat.len()..].chars().next() {
            Some(' ' | '>' | '/' | '\n' | '\t') => return Some(at),
            _ => from = at + pat.len(),
        }
    }
    None
}

/// `attr="value"` of the first `<tag ...>` in `s`.
fn attr(s: &str, tag: &str, name: &str) -> Option<String> {
    let at = find_tag(s, tag)?;
    let end = s[at..].find('>')? + at;
    let open = &s[at..end];
    let pat = format!(" {name}=\"");
    let i = open.find(&pat)? + pat.len();
    let j = open[i..].find('"')? + i;
    Some(unescape(&open[i..j]))
}

/// The text inside the first `<tag ...>text</tag>` in `s`.
fn text(s: &str, tag: &str) -> Option<String> {
    let at = find_tag(s, tag)?;
    let start = s[at..].find('>')? + at + 1;
    let end = s[start..].find(&format!("</{tag}>"))? + start;
    Some(unescape(s[start..end].trim()))
}

/// Each `<tag ...>...</tag>` block of `s`.
fn blocks<'a>(s: &'a str, tag: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let close = format!("</{tag}>");
    let mut rest = s;
    while let Some(at) = find_tag(rest, tag) {
        let Some(end) = rest[at..].find(&close) else { break };
        out.push(&rest[at..at + end + close.len()]);
        rest = &rest[at + end + close.len()..];
    }
    out
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A private temporary folder, removed on drop.
struct TmpDir(PathBuf);
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<TmpDir> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir().join(format!("bundler-verify-{}-{}", std::process::id(), hex::encode(crate::files::random_bytes(8)?)));
    // Not recursive: an existing (planted) folder of that name is an error, not reused.
    std::fs::DirBuilder::new().mode(0o700).create(&base).map_err(|source| Error::Write { path: base.clone(), source })?;
    Ok(TmpDir(base))
}

fn add(checks: &mut Vec<Check>, file: &str, check: &str, r: std::result::Result<(), String>) {
    checks.push(Check { file: file.into(), check: check.into(), ok: r.is_ok(), detail: r.err().unwrap_or_default() });
}

/// Prove a bundle (a .tar or an unpacked folder) from the signing key down: the repository
/// signature; every package's size and digest against the signed repository metadata, and
/// its own signature; every other file against the signed `SHA256SUMS`; the manifest against
/// the contents. Only plain files and folders under one top-level folder are accepted, reads
/// are bounded, and nothing outside the bundle is ever opened.
pub fn verify(bundle: &Path, key: Option<&Path>) -> Result<Verification> {
    let mut checks = Vec::new();
    // The bundle is a path the user gave: a missing one is bad usage (exit 2).
    let md = std::fs::metadata(bundle).map_err(|source| Error::ReadInput { path: bundle.to_path_buf(), source })?;
    let _tmp;
    let dir = if md.is_dir() {
        bundle.to_path_buf()
    } else {
        let t = tempfile_dir()?;
        let top = unpack(bundle, &t.0).map_err(|e| Error::Damaged { path: bundle.to_path_buf(), problem: format!("not a bundle tarball: {e}") })?;
        _tmp = t;
        top
    };
    let (files, problems) = walk_strict(&dir)?;
    let has = |f: &str| files.contains_key(f);
    let key_rel = format!("repo/{}", crate::names::KEY_FILE);
    if !has("SHA256SUMS") && !has("repo/repodata/repomd.xml") && !has(&key_rel) && problems.is_empty() {
        // Say what was given and what a bundle looks like; nobody gave a key to blame.
        let inner: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("SHA256SUMS").is_file()).map(|p| p.display().to_string()).collect())
            .unwrap_or_default();
        let hint = match inner.as_slice() {
            [one] => format!("\nhelp: {one} looks like a bundle; verify that folder"),
            _ => "\nhelp: give the tarball `bundler build` wrote, or the folder it unpacks to (the one holding install.sh and SHA256SUMS)".into(),
        };
        return Err(Error::Usage(format!("{}: not a bundle: it has no SHA256SUMS, repo/repodata/repomd.xml or {key_rel}{hint}", bundle.display())));
    }
    for (rel, why) in &problems {
        add(&mut checks, rel, "plain file", Err(why.clone()));
    }
    let tree = Tree { dir: dir.clone(), files, hashes: Default::default() };

    // The key: given out of band, or the bundle's own (which proves only self-consistency).
    let bundled_key = tree.read(&key_rel, MAX_KEY).ok().and_then(|b| String::from_utf8(b).ok());
    let bundled_fp = bundled_key.as_deref().map(crate::signing::public_fingerprint);
    let (key_text, fingerprint) = match key {
        Some(k) => {
            let t = crate::files::read_regular_string(k, MAX_KEY).map_err(|e| Error::Usage(format!("--key: {e}")))?;
            let fp = crate::signing::public_fingerprint(&t).map_err(|e| Error::Usage(format!("--key {}: {e}", k.display())))?;
            let same = matches!(&bundled_fp, Some(Ok(b)) if *b == fp);
            add(&mut checks, &key_rel, "matches --key", if same { Ok(()) } else { Err("the bundle's key is not the key given with --key".into()) });
            (Some(t), fp)
        }
        None => match (bundled_key, bundled_fp.clone()) {
            (Some(t), Some(Ok(fp))) => (Some(t), fp),
            (None, _) => {
                add(&mut checks, &key_rel, "key", Err("missing or unreadable: the bundle carries no key to check it with (give one with --key)".into()));
                (None, "(none)".into())
            }
            (Some(_), other) => {
                add(&mut checks, &key_rel, "key", Err(other.and_then(|r| r.err()).unwrap_or_else(|| "unreadable".into())));
                (None, "(none)".into())
            }
        },
    };
    let verify_sig = |data: &[u8], sig: &str| match &key_text {
        Some(k) => crate::signing::verify_detached(k, data, sig),
        None => Err("no usable key to check it with".into()),
    };

    // 1. The signed root: repomd.xml and its signature.
    let repomd_rel = "repo/repodata/repomd.xml";
    let repomd = tree.read(repomd_rel, MAX_REPOMD);
    let repomd_asc = tree.read("repo/repodata/repomd.xml.asc", MAX_ASC).map(|b| String::from_utf8_lossy(&b).into_owned());
    let repomd_ok = match (&repomd, &repomd_asc) {
        (Ok(x), Ok(a)) => verify_sig(x, a),
        (Err(e), _) => Err(format!("repomd.xml: {e}")),
        (_, Err(e)) => Err(format!("repomd.xml.asc: {e}")),
    };
    let signed = repomd_ok.is_ok();
    add(&mut checks, repomd_rel, "signature", repomd_ok);
    let repomd = String::from_utf8_lossy(repomd.as_deref().unwrap_or_default()).into_owned();

    // 2. The metadata files repomd.xml names, and the packages primary.xml lists.
    let mut named_meta = BTreeSet::new();
    let mut primary: Option<String> = None;
    for d in blocks(&repomd, "data") {
        let kind = attr(d, "data", "type").unwrap_or_default();
        let href = attr(d, "location", "href").unwrap_or_default();
        let rel = format!("repo/{href}");
        if !href.starts_with("repodata/") || member_name(&href).is_err() {
            add(&mut checks, repomd_rel, "metadata", Err(format!("{kind} has a location `{href}` outside repodata/")));
            continue;
        }
        named_meta.insert(rel.clone());
        let want = text(d, "checksum").unwrap_or_default();
        let r = tree.sha(&rel).and_then(|got| if got == want { Ok(()) } else { Err(format!("sha256 {got}, the signed repomd.xml says {want}")) });
        let good = r.is_ok();
        add(&mut checks, &rel, "repository metadata", r);
        if kind == "primary" && good {
            let open_want = text(d, "open-checksum").unwrap_or_default();
            let r = tree.read(&rel, MAX_PRIMARY).and_then(|gz| {
                use std::io::Read as _;
                let mut xml = Vec::new();
                flate2::read::GzDecoder::new(&gz[..]).take(MAX_PRIMARY + 1).read_to_end(&mut xml).map_err(|e| format!("not gzip: {e}"))?;
                if xml.len() as u64 > MAX_PRIMARY {
                    return Err(format!("unpacks to more than {MAX_PRIMARY} bytes"));
                }
                let got = hex::encode(sha2::Sha256::digest(&xml));
                if got != open_want {
                    return Err(format!("unpacked sha256 {got}, the signed repomd.xml says {open_want}"));
                }
                String::from_utf8(xml).map_err(|_| "not UTF-8".to_string())
            });
            match r {
                Ok(x) => primary = Some(x),
                Err(e) => add(&mut checks, &rel, "primary.xml", Err(e)),
            }
        }
    }
    if signed && primary.is_none() && !checks.iter().any(|c| !c.ok && c.file.starts_with("repo/repodata/")) {
        add(&mut checks, repomd_rel, "metadata", Err("names no primary metadata".into()));
    }
    for f in tree.files.keys().filter(|f| f.starts_with("repo/repodata/") && !named_meta.contains(*f)) {
        if f != repomd_rel && f != "repo/repodata/repomd.xml.asc" {
            add(&mut checks, f, "repository metadata", Err("not named by the signed repomd.xml".into()));
        }
    }
    // The manifest (proven below through the signed SHA256SUMS) names the OS vendor's packages:
    // those carry the vendor's signature, by the key whose fingerprint the manifest pins.
    let manifest: serde_json::Value = tree.read("manifest.json", MAX_MANIFEST).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let mut os_files: BTreeMap<String, String> = BTreeMap::new();
    let mut vendor_key: std::result::Result<String, String> = Err("no verified vendor key".into());
    if let Some(list) = manifest["os_packages"].as_array().filter(|l| !l.is_empty()) {
        let k = &manifest["os_key"];
        let kfile = k["file"].as_str().unwrap_or_default().to_string();
        let pinned = k["fingerprint"].as_str().unwrap_or_default();
        vendor_key = if member_name(&kfile).is_err() {
            Err(format!("the manifest's OS key file `{kfile}` is not a path inside the bundle"))
        } else {
            tree.read(&kfile, MAX_KEY).map(|b| String::from_utf8_lossy(&b).into_owned()).and_then(|text| {
                let f = crate::signing::public_fingerprint(&text).map_err(|e| e.to_string())?;
                if f == pinned {
                    Ok(text)
                } else {
                    Err(format!("its fingerprint is {f}, the manifest pins {pinned}"))
                }
            })
        };
        add(&mut checks, if kfile.is_empty() { "manifest.json" } else { &kfile }, "OS vendor key", vendor_key.as_ref().map(|_| ()).map_err(|e| e.clone()));
        for r in list {
            os_files.insert(r["file"].as_str().unwrap_or_default().to_string(), r["sha256"].as_str().unwrap_or_default().to_string());
        }
    }
    let mut listed_rpms = BTreeSet::new();
    for p in blocks(primary.as_deref().unwrap_or_default(), "package") {
        let href = attr(p, "location", "href").unwrap_or_default();
        let rel = format!("repo/{href}");
        if !href.starts_with("Packages/") || member_name(&href).is_err() {
            add(&mut checks, "repo/repodata/primary.xml", "package", Err(format!("a package location `{href}` outside Packages/")));
            continue;
        }
        listed_rpms.insert(rel.clone());
        let want_sha = text(p, "checksum").filter(|_| attr(p, "checksum", "type").as_deref() == Some("sha256")).unwrap_or_default();
        let want_size: Option<u64> = attr(p, "size", "package").and_then(|v| v.parse().ok());
        let r = match tree.files.get(&rel) {
            None => Err("listed in the signed repository metadata but missing".to_string()),
            Some(size) if Some(*size) != want_size => {
                Err(format!("{size} bytes, the signed repository metadata says {}", want_size.map(|s| s.to_string()).unwrap_or("?".into())))
            }
            Some(_) => {
                tree.sha(&rel)
                    .and_then(|got| if got == want_sha { Ok(()) } else { Err(format!("sha256 {got}, the signed repository metadata says {want_sha}")) })
            }
        };
        let good = r.is_ok();
        add(&mut checks, &rel, "repository metadata", r);
        if good && os_files.contains_key(&rel) {
            let r = match &vendor_key {
                Ok(k) => crate::rpmfile::verify_vendor_signature(&tree.dir.join(&rel), k).map(|_| ()),
                Err(e) => Err(e.clone()),
            };
            add(&mut checks, &rel, "vendor signature", r);
        } else if good {
            let r = match &key_text {
                Some(k) => crate::rpmfile::verify_signature(&tree.dir.join(&rel), k),
                None => Err("no usable key to check it with".into()),
            };
            add(&mut checks, &rel, "signature", r);
        }
    }
    for f in tree.files.keys().filter(|f| f.starts_with("repo/Packages/") && !listed_rpms.contains(*f)) {
        add(&mut checks, f, "repository metadata", Err("not in the signed repository metadata".into()));
    }

    // 3. Every other file against the signed checksum list.
    let sums = tree.read("SHA256SUMS", MAX_SUMS);
    let sums_asc = tree.read(SUMS_SIGNATURE, MAX_ASC).map(|b| String::from_utf8_lossy(&b).into_owned());
    let r = match (&sums, &sums_asc) {
        (Ok(s), Ok(a)) => match &key_text {
            Some(k) => crate::signing::verify_detached_exact(k, s, a),
            None => Err("no usable key to check it with".into()),
        }
        .map_err(|e| format!("{SUMS_SIGNATURE} does not prove it: {e}")),
        (Err(e), _) => Err(e.clone()),
        (_, Err(e)) => Err(format!("{SUMS_SIGNATURE}: {e}")),
    };
    add(&mut checks, "SHA256SUMS", "signature", r);
    let sums = String::from_utf8_lossy(sums.as_deref().unwrap_or_default()).into_owned();
    let mut listed = BTreeMap::new();
    for (i, l) in sums.lines().enumerate() {
        match l.split_once("  ") {
            Some((h, f)) if is_hex64(h) && member_name(f).is_ok() => {
                listed.insert(f.to_string(), h.to_string());
            }
            _ => add(&mut checks, "SHA256SUMS", "format", Err(format!("line {}: not `<sha256>  <relative path>`", i + 1))),
        }
    }
    for f in tree.files.keys().filter(|f| *f != "SHA256SUMS" && *f != SUMS_SIGNATURE) {
        let r = match listed.get(f) {
            None => Err("not listed in SHA256SUMS".to_string()),
            Some(want) => tree.sha(f).and_then(|got| if &got == want { Ok(()) } else { Err(format!("sha256 {got}, SHA256SUMS says {want}")) }),
        };
        add(&mut checks, f, "sha256", r);
    }
    for f in listed.keys().filter(|f| !tree.files.contains_key(*f)) {
        add(&mut checks, f, "sha256", Err("listed in SHA256SUMS but missing".into()));
    }

    // 4. The manifest agrees with the contents (paths looked up, never opened from the manifest).
    for (file, want) in &os_files {
        let res = if !tree.files.contains_key(file) || !file.starts_with("repo/Packages/") {
            Err(format!("manifest lists OS package {file}, which is not a package of the bundle"))
        } else {
            tree.sha(file).and_then(|got| if &got == want { Ok(()) } else { Err(format!("manifest says sha256 {want}, file has {got}")) })
        };
        add(&mut checks, "manifest.json", &format!("lists {file}"), res);
    }
    match manifest["rpms"].as_array() {
        None => add(&mut checks, "manifest.json", "readable", Err("missing or not JSON".into())),
        Some(list) => {
            let mut named = BTreeSet::new();
            for r in list {
                let file = r["file"].as_str().unwrap_or_default().to_string();
                named.insert(file.clone());
                let want = r["sha256"].as_str().unwrap_or_default();
                let res = if !tree.files.contains_key(&file) || !file.starts_with("repo/Packages/") {
                    Err(format!("manifest lists {file}, which is not a package of the bundle"))
                } else {
                    tree.sha(&file).and_then(|got| if got == want { Ok(()) } else { Err(format!("manifest says sha256 {want}, file has {got}")) })
                };
                add(&mut checks, "manifest.json", &format!("lists {file}"), res);
            }
            for f in tree.files.keys().filter(|f| f.starts_with("repo/Packages/") && f.ends_with(".rpm") && !named.contains(*f) && !os_files.contains_key(*f)) {
                add(&mut checks, f, "manifest", Err("not listed in manifest.json".into()));
            }
        }
    }
    if let (Some(m), Some(Ok(b))) = (manifest["signing_key_fingerprint"].as_str(), &bundled_fp) {
        add(&mut checks, "manifest.json", "signing key", if m == b { Ok(()) } else { Err(format!("names key {m}, the bundle carries {b}")) });
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(Verification { bundle: bundle.to_path_buf(), key_fingerprint: fingerprint, ok, checks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_scanner_reads_our_repomd_and_never_panics() {
        let repomd = "<repomd>\n  <data type=\"primary\">\n    <checksum type=\"sha256\">aa</checksum>\n    <open-checksum type=\"sha256\">bb</open-checksum>\n    <location href=\"repodata/aa-primary.xml.gz\"/>\n  </data>\n</repomd>\n";
        let d = blocks(repomd, "data");
        assert_eq!(d.len(), 1);
        assert_eq!(attr(d[0], "data", "type").as_deref(), Some("primary"));
        assert_eq!(text(d[0], "checksum").as_deref(), Some("aa"));
        assert_eq!(text(d[0], "open-checksum").as_deref(), Some("bb"));
        assert_eq!(attr(d[0], "location", "href").as_deref(), Some("repodata/aa-primary.xml.gz"));
        // Truncated, nested, multi-byte and unterminated input: answers or None, never a panic.
        for s in ["<data", "<data>", "<data type=\"", "<checksum>é</checksum", "<datax type=\"a\"></datax>", "<location href=\"é\"", "</data><data>"] {
            let _ = (blocks(s, "data"), attr(s, "location", "href"), text(s, "checksum"));
        }
    }

    proptest::proptest! {
        #[test]
        fn scanner_and_member_names_take_any_text(s in ".{0,200}") {
            let _ = (blocks(&s, "package"), attr(&s, "size", "package"), text(&s, "checksum"), member_name(&s));
        }
    }

    #[test]
    fn member_names() {
        assert!(member_name("k8s/repo/x.rpm").is_ok());
        for bad in ["", "/etc/shadow", "k8s/../../etc", "./k8s", "k8s/./x", "k8s//x"] {
            assert!(member_name(bad).is_err(), "{bad}");
        }
        assert!(member_name(&"a/".repeat(MAX_DEPTH + 1)).is_err());
    }
}
