//! Packages: decides what goes into each RPM (upstream binaries, PKI files, rendered files,
//! scriptlets, dependencies), keeps release numbers stable while content is unchanged, and
//! writes them streaming (`stream.rs`); `read.rs` reads them back with the `rpm` crate.

mod extract;
mod stream;
mod tags;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::error::{Error, Result};
pub use crate::model::Built;
use crate::model::Fetched;
use crate::model::File as Rendered;
use crate::model::Pki;
use crate::model::PulledImage;
use crate::model::Scriptlets;
use crate::names::{RpmVersion, VersionRelease};
use crate::plan::contents::Source;
use crate::plan::Plan;
use crate::signing::SigningKey;
use crate::specs::PackageKind;
pub use stream::source_rpm;

/// Write one package as `build` does (through `dst.partial`, signed with `key`); for tests that
/// compare bundler's writer with rpmbuild. Returns the package's sha256 (hex) and size.
pub fn write_one(spec: &PackageSpec, dst: &Path, key: &SigningKey) -> Result<(String, u64)> {
    stream::write(spec, dst, key, 1)
}

#[derive(Clone, Debug, Serialize)]
pub enum Content {
    Bytes(#[serde(skip)] Vec<u8>),
    Path(PathBuf),
}

#[derive(Clone, Debug, Serialize)]
pub struct FileEntry {
    pub path: String,
    #[serde(skip)]
    pub content: Content,
    /// sha256 of the content, for the release bookkeeping.
    pub sha256: String,
    pub mode: u32,
    pub user: String,
    pub group: String,
    /// `%config(noreplace)`
    pub config: bool,
    /// `%ghost`: owned and listed, but not in the payload (a file written on the host).
    pub ghost: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DirEntry {
    pub path: String,
    pub mode: u32,
    pub user: String,
    pub group: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum When {
    Always,
    /// `Requires(pre)`: installed before this package's %pre runs.
    Pre,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dep {
    pub name: String,
    /// Exact `= version-release`, or any version.
    pub exact: Option<String>,
    pub when: When,
}

/// The architectures bundler builds for: el7 on x86_64, and scripts and configuration for any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Arch {
    #[serde(rename = "noarch")]
    Noarch,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Noarch => "noarch",
            Arch::X86_64 => "x86_64",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PackageSpec {
    pub name: String,
    pub kind: PackageKind,
    pub version: RpmVersion,
    pub release: u32,
    /// `noarch` for packages of configuration and scripts, `x86_64` for binaries and images.
    pub arch: Arch,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub requires: Vec<Dep>,
    pub conflicts: Vec<String>,
    pub files: Vec<FileEntry>,
    pub dirs: Vec<DirEntry>,
    /// `%pretrans`: runs before anything of the transaction is installed.
    pub pretrans: Option<String>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
    /// Build and file times (seconds since the epoch): stable while content is unchanged.
    pub build_time: u64,
    /// Binary packages: the digest of the upstream artifact their files come from (their
    /// identity before extraction) and where that artifact is in the download cache.
    pub origin_digest: Option<String>,
    #[serde(skip)]
    pub origin_tarball: Option<PathBuf>,
}

impl PackageSpec {
    /// What decides whether the package changed (not the release or the time).
    fn content_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("release");
        o.remove("build_time");
        hex::encode(sha2::Sha256::digest(serde_json::to_vec(&v).unwrap()))
    }
    pub fn version_release(&self) -> VersionRelease {
        VersionRelease { version: self.version.clone(), release: self.release }
    }
    pub fn file_name(&self) -> String {
        self.version_release().file_name(&self.name, self.arch.as_str())
    }
    pub fn evr(&self) -> String {
        self.version_release().to_string()
    }
}

/// Release bookkeeping in the state folder: a package keeps its release while its content is
/// unchanged, and gets the next one (and a new time) when it changes.
#[derive(Serialize, Deserialize, Default)]
struct Releases {
    packages: BTreeMap<String, ReleaseRecord>,
}

#[derive(Serialize, Deserialize, Clone)]
struct ReleaseRecord {
    version: String,
    release: u32,
    content: String,
    time: u64,
}

pub struct Options<'a> {
    pub out_dir: &'a Path,
    /// Binary packages are cached here between builds (keyed by content and signing key).
    pub cache_dir: &'a Path,
    pub state: &'a Path,
    pub key: &'a SigningKey,
    /// SOURCE_DATE_EPOCH, when set, fixes every time in every package.
    pub source_date: Option<u64>,
    /// The time to record for content seen for the first time.
    pub now: u64,
    pub jobs: usize,
    /// Scratch space for extracted binaries.
    pub work: &'a Path,
}

/// Every package's definition, from the plan, the PKI, the rendered files and scriptlets and the fetched artifacts.
pub fn assemble(
    plan: &Plan,
    pki: &Pki,
    rendered: &[Rendered],
    scriptlets: &[Scriptlets],
    fetched: &[Fetched],
    images: Option<&[PulledImage]>,
) -> Result<Vec<PackageSpec>> {
    let mut specs = Vec::new();
    // el7 packaging names licenses the Fedora way ("ASL 2.0"), as rpmlint there expects.
    let license_of = |artifact: Option<&str>| {
        if artifact == Some("docker") {
            "ASL 2.0 and MIT".to_string()
        } else {
            "ASL 2.0".to_string()
        }
    };
    for p in &plan.packages {
        // The files the plan resolved from specs/packages.yaml, each with its bytes.
        let mut files: Vec<FileEntry> = Vec::new();
        let mut origin: Option<(String, PathBuf)> = None;
        for c in &p.contents {
            let (content, sha256) = match &c.source {
                Source::Template(_) => {
                    let r = rendered
                        .iter()
                        .find(|r| r.package == p.name && r.path == c.dst.as_str())
                        .ok_or_else(|| Error::Internal(format!("package {}: {} was not rendered", p.name, c.dst)))?;
                    let bytes = r.content.clone().into_bytes();
                    let sha = hex::encode(sha2::Sha256::digest(&bytes));
                    (Content::Bytes(bytes), sha)
                }
                Source::Pki(id) => {
                    let it = pki.item(id).ok_or_else(|| Error::Internal(format!("package {}: {}: the PKI made no item {id}", p.name, c.dst)))?;
                    let bytes = crate::files::read_regular(&it.path, crate::files::SMALL)?;
                    let sha = hex::encode(sha2::Sha256::digest(&bytes));
                    (Content::Bytes(bytes), sha)
                }
                // Extracted only if the package is not in the package cache (see `prepare`).
                Source::Member { artifact, .. } => {
                    let f = fetched
                        .iter()
                        .find(|f| &f.name == artifact)
                        .ok_or_else(|| Error::Internal(format!("package {}: artifact {artifact} was not fetched", p.name)))?;
                    origin = Some((f.expected_digest.to_string(), f.path.clone()));
                    (Content::Path(PathBuf::new()), String::new())
                }
                Source::Image(name) => {
                    let Some(images) = images else { continue };
                    let (path, sha) = images
                        .iter()
                        .find(|i| &i.name == name)
                        .and_then(|i| i.files.get(c.dst.file_name()))
                        .ok_or_else(|| Error::Internal(format!("package {}: {}: the images stage wrote no such file for image {name}", p.name, c.dst)))?;
                    (Content::Path(path.clone()), sha.clone())
                }
                Source::Ghost => (Content::Bytes(Vec::new()), String::new()),
            };
            files.push(FileEntry {
                path: c.dst.to_string(),
                content,
                sha256,
                mode: c.mode.bits(),
                user: c.user.clone(),
                group: c.group.clone(),
                config: c.config,
                ghost: c.ghost,
            });
        }
        let dirs: Vec<DirEntry> =
            p.dirs.iter().map(|d| DirEntry { path: d.path.to_string(), mode: d.mode.bits(), user: d.user.clone(), group: d.group.clone() }).collect();
        let sc = scriptlets.iter().find(|s| s.package == p.name).cloned().unwrap_or_default();
        let (pretrans, pre, post, preun, postun) = (sc.pretrans, sc.pre, sc.post, sc.preun, sc.postun);
        // Requirements as the spec lists them: on other packages, then Requires(pre), then on the OS.
        let always = |n: &String| Dep { name: n.clone(), exact: None, when: When::Always };
        let pre_dep = |n: &String| Dep { name: n.clone(), exact: None, when: When::Pre };
        let mut requires: Vec<Dep> = p.requires.iter().filter(|r| !p.requires_pre.contains(r)).map(always).collect();
        requires.extend(p.requires_pre.iter().map(pre_dep));
        requires.extend(p.system_requires.iter().map(always));
        requires.extend(p.system_requires_pre.iter().map(pre_dep));
        specs.push(PackageSpec {
            name: p.name.clone(),
            kind: p.kind,
            version: p.version.clone(),
            release: 1,
            summary: p.summary.clone(),
            description: format!("{}.\nBuilt by bundler for cluster {} (Kubernetes {}).", p.summary, plan.bundle_name, plan.versions.kubernetes),
            arch: if matches!(p.kind, PackageKind::Role | PackageKind::Config) { Arch::Noarch } else { Arch::X86_64 },
            license: license_of(p.artifact.as_deref()),
            requires,
            conflicts: p.conflicts.clone(),
            files,
            dirs,
            pretrans,
            pre,
            post,
            preun,
            postun,
            build_time: 0,
            origin_digest: origin.as_ref().map(|o| o.0.clone()),
            origin_tarball: origin.map(|o| o.1),
        });
    }
    // Binary packages must be the same for every cluster: no cluster name in them.
    for s in specs.iter_mut().filter(|s| s.kind == PackageKind::Binary) {
        s.description = format!("{}.\nUnchanged upstream files, packaged by bundler.", s.summary);
    }
    // Role packages pin what they require to exact versions, set below once releases are known.
    Ok(specs)
}

/// Packages ready to write: releases given, requirements pinned, binaries extracted.
pub struct Prepared {
    specs: Vec<PackageSpec>,
    keys: Vec<PathBuf>,
    /// For binary packages reused from the package cache: their checked sha256 and size.
    verified: Vec<Option<(String, u64)>>,
    changed: BTreeSet<String>,
    releases: Releases,
}

/// Give each package its release (stable while unchanged), pin exact requirements, and
/// build (or reuse) every RPM into `out_dir`.
pub fn build(specs: Vec<PackageSpec>, opts: &Options) -> Result<Vec<Built>> {
    let p = prepare(specs, opts)?;
    write_all(p, opts)
}

/// Number the packages and extract what the packages to be built need from the tarballs.
pub fn prepare(mut specs: Vec<PackageSpec>, opts: &Options) -> Result<Prepared> {
    let rel_path = crate::layout::state::releases(opts.state);
    let mut releases: Releases =
        crate::files::read_regular_string(&rel_path, crate::files::SMALL).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let mut changed = BTreeSet::new();
    // Binary packages first: their content does not depend on other packages' releases.
    // A role package another role package requires (etcd's, when colocated) comes before it.
    let required_by_roles: BTreeSet<String> =
        specs.iter().filter(|s| s.kind == PackageKind::Role).flat_map(|s| s.requires.iter().map(|d| d.name.clone())).collect();
    specs.sort_by_key(|s| match s.kind {
        PackageKind::Binary | PackageKind::Images => 0,
        PackageKind::Config => 1,
        PackageKind::Role if required_by_roles.contains(&s.name) => 2,
        PackageKind::Role => 3,
    });
    for i in 0..specs.len() {
        // Pin requirements on packages already numbered.
        let evrs: BTreeMap<String, String> = specs[..i].iter().map(|s| (s.name.clone(), s.evr())).collect();
        let spec = &mut specs[i];
        for d in spec.requires.iter_mut() {
            if let Some(evr) = evrs.get(&d.name) {
                if spec.kind == PackageKind::Role || (spec.kind == PackageKind::Config && d.when == When::Always) {
                    d.exact = Some(evr.clone());
                }
            }
        }
        let content = spec.content_hash();
        let rec = releases.packages.get(&spec.name).cloned();
        let (release, time) = match rec {
            Some(r) if r.content == content && r.version == spec.version.as_str() => (r.release, r.time),
            Some(r) if r.version == spec.version.as_str() => {
                changed.insert(spec.name.clone());
                (r.release + 1, opts.now)
            }
            _ => {
                changed.insert(spec.name.clone());
                (1, opts.now)
            }
        };
        spec.release = release;
        spec.build_time = opts.source_date.unwrap_or(time);
        releases.packages.insert(spec.name.clone(), ReleaseRecord { version: spec.version.to_string(), release, content, time });
    }
    // Binary packages already in the package cache are reused; the others need their files
    // out of the upstream tarballs, each tarball read once for all its packages.
    let keys: Vec<PathBuf> = specs.iter().map(|s| cached_path(s, opts)).collect();
    let verified: Vec<Option<(String, u64)>> =
        specs.iter().zip(&keys).map(|(s, k)| if s.kind == PackageKind::Binary { verified_cached(k) } else { None }).collect();
    let mut wanted: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for ((s, _), v) in specs.iter().zip(&keys).zip(&verified) {
        if s.kind == PackageKind::Binary && v.is_none() {
            let names = s.files.iter().map(|f| f.path.rsplit('/').next().unwrap().to_string());
            wanted.entry(s.origin_tarball.clone().unwrap()).or_default().extend(names);
        }
    }
    // Tarballs are extracted in parallel (the Kubernetes one is most of the work).
    let mut extracted: BTreeMap<(PathBuf, String), (PathBuf, String)> = BTreeMap::new();
    let results: Vec<Result<extract::Extracted>> = std::thread::scope(|sc| {
        let handles: Vec<_> = wanted
            .iter()
            .enumerate()
            .map(|(i, (tar, names))| {
                let names: Vec<String> = names.iter().cloned().collect();
                let dir = opts.work.join(format!("artifact-{i}"));
                sc.spawn(move || extract::files(tar, &names, &dir))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("extraction panicked".into())))).collect()
    });
    for ((tar, _), r) in wanted.iter().zip(results) {
        for (n, p, sha) in r? {
            extracted.insert((tar.clone(), n), (p, sha));
        }
    }
    for (s, v) in specs.iter_mut().zip(&verified) {
        if s.kind == PackageKind::Binary && v.is_none() {
            let tar = s.origin_tarball.clone().unwrap();
            for f in s.files.iter_mut() {
                let (p, sha) = extracted[&(tar.clone(), f.path.rsplit('/').next().unwrap().to_string())].clone();
                f.content = Content::Path(p);
                f.sha256 = sha;
            }
        }
    }
    Ok(Prepared { specs, keys, verified, changed, releases })
}

/// Write (or take from the package cache) every package of `p` into `out_dir`.
pub fn write_all(p: Prepared, opts: &Options) -> Result<Vec<Built>> {
    let Prepared { specs, keys, verified, changed, releases } = p;
    let rel_path = crate::layout::state::releases(opts.state);
    // Write the packages, the biggest first, a few at a time; each compresses on several cores.
    std::fs::create_dir_all(opts.out_dir).map_err(|source| Error::Write { path: opts.out_dir.to_path_buf(), source })?;
    let size = |s: &PackageSpec| -> u64 {
        s.files
            .iter()
            .map(|f| match &f.content {
                Content::Bytes(b) => b.len() as u64,
                Content::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            })
            .sum()
    };
    let mut order: Vec<(u64, usize)> = specs.iter().enumerate().map(|(i, s)| (if verified[i].is_some() { 0 } else { size(s) }, i)).collect();
    order.sort();
    let results = std::sync::Mutex::new(Vec::new());
    let queue = std::sync::Mutex::new(order);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::thread::scope(|sc| {
        for _ in 0..opts.jobs.max(1) {
            sc.spawn(|| loop {
                let Some((_, i)) = queue.lock().unwrap().pop() else { break };
                let r = build_one(&specs[i], &keys[i], verified[i].as_ref(), opts, threads);
                results.lock().unwrap().push((specs[i].name.clone(), r));
            });
        }
    });
    let mut out = Vec::new();
    for (name, r) in results.into_inner().unwrap() {
        let mut b = r.map_err(|e| Error::Package { name: name.clone(), source: Box::new(e) })?;
        b.changed = changed.contains(&name);
        out.push(b);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    crate::files::write_private(&rel_path, serde_json::to_string_pretty(&releases).unwrap().as_bytes())?;
    Ok(out)
}

/// Where a binary package, identical for every cluster, is kept between builds: keyed by its
/// content (the artifact's digest), release, time and the signing key.
fn cached_path(spec: &PackageSpec, opts: &Options) -> PathBuf {
    let key = hex::encode(sha2::Sha256::digest(format!(
        "{}|{}|{}|{}|{}",
        spec.content_hash(),
        spec.release,
        spec.build_time,
        opts.key.fingerprint,
        env!("CARGO_PKG_VERSION")
    )));
    crate::layout::cache::rpms(opts.cache_dir).join(key).join(spec.file_name())
}

/// Beside a cached package: the sha256 it had when it was built.
fn recorded_digest_path(cached: &Path) -> PathBuf {
    cached.with_extension("rpm.sha256")
}

/// A cached package whose content still has the digest recorded when it was built; one that
/// changed on disk since (or has no record) is removed, so it is built again and never signed
/// into a repository.
fn verified_cached(cached: &Path) -> Option<(String, u64)> {
    std::fs::symlink_metadata(cached).ok().filter(|m| m.is_file())?;
    let want = crate::files::read_regular_string(&recorded_digest_path(cached), 1024).ok();
    let got = hash_and_size(cached).ok();
    match (want, got) {
        (Some(w), Some(g)) if w.trim() == g.0 => Some(g),
        _ => {
            let _ = std::fs::remove_file(cached);
            None
        }
    }
}

fn build_one(spec: &PackageSpec, cached: &Path, verified: Option<&(String, u64)>, opts: &Options, threads: usize) -> Result<Built> {
    let file_name = spec.file_name();
    let dst = opts.out_dir.join(&file_name);
    let reusable = spec.kind == PackageKind::Binary;
    let built = |cached_hit: bool, (sha256, size): (String, u64)| Built {
        name: spec.name.clone(),
        version: spec.version.to_string(),
        release: spec.version_release().release_tag(),
        file_name: file_name.clone(),
        path: dst.clone(),
        sha256,
        size,
        cached: cached_hit,
        changed: false,
        build_time: spec.build_time,
        cache_entry: reusable.then(|| cached.to_path_buf()),
    };
    let recorded = recorded_digest_path(cached);
    if let (true, Some(v)) = (reusable, verified) {
        // Checked against the digest recorded when it was built (in `prepare`); a hard link
        // shares that very inode, a copy is hashed again.
        let tmp = dst.with_extension("rpm.partial");
        let _ = std::fs::remove_file(&tmp);
        if std::fs::hard_link(cached, &tmp).is_ok() {
            std::fs::rename(&tmp, &dst).map_err(|source| Error::Write { path: dst.clone(), source })?;
            return Ok(built(true, v.clone()));
        }
        copy_atomic(cached, &dst)?;
        let got = hash_and_size(&dst)?;
        if got != *v {
            return Err(Error::Damaged {
                path: cached.to_path_buf(),
                problem: "changed while it was copied out of the package cache; run the build again".into(),
            });
        }
        return Ok(built(true, got));
    }
    let written = stream::write(spec, &dst, opts.key, threads)?;
    if reusable {
        let _ = std::fs::create_dir_all(cached.parent().unwrap());
        if crate::files::write_atomic(&recorded, format!("{}\n", written.0).as_bytes(), 0o600).is_ok() {
            let _ = copy_atomic(&dst, cached);
        }
    }
    Ok(built(false, written))
}

fn hash_and_size(p: &Path) -> Result<(String, u64)> {
    crate::digest::hash_file(p, crate::digest::Algo::Sha256).map(|(d, n)| (d.hex, n)).map_err(|source| Error::Read { path: p.to_path_buf(), source })
}

/// A hard link when both sides are on one file system (the package cache and the staging
/// folder both live in the cache folder), else a copy; either way through a temporary name.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("rpm.partial");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).map_err(|source| Error::Write { path: to.to_path_buf(), source })?;
    }
    std::fs::rename(&tmp, to).map_err(|source| Error::Write { path: to.to_path_buf(), source })
}
