//! The download cache: files keyed by their expected digest, written through a `.partial`
//! file beside the final place and renamed only after size and digest match. A lock file
//! per digest lets several bundler processes share one cache.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{Algo, Digest};

pub struct Cache {
    pub root: PathBuf,
}

/// What we knew about a partial download when it started, so a resume can ask the server
/// for the same version of the file.
#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct PartialMeta {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub total: Option<u64>,
}

fn algo_dir(a: Algo) -> &'static str {
    match a {
        Algo::Sha1 => "sha1",
        Algo::Sha256 => "sha256",
        Algo::Sha512 => "sha512",
    }
}

impl Cache {
    /// Create (0700) or open the cache; a cache folder another user owns or can write is
    /// refused, since anything planted in it would be shipped.
    pub fn open(root: &Path) -> crate::error::Result<Cache> {
        let w = |source| crate::error::Error::Write { path: root.to_path_buf(), source };
        if fs::symlink_metadata(root).is_err() {
            crate::files::create_private_dir(root).map_err(w)?;
        }
        crate::files::check_private_dir(root, "cache folder", false)?;
        for sub in [crate::layout::cache::FILES, crate::layout::cache::LOCKS] {
            crate::files::create_private_dir(&root.join(sub)).map_err(w)?;
            crate::files::check_private_dir(&root.join(sub), "cache folder", true)?;
        }
        Ok(Cache { root: root.to_path_buf() })
    }
    pub fn path(&self, d: &Digest) -> PathBuf {
        crate::layout::cache::files(&self.root).join(algo_dir(d.algo)).join(&d.hex)
    }
    pub fn partial(&self, d: &Digest) -> PathBuf {
        crate::layout::cache::files(&self.root).join(algo_dir(d.algo)).join(format!("{}.partial", d.hex))
    }
    pub fn partial_meta(&self, d: &Digest) -> PathBuf {
        crate::layout::cache::files(&self.root).join(algo_dir(d.algo)).join(format!("{}.partial.json", d.hex))
    }
    /// Exclusive per-digest lock, held for the whole fetch of one file; released on drop
    /// (and by the kernel if the process dies, SIGKILL included).
    pub fn lock(&self, d: &Digest) -> io::Result<File> {
        let p = crate::layout::cache::locks(&self.root).join(format!("{}-{}.lock", algo_dir(d.algo), d.hex));
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(p)?;
        f.lock()?;
        Ok(f)
    }
    pub fn try_lock(&self, d: &Digest) -> io::Result<Option<File>> {
        let p = crate::layout::cache::locks(&self.root).join(format!("{}-{}.lock", algo_dir(d.algo), d.hex));
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(p)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    pub fn read_meta(&self, d: &Digest) -> Option<PartialMeta> {
        let t = crate::files::read_regular_string(&self.partial_meta(d), 1 << 20).ok()?;
        serde_json::from_str(&t).ok()
    }
    pub fn write_meta(&self, d: &Digest, m: &PartialMeta) -> io::Result<()> {
        write_atomic(&self.partial_meta(d), serde_json::to_string(m).unwrap().as_bytes())
    }
    pub fn drop_partial(&self, d: &Digest) {
        let _ = fs::remove_file(self.partial(d));
        let _ = fs::remove_file(self.partial_meta(d));
    }

    /// Move a verified partial into place: fsync the data, rename, fsync the folder.
    pub fn commit(&self, d: &Digest) -> io::Result<PathBuf> {
        let part = self.partial(d);
        File::open(&part)?.sync_all()?;
        let dst = self.path(d);
        fs::rename(&part, &dst)?;
        if let Some(dir) = dst.parent() {
            let _ = File::open(dir).and_then(|f| f.sync_all());
        }
        let _ = fs::remove_file(self.partial_meta(d));
        Ok(dst)
    }
}

/// Write a small file through a temporary beside it (random name, `O_EXCL|O_NOFOLLOW`) and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    crate::files::write_atomic(path, bytes, 0o644)
}
