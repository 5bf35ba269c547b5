//! Housekeeping of the cache folder (`bundler cache`): what it holds and how big it is,
//! pruning what none of the recent builds and fetches used (each records what it used in
//! `uses/`), re-hashing downloads; and the check that keeps a state folder out of git.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::hash_file;
use crate::digest::{Algo, Digest};
use crate::download::cache::Cache;
use crate::error::{Error, Result};
use crate::layout::cache::{FILES, OS, RPMS};

/// What one build or fetch used: cache entries (paths relative to the cache) and what they are.
#[derive(Serialize, Deserialize, Default)]
struct UseRecord {
    time: u64,
    entries: BTreeMap<String, String>,
}

fn rel(cache: &Path, p: &Path) -> Option<String> {
    p.strip_prefix(cache).ok().map(|r| r.to_string_lossy().into_owned())
}

/// Record which cache entries a build or fetch used, so `bundler cache prune` keeps them.
/// Best effort: a cache that cannot take the record loses nothing but pruning precision.
pub fn record_use(
    cache: &Path,
    fetched: &[crate::model::Fetched],
    os: Option<&crate::model::OsFetched>,
    images: &[crate::model::PulledImage],
    built: &[crate::model::Built],
) {
    let mut entries = BTreeMap::new();
    for f in fetched {
        if let Some(r) = rel(cache, &f.path) {
            entries.insert(r, format!("{} {} ({})", f.name, f.version, f.file_name));
        }
    }
    if let Some(os) = os {
        if let Some(r) = rel(cache, &os.key_path) {
            entries.insert(r, format!("OS package key {} ({})", os.key_name, os.key_fingerprint));
        }
        for p in &os.packages {
            if let Some(r) = rel(cache, &p.path) {
                entries.insert(r, format!("OS package {}", p.nevra));
            }
        }
    }
    let c = Cache { root: cache.to_path_buf() };
    for i in images {
        for (d, what) in [(&i.manifest_digest, "manifest"), (&i.image_manifest_digest, "manifest"), (&i.config_digest, "config")]
            .into_iter()
            .chain(i.layers.iter().map(|l| (l, "layer")))
        {
            if let Ok(digest) = Digest::parse(Algo::Sha256, d) {
                if let Some(r) = rel(cache, &c.path(&digest)) {
                    entries.insert(r, format!("image {} {what}", i.name));
                }
            }
        }
    }
    for b in built {
        if let Some(dir) = b.cache_entry.as_ref().and_then(|p| p.parent()) {
            if let Some(r) = rel(cache, dir) {
                entries.insert(r, b.file_name.clone());
            }
        }
    }
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let rec = UseRecord { time, entries };
    let p = crate::layout::cache::uses(cache).join(format!("{time:012}-{}.json", std::process::id()));
    let _ = crate::download::cache::write_atomic(&p, serde_json::to_string_pretty(&rec).unwrap().as_bytes());
}

fn records(cache: &Path) -> Vec<(PathBuf, UseRecord)> {
    let mut v: Vec<(PathBuf, UseRecord)> = std::fs::read_dir(crate::layout::cache::uses(cache))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| std::fs::read_to_string(&p).ok().and_then(|t| serde_json::from_str(&t).ok()).map(|r| (p, r)))
        .collect();
    // Newest first.
    v.sort_by(|a, b| (b.1.time, &b.0).cmp(&(a.1.time, &a.0)));
    v
}

fn size_of(p: &Path) -> u64 {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| size_of(&e.path())).sum(),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The cache's entries: downloaded files (`files/<algo>/<hex>`), cached packages
/// (`rpms/<key>`) and the vendor's OS packages and keys (`os/<FINGERPRINT>/<nevra>.rpm`,
/// `os/keys/<FINGERPRINT>.asc`), relative to the cache; partial downloads (and an OS
/// package's temporary copy left by a process that died) are listed apart.
fn entries(cache: &Path) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut partial = Vec::new();
    for algo in ["sha1", "sha256", "sha512"] {
        for e in std::fs::read_dir(crate::layout::cache::files(cache).join(algo)).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = format!("{FILES}/{algo}/{name}");
            if name.contains(".partial") {
                partial.push(r);
            } else if !name.starts_with('.') {
                done.push(r);
            }
        }
    }
    for e in std::fs::read_dir(crate::layout::cache::rpms(cache)).into_iter().flatten().flatten() {
        done.push(format!("{RPMS}/{}", e.file_name().to_string_lossy()));
    }
    for dir in std::fs::read_dir(crate::layout::cache::os(cache)).into_iter().flatten().flatten().filter(|e| e.path().is_dir()) {
        let sub = dir.file_name().to_string_lossy().into_owned();
        for e in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = format!("{OS}/{sub}/{name}");
            if name.starts_with('.') {
                partial.push(r);
            } else {
                done.push(r);
            }
        }
    }
    done.sort();
    partial.sort();
    (done, partial)
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub path: String,
    pub bytes: u64,
    /// What it is, from the newest record naming it (empty when no record does).
    pub what: String,
    /// How many of the recorded builds and fetches used it (newest first counts 1).
    pub used_by_records: usize,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub cache: PathBuf,
    pub total_bytes: u64,
    pub files_bytes: u64,
    pub packages_bytes: u64,
    /// The vendor's OS packages and keys (`os/`).
    pub os_bytes: u64,
    pub partial_bytes: u64,
    pub staging_bytes: u64,
    pub records: usize,
    pub entries: Vec<Entry>,
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

