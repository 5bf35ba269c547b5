//! Pull named files out of an upstream tarball (gzip-compressed tar), streaming.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::error::{Error, Result};

/// Extract regular files whose base name is one of `names` into `dir`. Every name must be
/// found exactly once. Returns (name, extracted path, sha256), in the order of `names`.
/// (member name, extracted path, sha256)
pub type Extracted = Vec<(String, PathBuf, String)>;

pub fn files(tarball: &Path, names: &[String], dir: &Path) -> Result<Extracted> {
    let bad = |problem: String| Error::Tarball { path: tarball.to_path_buf(), problem };
    let write = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write(dir))?;
    let f = std::fs::File::open(tarball).map_err(|source| Error::Read { path: tarball.to_path_buf(), source })?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 20, f));
    let mut ar = tar::Archive::new(gz);
    let mut found: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for entry in ar.entries().map_err(|e| bad(format!("not a tar.gz: {e}")))? {
        let mut entry = entry.map_err(|e| bad(format!("damaged tarball: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| bad(format!("a member name: {e}")))?.into_owned();
        let Some(base) = path.file_name().and_then(|b| b.to_str()).map(str::to_string) else {
            continue;
        };
        if !names.contains(&base) {
            continue;
        }
        if found.contains_key(&base) {
            return Err(bad(format!("`{base}` appears twice in the tarball")));
        }
        let out_path = dir.join(&base);
        let mut out = std::fs::File::create(&out_path).map_err(write(&out_path))?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad(format!("reading {}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(write(&out_path))?;
        }
        found.insert(base, (out_path, hex::encode(h.finalize())));
    }
    names
        .iter()
        .map(|n| {
            found.remove(n).map(|(p, s)| (n.clone(), p, s)).ok_or_else(|| bad(format!("`{n}` is not in the tarball (its layout is not the upstream one?)")))
        })
        .collect()
}
