//! OS packages: the vendor's RPMs (CentOS 7), fetched by exact file name and accepted only
//! when CentOS's own RPM signature verifies against the pinned release key.
//!
//! CentOS publishes a per-RPM SHA-256 only in its repodata, so these files are not keyed by
//! a digest known in advance. The cache keeps them under the key's fingerprint and the
//! NEVRA (`os/<FINGERPRINT>/<nevra>.rpm`), written only after the signature (and a pinned
//! SHA-256, if any) verified, and checks the signature again every time it is used: a file
//! there that no longer verifies is dropped and fetched again. The key itself is cached as
//! `os/keys/<FINGERPRINT>.asc`, accepted only when its fingerprint is the pinned one.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::Options;
use crate::digest::{Algo, Digest};
use crate::error::{Error, Result};
pub use crate::model::{FetchedOs, OsFetched};
use crate::plan::{OsPackage, Plan};
use crate::report::Outcome;

/// `--os-mirror`, then `BUNDLER_OS_MIRRORS`, then the inventory's `bundler_os_mirrors`.
pub fn os_mirror_list(cli: &[String], plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = cli.to_vec();
    if let Ok(env) = std::env::var("BUNDLER_OS_MIRRORS") {
        v.extend(env.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string));
    }
    v.extend(plan.os_mirrors.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|m| seen.insert(m.trim_end_matches('/').to_string()));
    v
}