impl Summary {
    pub fn to_text(&self, each: bool) -> String {
        let files = self.entries.iter().filter(|e| in_(&e.path, FILES)).count();
        let rpms = self.entries.iter().filter(|e| in_(&e.path, RPMS)).count();
        let os = self.entries.iter().filter(|e| in_(&e.path, OS) && e.path.ends_with(".rpm")).count();
        let mut s = format!("cache {}: {}\n", self.cache.display(), mib(self.total_bytes));
        s += &format!("  downloads   {files} file(s), {}\n", mib(self.files_bytes));
        s += &format!("  packages    {rpms} cached binary package(s), {}\n", mib(self.packages_bytes));
        s += &format!("  os packages {os} file(s) of the OS vendor, with its key, {}\n", mib(self.os_bytes));
        s += &format!("  partial     {}\n", mib(self.partial_bytes));
        s += &format!("  staging     {}\n", mib(self.staging_bytes));
        s += &format!("  records     {} build(s)/fetch(es) recorded\n", self.records);
        let unused = self.entries.iter().filter(|e| e.used_by_records == 0).count();
        if unused > 0 {
            s += &format!("  {unused} entr{} used by no recorded build or fetch: `bundler cache prune` removes them\n", if unused == 1 { "y" } else { "ies" });
        }
        if each {
            for e in &self.entries {
                s += &format!("{:>12}  {}  {}\n", mib(e.bytes), e.path, e.what);
            }
        }
        s
    }
}

/// What the cache holds and how big it is.
pub fn summary(cache: &Path) -> Result<Summary> {
    if !cache.is_dir() {
        return Err(Error::Read { path: cache.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such cache folder") });
    }
    let recs = records(cache);
    let (done, partial) = entries(cache);
    let mut out = Vec::new();
    for path in done {
        let bytes = size_of(&cache.join(&path));
        let what = recs.iter().find_map(|(_, r)| r.entries.get(&path).cloned()).unwrap_or_default();
        let used_by_records = recs.iter().filter(|(_, r)| r.entries.contains_key(&path)).count();
        out.push(Entry { path, bytes, what, used_by_records });
    }
    let files_bytes = out.iter().filter(|e| in_(&e.path, FILES)).map(|e| e.bytes).sum();
    let packages_bytes = out.iter().filter(|e| in_(&e.path, RPMS)).map(|e| e.bytes).sum();
    let os_bytes = out.iter().filter(|e| in_(&e.path, OS)).map(|e| e.bytes).sum();
    let partial_bytes = partial.iter().map(|p| size_of(&cache.join(p))).sum();
    Ok(Summary {
        cache: cache.to_path_buf(),
        total_bytes: size_of(cache),
        files_bytes,
        packages_bytes,
        os_bytes,
        partial_bytes,
        staging_bytes: size_of(&crate::layout::cache::staging(cache)),
        records: recs.len(),
        entries: out,
    })
}

#[derive(Debug, Serialize)]
pub struct Pruned {
    pub cache: PathBuf,
    pub dry_run: bool,
    pub kept_records: usize,
    pub removed: Vec<String>,
    pub removed_bytes: u64,
    pub kept: usize,
}

impl Pruned {
    pub fn to_text(&self) -> String {
        let verb = if self.dry_run { "would remove" } else { "removed" };
        let mut s = String::new();
        for r in &self.removed {
            s += &format!("{verb} {r}\n");
        }
        s += &format!(
            "{}: {verb} {} entr{} ({}); kept {} used by the {} most recent build(s)/fetch(es)\n",
            self.cache.display(),
            self.removed.len(),
            if self.removed.len() == 1 { "y" } else { "ies" },
            mib(self.removed_bytes),
            self.kept,
            self.kept_records
        );
        s
    }
}

fn live_builds(cache: &Path) -> Vec<i32> {
    std::fs::read_dir(crate::layout::cache::staging(cache))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.trim_start_matches("export-").parse::<i32>().ok()))
        .filter(|pid| *pid != std::process::id() as i32 && unsafe { libc::kill(*pid, 0) } == 0)
        .collect()
}

