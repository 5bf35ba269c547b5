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
use crate::fetch::Fetched;
use crate::plan::Plan;
use crate::rpm::Built;

#[derive(Serialize, Deserialize, Default)]
struct Record {
    release: u32,
    content: String,
}

/// The bundle's release: kept while the set of packages is unchanged, raised when it changes.
pub fn release(state: &Path, built: &[Built], plan: &Plan) -> Result<u32> {
    let p = state.join("bundle.json");
    let mut h = sha2::Sha256::new();
    h.update(plan.versions.kubernetes.as_bytes());
    for b in built {
        h.update(format!("{} {}\n", b.file_name, b.sha256).as_bytes());
    }
    let content = hex::encode(h.finalize());
    let old: Option<Record> = std::fs::read_to_string(&p).ok().and_then(|t| serde_json::from_str(&t).ok());
    let release = match old {
        Some(r) if r.content == content => return Ok(r.release),
        Some(r) => r.release + 1,
        None => 1,
    };
    crate::pki::write_private(&p, serde_json::to_string_pretty(&Record { release, content }).unwrap().as_bytes())?;
    Ok(release)
}

fn sha_file(p: &Path) -> Result<String> {
    crate::fetch::cache::hash_file(p, crate::catalog::Algo::Sha256).map(|(d, _)| d.hex).map_err(|source| Error::Read { path: p.to_path_buf(), source })
}

pub struct Contents<'a> {
    pub plan: &'a Plan,
    pub inventory_sha256: &'a str,
    pub fetched: &'a [Fetched],
    pub built: &'a [Built],
    pub os_packages: &'a [crate::fetch::os::FetchedOs],
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
            json!({"name": a.name, "version": a.version, "url": a.url, "digest": a.digest, "license": a.license, "trust": a.trust, "single_source": a.single_source, "bytes": f.map(|f| f.bytes)})
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
        let (algo, hex) = a.digest.split_once(':').unwrap();
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

/// `known`: sha256 of files already hashed (by path relative to `dir`), not read again.
pub fn write_sums(dir: &Path, known: &BTreeMap<String, String>) -> Result<()> {
    let mut s = String::new();
    for f in walk(dir)?.into_iter().filter(|f| f != "SHA256SUMS") {
        let sum = match known.get(&f) {
            Some(k) => k.clone(),
            None => sha_file(&dir.join(&f))?,
        };
        s.push_str(&format!("{sum}  {f}\n"));
    }
    std::fs::write(dir.join("SHA256SUMS"), s).map_err(|source| Error::Write { path: dir.join("SHA256SUMS"), source })
}

/// A reproducible, uncompressed tar (the RPMs inside are compressed already).
pub fn write_tar(dir: &Path, top: &str, time: u64, out: &Path) -> Result<()> {
    let w = |source| Error::Write { path: out.to_path_buf(), source };
    let f = std::fs::File::create(out).map_err(w)?;
    let mut t = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, f));
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
    inner.get_ref().sync_all().map_err(w)
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

