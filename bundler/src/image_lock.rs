//! `bundler.lock`: the digests of images no one publishes a digest for (catalog entries with
//! `trust: first-pull`). The first pull by tag records the digest and the day; every later
//! pull is by that digest, and a tag that now names other content is refused. The file sits
//! beside the inventory, is written atomically and is meant to be reviewed like `Cargo.lock`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::{Algo, Digest};
use crate::error::{Diagnostic, Diagnostics, Error, Loc, Result};
use crate::model::PulledImage;
use crate::plan::Plan;

use crate::names::IMAGE_LOCK as FILE_NAME;
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// Keyed by the image reference as the catalog or inventory gives it (`name:tag`).
    pub images: BTreeMap<String, Locked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The manifest (or manifest list) digest the tag named on the first pull.
    pub digest: String,
    /// The day of the first pull, UTC, `YYYY-MM-DD`.
    pub pinned_on: String,
}

/// `bundler.lock` beside the inventory.
pub fn path_for(inventory: &Path) -> PathBuf {
    inventory.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join(FILE_NAME)
}

/// Read the lock; a missing file is an empty lock. Bad content is bad input naming file:line.
pub fn load(path: &Path) -> Result<Lock> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock { version: VERSION, images: BTreeMap::new() }),
        Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
    };
    let file = Arc::new(path.to_path_buf());
    let bad = |line: usize, col: usize, msg: String| {
        let loc = Loc::new(&file, line as u32, col as u32);
        Error::Input(Diagnostics(vec![Diagnostic::error(Some(loc), msg)
            .note(format!("help: fix the entry, or delete it (or the whole {FILE_NAME}) to pin the image again on the next pull"))]))
    };
    let lock: Lock = serde_json::from_str(&text).map_err(|e| bad(e.line(), e.column(), format!("not a {FILE_NAME}: {e}")))?;
    if lock.version != VERSION {
        return Err(bad(1, 1, format!("{FILE_NAME} version {} is not {VERSION}, the one this bundler writes", lock.version)));
    }
    for (reference, l) in &lock.images {
        let (line, col) = position_of(&text, reference);
        if !l.digest.starts_with("sha256:") || Digest::parse(Algo::Sha256, &l.digest).is_err() {
            return Err(bad(line, col, format!("`{reference}`: digest `{}` is not `sha256:` and 64 lowercase hex characters", l.digest)));
        }
        if !is_day(&l.pinned_on) {
            return Err(bad(line, col, format!("`{reference}`: pinned_on `{}` is not a date such as 2018-03-01", l.pinned_on)));
        }
    }
    Ok(lock)
}

fn is_day(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    let num = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    p.len() == 3
        && num(p[0], 4)
        && num(p[1], 2)
        && num(p[2], 2)
        && time::Month::try_from(p[1].parse::<u8>().unwrap_or(0))
            .ok()
            .and_then(|m| time::Date::from_calendar_date(p[0].parse().unwrap_or(0), m, p[2].parse().unwrap_or(0)).ok())
            .is_some()
}

fn position_of(text: &str, reference: &str) -> (usize, usize) {
    let needle = format!("\"{reference}\"");
    match text.find(&needle) {
        Some(i) => {
            let before = &text[..i];
            (before.matches('\n').count() + 1, i - before.rfind('\n').map(|j| j + 1).unwrap_or(0) + 1)
        }
        None => (1, 1),
    }
}

/// Give the plan's first-pull images the digest and day the lock holds for them.
pub fn apply(plan: &mut Plan, lock: &Lock) {
    for img in &mut plan.images {
        let Some(fp) = &mut img.first_pull else { continue };
        if let Some(l) = lock.images.get(&img.reference) {
            img.digest = l.digest.clone();
            fp.pinned_on = Some(l.pinned_on.clone());
        }
    }
}

/// After a pull: record the digests of first-pull images the lock did not hold yet, in the
/// plan (so the manifest and SBOM list them) and in the lock file (written atomically).
/// Returns the references newly pinned.
pub fn record(path: &Path, plan: &mut Plan, pulled: &[PulledImage], today: &str) -> Result<Vec<String>> {
    let mut lock = load(path)?;
    let mut added = Vec::new();
    for img in &mut plan.images {
        let Some(fp) = &mut img.first_pull else { continue };
        let Some(p) = pulled.iter().find(|p| p.name == img.name) else { continue };
        if img.digest.is_empty() {
            img.digest = p.manifest_digest.clone();
            fp.pinned_on = Some(today.to_string());
        }
        if !lock.images.contains_key(&img.reference) {
            lock.images.insert(img.reference.clone(), Locked { digest: img.digest.clone(), pinned_on: fp.pinned_on.clone().unwrap_or_else(|| today.into()) });
            added.push(img.reference.clone());
        }
    }
    if !added.is_empty() {
        write(path, &lock)?;
    }
    Ok(added)
}

fn write(path: &Path, lock: &Lock) -> Result<()> {
    let mut body = serde_json::to_string_pretty(lock).expect("a lock serialises");
    body.push('\n');
    let tmp = path.with_extension("lock.partial");
    std::fs::write(&tmp, body)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn day(unix: u64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(unix as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lock_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        assert_eq!(load(&p).unwrap().images.len(), 0, "a missing lock is empty");
        std::fs::write(&p, "{\"version\": 1,\n \"images\": {\n  \"busybox:1.28.4\": {\"digest\": \"sha256:AB\", \"pinned_on\": \"2026-12-01\"}}}\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains(":3:3") && e.contains("busybox:1.28.4") && e.contains("not `sha256:`"), "{e}");
        std::fs::write(&p, "{\"version\": 1, \"images\": {}, \"extra\": 1}").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("unknown field"));
        assert_eq!(day(1700000000), "2023-11-14");
    }
}