/// Remove every download, cached package and OS package or key that none of the `keep` most
/// recent recorded builds and fetches used, and the older records. Partial downloads stay (a later fetch
/// resumes them); a file another process holds locked stays.
pub fn prune(cache: &Path, keep: usize, dry_run: bool) -> Result<Pruned> {
    if keep == 0 {
        return Err(Error::Usage("--keep 0 would remove everything; give --keep 1 or more (or delete the cache folder)".into()));
    }
    let recs = records(cache);
    if recs.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no record of a build or fetch, so nothing is known to be in use; nothing was removed\nhelp: run `bundler build` or `bundler fetch` with this cache first",
            cache.display()
        )));
    }
    let live = live_builds(cache);
    if !live.is_empty() && !dry_run {
        return Err(Error::Busy {
            path: cache.to_path_buf(),
            pid: Some(live[0]),
            problem: format!("a build is running on this cache (process {}); prune when it has finished", live[0]),
        });
    }
    let kept_records = keep.min(recs.len());
    let used: BTreeSet<&String> = recs[..kept_records].iter().flat_map(|(_, r)| r.entries.keys()).collect();
    let c = Cache { root: cache.to_path_buf() };
    let (done, _) = entries(cache);
    let mut removed = Vec::new();
    let mut removed_bytes = 0;
    let mut kept = 0;
    for path in done {
        if used.contains(&path) {
            kept += 1;
            continue;
        }
        let full = cache.join(&path);
        // Files being fetched right now are locked by their digest; leave those alone.
        let digest = path.strip_prefix(FILES).and_then(|r| r.strip_prefix('/')).and_then(|r| r.split_once('/')).and_then(|(algo, hex)| {
            let algo = match algo {
                "sha1" => Algo::Sha1,
                "sha512" => Algo::Sha512,
                _ => Algo::Sha256,
            };
            Digest::parse(algo, hex).ok()
        });
        let _lock = match &digest {
            Some(d) if !dry_run => match c.try_lock(d) {
                Ok(Some(l)) => Some(l),
                _ => {
                    kept += 1;
                    continue;
                }
            },
            _ => None,
        };
        removed_bytes += size_of(&full);
        if !dry_run {
            let r = if full.is_dir() { std::fs::remove_dir_all(&full) } else { std::fs::remove_file(&full) };
            r.map_err(|source| Error::Write { path: full.clone(), source })?;
        }
        removed.push(path);
    }
    if !dry_run {
        for (p, _) in &recs[kept_records..] {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(Pruned { cache: cache.to_path_buf(), dry_run, kept_records, removed, removed_bytes, kept })
}

#[derive(Debug, Serialize)]
pub struct Verified {
    pub cache: PathBuf,
    pub checked: usize,
    pub bytes: u64,
    pub damaged: Vec<PathBuf>,
}

/// Re-hash every downloaded file against the digest it is stored under.
pub fn verify(cache: &Path) -> Result<Verified> {
    if !cache.is_dir() {
        return Err(Error::Read { path: cache.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such cache folder") });
    }
    let (done, _) = entries(cache);
    let mut checked = 0;
    let mut bytes = 0;
    let mut damaged = Vec::new();
    for path in done.iter().filter(|p| p.starts_with("files/")) {
        let Some((algo, hex)) = path["files/".len()..].split_once('/') else { continue };
        let algo = match algo {
            "sha1" => Algo::Sha1,
            "sha512" => Algo::Sha512,
            _ => Algo::Sha256,
        };
        let full = cache.join(path);
        let (got, n) = hash_file(&full, algo).map_err(|source| Error::Read { path: full.clone(), source })?;
        checked += 1;
        bytes += n;
        if got.hex != hex {
            damaged.push(full);
        }
    }
    Ok(Verified { cache: cache.to_path_buf(), checked, bytes, damaged })
}

/// When `state` would be inside a git work tree and git does not ignore it, the message to
/// refuse with: the state folder holds the root CA keys, which must never be committed.
pub fn state_in_git(state: &Path) -> Option<String> {
    let abs = if state.is_absolute() { state.to_path_buf() } else { std::env::current_dir().ok()?.join(state) };
    let top = abs.ancestors().skip(1).find(|a| a.join(".git").exists())?;
    let rel = abs.strip_prefix(top).ok()?;
    if rel.starts_with(".git") {
        return None;
    }
    // A trailing slash lets a `dir/` pattern match a folder that does not exist yet.
    let arg = format!("{}/", rel.display());
    let out = std::process::Command::new("git").arg("-C").arg(top).args(["check-ignore", "-q", "--"]).arg(&arg).output().ok()?;
    match out.status.code() {
        Some(1) => Some(format!(
            "the state folder {} is inside the git work tree {} and git does not ignore it: it holds the root CA keys, which must never be committed\nhelp: add `{}` to {}/.gitignore, or give --state (or $BUNDLER_STATE) a folder outside the work tree",
            state.display(),
            top.display(),
            arg,
            top.display()
        )),
        _ => None,
    }
}

/// Whether a cache-relative path lies in the top-level folder `dir`.
fn in_(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}