/// Check a bundle (a .tar or an unpacked folder): SHA256SUMS, every RPM's signature, the
/// repository signature, and that the manifest matches the contents.
pub fn verify(bundle: &Path, key: Option<&Path>) -> Result<Verification> {
    let _tmp;
    let dir = if bundle.is_dir() {
        bundle.to_path_buf()
    } else {
        let t = tempfile_dir()?;
        let f = std::fs::File::open(bundle).map_err(|source| Error::ReadInput { path: bundle.to_path_buf(), source })?;
        tar::Archive::new(std::io::BufReader::new(f)).unpack(&t.0).map_err(|e| Error::Failed(format!("{} is not a bundle tarball: {e}", bundle.display())))?;
        let top =
            std::fs::read_dir(&t.0).map_err(|source| Error::Read { path: t.0.clone(), source })?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.is_dir());
        let top = top.ok_or_else(|| Error::Failed(format!("{} holds no bundle folder", bundle.display())))?;
        _tmp = t;
        top
    };
    let mut checks = Vec::new();
    let mut add = |file: &str, check: &str, r: std::result::Result<(), String>| {
        checks.push(Check { file: file.into(), check: check.into(), ok: r.is_ok(), detail: r.err().unwrap_or_default() });
    };
    // SHA256SUMS: every file listed, every listed file right.
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap_or_default();
    let listed: BTreeMap<String, String> = sums.lines().filter_map(|l| l.split_once("  ")).map(|(h, f)| (f.to_string(), h.to_string())).collect();
    if listed.is_empty() {
        add("SHA256SUMS", "present", Err("missing or empty".into()));
    }
    let files = walk(&dir)?;
    for f in files.iter().filter(|f| *f != "SHA256SUMS") {
        match listed.get(f) {
            None => add(f, "sha256", Err("not listed in SHA256SUMS".into())),
            Some(want) => {
                let got = sha_file(&dir.join(f))?;
                add(f, "sha256", if &got == want { Ok(()) } else { Err(format!("sha256 {got}, SHA256SUMS says {want}")) });
            }
        }
    }
    for f in listed.keys().filter(|f| !files.contains(f)) {
        add(f, "sha256", Err("listed in SHA256SUMS but missing".into()));
    }
    // The key: given out of band, or the bundle's own.
    let bundled_key = std::fs::read_to_string(dir.join("repo").join(crate::repo::KEY_FILE)).unwrap_or_default();
    let key_text = match key {
        Some(k) => std::fs::read_to_string(k).map_err(|source| Error::ReadInput { path: k.to_path_buf(), source })?,
        None => bundled_key.clone(),
    };
    let fingerprint = crate::signing::public_fingerprint(&key_text).map_err(|e| Error::Usage(format!("the verification key: {e}")))?;
    if key.is_some() {
        let same = crate::signing::public_fingerprint(&bundled_key).map(|f| f == fingerprint).unwrap_or(false);
        add(
            &format!("repo/{}", crate::repo::KEY_FILE),
            "matches --key",
            if same { Ok(()) } else { Err("the bundle's key is not the key given with --key".into()) },
        );
    }
    // Repository signature.
    let repomd = std::fs::read(dir.join("repo/repodata/repomd.xml")).unwrap_or_default();
    let asc = std::fs::read_to_string(dir.join("repo/repodata/repomd.xml.asc")).unwrap_or_default();
    add("repo/repodata/repomd.xml", "signature", crate::signing::verify_detached(&key_text, &repomd, &asc));
    // The manifest matches the contents.
    let manifest: serde_json::Value =
        std::fs::read(dir.join("manifest.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(serde_json::Value::Null);
    // The OS vendor's packages: its signature, by the key whose fingerprint the manifest pins.
    let mut os_files = BTreeSet::new();
    if let Some(list) = manifest["os_packages"].as_array().filter(|l| !l.is_empty()) {
        let k = &manifest["os_key"];
        let kfile = k["file"].as_str().unwrap_or_default();
        let vendor = std::fs::read_to_string(dir.join(kfile)).unwrap_or_default();
        let pinned = k["fingerprint"].as_str().unwrap_or_default();
        let key_ok = crate::signing::public_fingerprint(&vendor).map_err(|e| e.to_string()).and_then(|f| {
            if f == pinned {
                Ok(())
            } else {
                Err(format!("its fingerprint is {f}, the manifest pins {pinned}"))
            }
        });
        add(if kfile.is_empty() { "manifest.json" } else { kfile }, "OS vendor key", key_ok.clone());
        for r in list {
            let file = r["file"].as_str().unwrap_or_default().to_string();
            let sig =
                if key_ok.is_ok() { crate::rpm::verify_vendor_signature(&dir.join(&file), &vendor).map(|_| ()) } else { Err("no verified vendor key".into()) };
            add(&file, "vendor signature", sig);
            let got = sha_file(&dir.join(&file)).unwrap_or_default();
            let want = r["sha256"].as_str().unwrap_or_default();
            add(&file, "manifest", if got == want { Ok(()) } else { Err(format!("manifest says sha256 {want}, file has {got}")) });
            os_files.insert(file);
        }
    }
    // Every other RPM's signature and digests.
    let rpms: Vec<&String> = files.iter().filter(|f| f.starts_with("repo/Packages/") && f.ends_with(".rpm") && !os_files.contains(*f)).collect();
    for f in &rpms {
        add(f, "signature", crate::rpm::verify_signature(&dir.join(f), &key_text));
    }
    match manifest["rpms"].as_array() {
        None => add("manifest.json", "readable", Err("missing or not JSON".into())),
        Some(list) => {
            let mut named = BTreeSet::new();
            for r in list {
                let file = r["file"].as_str().unwrap_or_default().to_string();
                named.insert(file.clone());
                let want = r["sha256"].as_str().unwrap_or_default();
                let r = match dir.join(&file).exists() {
                    false => Err(format!("manifest lists {file}, which is not in the bundle")),
                    true => {
                        let got = sha_file(&dir.join(&file))?;
                        if got == want {
                            Ok(())
                        } else {
                            Err(format!("manifest says sha256 {want}, file has {got}"))
                        }
                    }
                };
                add(&file, "manifest", r);
            }
            for f in rpms.iter().filter(|f| !named.contains(**f)) {
                add(f, "manifest", Err("not listed in manifest.json".into()));
            }
        }
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(Verification { bundle: bundle.to_path_buf(), key_fingerprint: fingerprint, ok, checks })
}

struct TmpDir(PathBuf);
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<TmpDir> {
    let base = std::env::temp_dir().join(format!("bundler-verify-{}-{}", std::process::id(), hex::encode(crate::pki::random_bytes(4)?)));
    std::fs::create_dir_all(&base).map_err(|source| Error::Write { path: base.clone(), source })?;
    Ok(TmpDir(base))
}
