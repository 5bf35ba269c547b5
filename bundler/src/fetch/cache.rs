//! The download cache: files keyed by their expected digest, written through a `.partial`
//! file beside the final place and renamed only after size and digest match. A lock file
//! per digest lets several bundler processes share one cache.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::catalog::{Algo, Digest};

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

/// A streaming hasher for whichever algorithm the catalog pinned.
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
    pub fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    pub fn finish(self) -> Digest {
        let (algo, hex) = match self {
            Hasher::Sha1(h) => (Algo::Sha1, hex::encode(h.finalize())),
            Hasher::Sha256(h) => (Algo::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algo::Sha512, hex::encode(h.finalize())),
        };
        Digest { algo, hex }
    }
}

/// Hash a whole file (and count its bytes) with a fixed-size buffer.
pub fn hash_file(path: &Path, algo: Algo) -> io::Result<(Digest, u64)> {
    let mut f = File::open(path)?;
    let mut h = Hasher::new(algo);
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let r = f.read(&mut buf)?;
        if r == 0 {
            break;
        }
        h.update(&buf[..r]);
        n += r as u64;
    }
    Ok((h.finish(), n))
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
        for sub in ["files", "locks"] {
            crate::files::create_private_dir(&root.join(sub)).map_err(w)?;
            crate::files::check_private_dir(&root.join(sub), "cache folder", true)?;
        }
        Ok(Cache { root: root.to_path_buf() })
    }
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("files").join(algo_dir(d.algo)).join(&d.hex)
    }
    pub fn partial(&self, d: &Digest) -> PathBuf {
        self.root.join("files").join(algo_dir(d.algo)).join(format!("{}.partial", d.hex))
    }
    pub fn partial_meta(&self, d: &Digest) -> PathBuf {
        self.root.join("files").join(algo_dir(d.algo)).join(format!("{}.partial.json", d.hex))
    }
    /// Exclusive per-digest lock, held for the whole fetch of one file; released on drop
    /// (and by the kernel if the process dies, SIGKILL included).
    pub fn lock(&self, d: &Digest) -> io::Result<File> {
        let p = self.root.join("locks").join(format!("{}-{}.lock", algo_dir(d.algo), d.hex));
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(p)?;
        f.lock()?;
        Ok(f)
    }
    pub fn try_lock(&self, d: &Digest) -> io::Result<Option<File>> {
        let p = self.root.join("locks").join(format!("{}-{}.lock", algo_dir(d.algo), d.hex));
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
