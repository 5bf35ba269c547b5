//! The fetch stage: which files the plan wants (`Want::from_plan`), where to look for them
//! (`mirror_list`) and `--export`. Downloading itself (the HTTP client, retries, the cache
//! keyed by digest) is the `download` leaf, re-exported here for the stage's callers.

pub mod os;

use std::fs;
use std::path::{Path, PathBuf};

use crate::digest::{hash_file, Algo};
pub use crate::download::*;
use crate::error::{Error, Result};
use crate::plan::Plan;

impl Want {
    pub fn from_plan(plan: &Plan) -> Vec<Want> {
        plan.artifacts
            .iter()
            .map(|a| {
                let mut upstream = vec![a.url.clone()];
                upstream.extend(a.alternate_urls.iter().cloned());
                Want { name: a.name.clone(), version: a.version.clone(), file_name: a.file_name.clone(), digest: a.digest.clone(), upstream }
            })
            .collect()
    }
}

/// `--mirror`, then `BUNDLER_MIRRORS`, then the inventory's `bundler_mirrors`.
pub fn mirror_list(cli: &[String], plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = cli.to_vec();
    if let Ok(env) = std::env::var("BUNDLER_MIRRORS") {
        v.extend(env.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string));
    }
    v.extend(plan.mirrors.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|m| seen.insert(m.trim_end_matches('/').to_string()));
    v
}

/// `--export DIR`: the fetched files by name plus `SHA256SUMS`, a flat mirror folder.
pub fn export(fetched: &[Fetched], dir: &Path) -> Result<PathBuf> {
    export_with_os(fetched, None, dir)
}

/// `--export DIR` with the OS packages and their verified key too (by file name, so the folder
/// works as `--mirror file://DIR`; each is checked again when it is used).
pub fn export_with_os(fetched: &[Fetched], os: Option<&os::OsFetched>, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let mut sums = Vec::new();
    for f in fetched {
        let dst = dir.join(&f.file_name);
        let tmp = dir.join(format!(".{}.partial", f.file_name));
        let w = |source| Error::Write { path: dst.clone(), source };
        fs::copy(&f.path, &tmp).map_err(w)?;
        let (d, _) = hash_file(&tmp, Algo::Sha256).map_err(w)?;
        // Check the copy against the verified digest too.
        let (again, _) = hash_file(&tmp, f.expected_digest.algo).map_err(w)?;
        if again != f.expected_digest {
            let _ = fs::remove_file(&tmp);
            return Err(Error::Mismatch { path: dst.clone(), expected: f.expected_digest.to_string(), actual: again.to_string() });
        }
        fs::rename(&tmp, &dst).map_err(w)?;
        sums.push(format!("{}  {}\n", d.hex, f.file_name));
    }
    if let Some(os) = os {
        let key_file = os.key_path.clone();
        let key_name = std::path::PathBuf::from(&os.key_name);
        for (src, name) in os.packages.iter().map(|p| (p.path.clone(), std::path::PathBuf::from(&p.file_name))).chain([(key_file, key_name)]) {
            let dst = dir.join(&name);
            let tmp = dir.join(format!(".{}.partial", name.display()));
            let w = |source| Error::Write { path: dst.clone(), source };
            fs::copy(&src, &tmp).map_err(w)?;
            let (d, _) = hash_file(&tmp, Algo::Sha256).map_err(w)?;
            fs::rename(&tmp, &dst).map_err(w)?;
            sums.push(format!("{}  {}\n", d.hex, name.display()));
        }
    }
    sums.sort_by(|a, b| a[66..].cmp(&b[66..]));
    let p = dir.join("SHA256SUMS");
    cache::write_atomic(&p, sums.concat().as_bytes()).map_err(|source| Error::Write { path: p.clone(), source })?;
    Ok(p)
}
