//! Digests: the algorithm and lowercase hex a file must match, parsed once at the boundary
//! and passed on as this type (never flattened to `sha256:...` and parsed again), and the
//! streaming hasher every stage uses to compute one.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;
use sha2::Digest as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    Sha1,
    Sha256,
    Sha512,
}

/// A digest parsed at the boundary: right length, lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Digest {
    pub algo: Algo,
    pub hex: String,
}

impl Digest {
    pub fn parse(algo: Algo, s: &str) -> std::result::Result<Digest, String> {
        let want = match algo {
            Algo::Sha1 => 40,
            Algo::Sha256 => 64,
            Algo::Sha512 => 128,
        };
        let h = s.strip_prefix("sha256:").filter(|_| algo == Algo::Sha256).unwrap_or(s);
        if h.len() != want || !h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(format!("`{s}` is not a {want}-character lowercase hex {algo:?} digest"));
        }
        Ok(Digest { algo, hex: h.to_string() })
    }
}

impl Algo {
    /// The lowercase name, as in `sha256:...` and the cache's folder names.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha1 => "sha1",
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex)
    }
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

/// A writer that hashes what passes through it, so a file written once need not be read
/// again for its digest.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: io::Write> HashingWriter<W> {
    pub fn new(inner: W, algo: Algo) -> HashingWriter<W> {
        HashingWriter { inner, hasher: Hasher::new(algo) }
    }
    pub fn finish(self) -> (W, Digest) {
        (self.inner, self.hasher.finish())
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hasher.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
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

/// For `#[serde(serialize_with)]`: a digest in JSON as `algo:hex`, the form the plan and
/// receipts have always shown.
pub fn as_text<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}