/// Read one source: `file://` from disk, else one HTTP GET (these files are small: no resume).
fn get(client: Option<&reqwest::blocking::Client>, url: &str) -> std::result::Result<Vec<u8>, String> {
    if let Some(p) = url.strip_prefix("file://") {
        return fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
    }
    let Some(c) = client else { return Err("--offline: not downloaded".into()) };
    let resp = c.get(url).send().map_err(|e| format!("cannot download: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let mut b = Vec::new();
    resp.take(512 * 1024 * 1024).read_to_end(&mut b).map_err(|e| format!("connection broke: {e}"))?;
    Ok(b)
}

fn sources(opts: &Options, os_mirrors: &[String], sub: &str, file: &str, upstream: &[String]) -> Vec<String> {
    let mut v: Vec<String> = opts.mirrors.iter().map(|m| format!("{}/{file}", m.trim_end_matches('/'))).collect();
    v.extend(os_mirrors.iter().map(|m| format!("{}/{sub}{file}", m.trim_end_matches('/'))));
    if !opts.no_upstream {
        v.extend(upstream.iter().cloned());
    }
    v
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap();
    fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    super::cache::write_atomic(path, bytes).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// Fetch the vendor key and every OS package of the plan; nothing unverified is cached.
pub fn fetch_os(plan: &Plan, opts: &Options, os_mirrors: &[String]) -> Result<Option<OsFetched>> {
    let Some(key) = plan.os_key.as_ref().filter(|_| !plan.os_packages.is_empty()) else {
        return Ok(None);
    };
    super::validate_mirrors(os_mirrors)?;
    let client = if opts.offline { None } else { Some(super::client(opts.ca_cert.as_deref(), opts.stall_timeout)?) };
    let root = crate::layout::cache::os(&opts.cache);

    // The key: cached by fingerprint, else from the sources, accepted only with the pinned fingerprint.
    let key_path = root.join(crate::layout::cache::OS_KEYS).join(format!("{}.asc", key.fingerprint));
    let cached = fs::read_to_string(&key_path).ok().filter(|t| crate::signing::public_fingerprint(t).as_deref() == Ok(key.fingerprint.as_str()));
    let key_armored = match cached {
        Some(t) => t,
        None => {
            let mut reasons = Vec::new();
            let mut found = None;
            for url in sources(opts, os_mirrors, "", &key.file_name, std::slice::from_ref(&key.url)) {
                match get(client.as_ref(), &url).and_then(|b| String::from_utf8(b).map_err(|_| "not an armoured OpenPGP key (not text)".into())) {
                    Ok(text) => match crate::signing::public_fingerprint(&text) {
                        Ok(fp) if fp == key.fingerprint => {
                            found = Some(text);
                            break;
                        }
                        Ok(fp) => reasons.push(format!("{url}: its fingerprint is {fp}, the catalog pins {}", key.fingerprint)),
                        Err(e) => reasons.push(format!("{url}: {e}")),
                    },
                    Err(e) => reasons.push(format!("{url}: {e}")),
                }
            }
            let Some(text) = found else {
                return Err(Error::OsKey { name: key.name.clone(), fingerprint: key.fingerprint.clone(), file_name: key.file_name.clone(), reasons });
            };
            write_atomic(&key_path, text.as_bytes())?;
            text
        }
    };

    let mut out = Vec::new();
    let mut failed = Vec::new();
    for p in &plan.os_packages {
        match fetch_package(p, &key_armored, key, opts, os_mirrors, client.as_ref(), &root) {
            Ok(f) => out.push(f),
            Err(e) => failed.push(e),
        }
    }
    if !failed.is_empty() {
        return Err(Error::OsPackages { key_name: key.name.clone(), fingerprint: key.fingerprint.clone(), refused: failed });
    }
    Ok(Some(OsFetched { key_name: key.name.clone(), key_fingerprint: key.fingerprint.clone(), key_armored, key_path, packages: out }))
}

/// The checks a package must pass: the vendor's signature, the NEVRA it claims, and the pinned SHA-256.
fn check(p: &OsPackage, path: &Path, key_armored: &str) -> std::result::Result<(Vec<String>, String), String> {
    let sigs = crate::rpmfile::verify_vendor_signature(path, key_armored)?;
    let info = crate::rpmfile::read_info(path).map_err(|e| e.to_string())?;
    let nevra = format!("{}-{}-{}.{}", info.name, info.version, info.release, info.arch);
    if nevra != p.nevra {
        return Err(format!("it is {nevra}, not {}", p.nevra));
    }
    let (d, _) = crate::digest::hash_file(path, Algo::Sha256).map_err(|e| e.to_string())?;
    if let Some(want) = &p.sha256 {
        if &d.to_string() != want {
            return Err(format!("SHA-256 mismatch: expected {want}, got {d}"));
        }
    }
    Ok((sigs, d.hex))
}

fn fetch_package(
    p: &OsPackage,
    key_armored: &str,
    key: &crate::catalog::OsKey,
    opts: &Options,
    os_mirrors: &[String],
    client: Option<&reqwest::blocking::Client>,
    root: &Path,
) -> std::result::Result<FetchedOs, String> {
    let dir = root.join(&key.fingerprint);
    let final_path = dir.join(&p.file_name);
    let done = |url: String, sigs: Vec<String>, sha: String, outcome: Outcome| FetchedOs {
        name: p.name.clone(),
        nevra: p.nevra.clone(),
        file_name: p.file_name.clone(),
        url,
        bytes: fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0),
        sha256: sha,
        outcome,
        signed_by: key.fingerprint.clone(),
        signatures: sigs,
        path: final_path.clone(),
    };
    if final_path.exists() {
        match check(p, &final_path, key_armored) {
            Ok((sigs, sha)) => return Ok(done(final_path.display().to_string(), sigs, sha, Outcome::Cached)),
            // Damaged after it was verified: fetch it again.
            Err(_) => {
                let _ = fs::remove_file(&final_path);
            }
        }
    }
    fs::create_dir_all(&dir).map_err(|e| format!("  {}: cache {}: {e}", p.nevra, dir.display()))?;
    let mut reasons = Vec::new();
    for url in sources(opts, os_mirrors, "Packages/", &p.file_name, &p.urls) {
        let bytes = match get(client, &url) {
            Ok(b) => b,
            Err(e) => {
                reasons.push(format!("    {url}: {e}"));
                continue;
            }
        };
        // A temporary file of this process's own (O_EXCL, random name) beside the final one: two
        // builds sharing a cache never check or rename each other's half-written copy.
        let part = match crate::files::create_temp_beside(&final_path, 0o644).and_then(|(mut f, part)| {
            use std::io::Write;
            f.write_all(&bytes).and_then(|_| f.sync_all()).map(|_| part)
        }) {
            Ok(part) => part,
            Err(e) => {
                reasons.push(format!("    {url}: writing beside {}: {e}", final_path.display()));
                continue;
            }
        };
        match check(p, &part, key_armored) {
            Ok((sigs, sha)) => {
                fs::rename(&part, &final_path).map_err(|e| format!("  {}: {}: {e}", p.nevra, final_path.display()))?;
                let outcome = if url.starts_with("file://") { Outcome::Copied } else { Outcome::Downloaded };
                return Ok(done(url, sigs, sha, outcome));
            }
            Err(e) => {
                let _ = fs::remove_file(&part);
                reasons.push(format!("    {url}: {e}"));
            }
        }
    }
    if reasons.is_empty() {
        reasons.push("    no source: --no-upstream and no mirror".into());
    }
    Err(format!("  {} ({}):\n{}", p.nevra, p.file_name, reasons.join("\n")))
}

/// The digest a verified OS package is listed with (manifest, SBOM, SHA256SUMS).
pub fn digest_of(f: &FetchedOs) -> Digest {
    Digest { algo: Algo::Sha256, hex: f.sha256.clone() }
}
