//! Files bundler reads or writes that someone else may have touched: regular files only,
//! size checked before reading; temporary files created `O_EXCL|O_NOFOLLOW` with random
//! names; folders refused when another user owns or can write them; advisory folder locks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The most bytes of a small file (key, signature, checksum list, metadata) read into memory.
pub const SMALL: u64 = 16 << 20;

/// Open a regular file for reading without blocking on a FIFO or device, checking its type
/// on the open descriptor (no race with a swap between check and open).
pub fn open_regular(p: &Path) -> io::Result<(File, u64)> {
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(p)?;
    let md = f.metadata()?;
    if !md.file_type().is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a FIFO, device, socket or folder); bundler reads only regular files"));
    }
    Ok((f, md.len()))
}

/// A regular file of at most `max` bytes, whole.
pub fn read_regular(p: &Path, max: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Read { path: p.to_path_buf(), source };
    let (f, len) = open_regular(p).map_err(io)?;
    if len > max {
        return Err(io(io::Error::new(io::ErrorKind::InvalidData, format!("{len} bytes is more than the {max} bytes bundler accepts for this file"))));
    }
    let mut out = Vec::with_capacity(len as usize);
    // `take` bounds a file that grows while it is read.
    f.take(max + 1).read_to_end(&mut out).map_err(io)?;
    if out.len() as u64 > max {
        return Err(io(io::Error::new(io::ErrorKind::InvalidData, format!("grew past {max} bytes while being read"))));
    }
    Ok(out)
}

/// A read error of a file the user named (`--catalog`, the inventory): a missing one is bad
/// usage (exit 2), not a failure of bundler's own files.
pub fn as_input(e: Error) -> Error {
    match e {
        Error::Read { path, source } => Error::ReadInput { path, source },
        other => other,
    }
}

pub fn read_regular_string(p: &Path, max: u64) -> Result<String> {
    String::from_utf8(read_regular(p, max)?)
        .map_err(|_| Error::Read { path: p.to_path_buf(), source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text") })
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    if File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        // Unique enough within one process when urandom is missing; O_EXCL still refuses a planted file.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        return format!("{:x}{:x}", std::process::id(), t);
    }
    hex::encode(b)
}

/// A new file beside `target` (random name, `O_CREAT|O_EXCL|O_NOFOLLOW`, given mode): a
/// planted file or symlink of the same name makes this fail instead of being written through.
pub fn create_temp_beside(target: &Path, mode: u32) -> io::Result<(File, PathBuf)> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for _ in 0..8 {
        let tmp = dir.join(format!(".{name}.{}.tmp", random_hex(8)));
        match OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).mode(mode).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("cannot create a temporary file in {}", dir.display())))
}

/// Write `bytes` to `target` through a fresh temporary file (mode `mode` from the first byte),
/// fsync, rename. A symlink planted at `target` is replaced, never written through.
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (mut f, tmp) = create_temp_beside(target, mode)?;
    let r = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

/// The effective user, whose folders bundler trusts.
pub fn euid() -> u32 {
    unsafe { libc::geteuid() }
}

/// Refuse a folder another user owns or can write, or (`no_symlink`) one that is a symlink:
/// whoever can write there can plant keys, packages or links for bundler to use.
pub fn check_private_dir(p: &Path, what: &str, no_symlink: bool) -> Result<()> {
    let refuse = |why: String, fix: String| Error::Usage(format!("{what} {}: {why}\nhelp: {fix}", p.display()));
    let lmd = fs::symlink_metadata(p).map_err(|source| Error::Read { path: p.to_path_buf(), source })?;
    if lmd.file_type().is_symlink() && no_symlink {
        return Err(refuse(
            "is a symbolic link; bundler does not follow links inside its own folders".into(),
            "replace the link with a real folder (mv it away, then run again), or point bundler at the link's target".into(),
        ));
    }
    let md = fs::metadata(p).map_err(|source| Error::Read { path: p.to_path_buf(), source })?;
    if !md.is_dir() {
        return Err(refuse("is not a folder".into(), "give a folder".into()));
    }
    let me = euid();
    if md.uid() != me {
        return Err(refuse(
            format!("is owned by uid {}, not by the user running bundler (uid {me}); its files could have been planted by that user", md.uid()),
            format!("use a folder you own (`--state`/`--cache`), or, if its content is yours, `chown -R {me} {}`", p.display()),
        ));
    }
    if md.permissions().mode() & 0o022 != 0 {
        return Err(refuse(
            format!(
                "is writable by {} (mode {:o}); anyone who can write it can plant files bundler would use",
                if md.permissions().mode() & 0o002 != 0 { "every user" } else { "its group" },
                md.permissions().mode() & 0o7777
            ),
            format!("`chmod go-w {}` once you are sure nothing in it was planted, or use a fresh folder", p.display()),
        ));
    }
    Ok(())
}

/// Create `p` (and missing parents) with mode 0700 for what is created.
pub fn create_private_dir(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(p)
}

/// An exclusive advisory lock on `dir/.lock`, held until dropped (the kernel releases it
/// when the process dies, SIGKILL too). Waits for another bundler holding it.
pub struct DirLock {
    _file: File,
}

pub fn lock_dir(dir: &Path, what: &str) -> Result<DirLock> {
    let p = dir.join(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&p)
        .map_err(|source| Error::Write { path: p.clone(), source })?;
    match f.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            // Another bundler works on the same folder; wait for it rather than interleave.
            f.lock().map_err(|source| Error::Write { path: p.clone(), source })?;
        }
        Err(fs::TryLockError::Error(source)) => return Err(Error::Lock { path: dir.to_path_buf(), what: what.to_string(), source }),
    }
    Ok(DirLock { _file: f })
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).map_err(|source| Error::Read { path: "/dev/urandom".into(), source })?;
    Ok(b)
}

/// 0600 from the first byte: the temporary file is created with that mode, `O_EXCL` and
/// `O_NOFOLLOW`, under a random name, so a planted file or link receives nothing.
pub fn write_private(p: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(p, bytes, 0o600).map_err(|source| Error::Write { path: p.to_path_buf(), source })?;
    test_kill_point();
    Ok(())
}

/// Test hook: `BUNDLER_TEST_KILL_AFTER_WRITES=N` kills the process (SIGKILL) after the N-th
/// file written into the state folder, so a test can show a kill at any point recovers.
pub fn test_kill_point() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let Some(n) = std::env::var("BUNDLER_TEST_KILL_AFTER_WRITES").ok().and_then(|v| v.parse::<u64>().ok()) else {
        return;
    };
    if WRITES.fetch_add(1, Ordering::SeqCst) + 1 == n {
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
