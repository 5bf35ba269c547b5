//! The state folder: created 0700, every file 0600, written through a temporary file and a
//! rename. Also reads certificates back for reuse decisions and `bundler certs`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;
use time::OffsetDateTime;

use crate::error::{Error, Result};

pub struct State {
    root: PathBuf,
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// Create a state subfolder 0700, or check an existing one: a symlink (it would take the keys
/// elsewhere), a folder of another user or one others can write is refused.
fn mkdir_private(p: &Path, what: &str, no_symlink: bool) -> Result<()> {
    if fs::symlink_metadata(p).is_err() {
        crate::files::create_private_dir(p).map_err(|source| Error::Write { path: p.to_path_buf(), source })?;
    }
    crate::files::check_private_dir(p, what, no_symlink)?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o700)).map_err(|source| Error::Write { path: p.to_path_buf(), source })
}

/// The most bytes of one state file read back (certificates, keys, records).
const MAX_STATE_FILE: u64 = 4 << 20;

/// A set of files replaced together (a key and its certificate) goes through this folder:
/// all written and synced, then marked complete, then renamed into place. A kill before the
/// mark leaves the old files; after it, the next open finishes the renames.
const PENDING: &str = ".pending";

impl State {
    pub fn open(root: &Path) -> Result<State> {
        mkdir_private(root, "state folder", false)?;
        mkdir_private(&crate::layout::state::pki(root), "state folder", true)?;
        mkdir_private(&crate::layout::state::kubeconfig(root), "state folder", true)?;
        let st = State { root: root.to_path_buf() };
        st.recover()?;
        Ok(st)
    }
    pub fn pki(&self, name: &str) -> PathBuf {
        crate::layout::state::pki(&self.root).join(name)
    }
    pub fn kubeconfig(&self, name: &str) -> PathBuf {
        crate::layout::state::kubeconfig(&self.root).join(format!("{name}.kubeconfig"))
    }
    pub fn read(&self, p: &Path) -> Result<String> {
        crate::files::read_regular_string(p, MAX_STATE_FILE)
    }
    pub fn write_secret(&self, p: &Path, bytes: &[u8]) -> Result<()> {
        crate::files::write_private(p, bytes)
    }
    /// Leave a file (and its mtime) alone when its content is already right.
    pub fn write_if_changed(&self, p: &Path, bytes: &[u8]) -> Result<()> {
        if crate::files::read_regular(p, MAX_STATE_FILE).is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        crate::files::write_private(p, bytes)
    }

    /// Replace several files of the state folder as one: after a kill at any point either all
    /// of them are the new ones (once the next run has opened the state) or none is.
    pub fn write_set(&self, files: &[(&Path, &[u8])]) -> Result<()> {
        let dir = self.root.join(PENDING);
        let w = |source| Error::Write { path: dir.clone(), source };
        let _ = fs::remove_dir_all(&dir);
        crate::files::create_private_dir(&dir).map_err(w)?;
        let mut targets = Vec::new();
        for (i, (p, bytes)) in files.iter().enumerate() {
            let rel = p.strip_prefix(&self.root).map_err(|_| Error::Internal(format!("{} is outside the state folder", p.display())))?;
            targets.push(rel.to_string_lossy().into_owned());
            crate::files::write_private(&dir.join(i.to_string()), bytes)?;
        }
        crate::files::write_private(&dir.join("targets"), serde_json::to_string(&targets).unwrap().as_bytes())?;
        sync_dir(&dir);
        crate::files::write_private(&dir.join("complete"), b"")?;
        sync_dir(&dir);
        crate::files::test_kill_point();
        self.recover()
    }

    /// Finish a complete pending set, or drop an incomplete one.
    fn recover(&self) -> Result<()> {
        let dir = self.root.join(PENDING);
        if fs::symlink_metadata(&dir).is_err() {
            return Ok(());
        }
        crate::files::check_private_dir(&dir, "state folder", true)?;
        if dir.join("complete").exists() {
            let t = crate::files::read_regular_string(&dir.join("targets"), MAX_STATE_FILE)?;
            let targets: Vec<String> =
                serde_json::from_str(&t).map_err(|e| Error::Damaged { path: dir.clone(), problem: format!("{e}; move the folder away and run again") })?;
            for (i, rel) in targets.iter().enumerate() {
                let rel = Path::new(rel);
                if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                    return Err(Error::Damaged { path: dir.clone(), problem: "a target outside the state folder; move the folder away".into() });
                }
                let from = dir.join(i.to_string());
                if from.exists() {
                    let to = self.root.join(rel);
                    fs::rename(&from, &to).map_err(|source| Error::Write { path: to.clone(), source })?;
                    crate::files::test_kill_point();
                }
            }
            if let Some(first) = targets.first() {
                sync_dir(self.root.join(first).parent().unwrap_or(&self.root));
            }
        }
        fs::remove_dir_all(&dir).map_err(|source| Error::Write { path: dir.clone(), source })
    }
}

fn sync_dir(d: &Path) {
    let _ = fs::File::open(d).and_then(|f| f.sync_all());
}

/// An exclusive lock on the state folder for every command that writes it (build, certs
/// issue/renew): two at once would leave a CA key that does not match its certificate.
pub fn lock_state(root: &Path) -> Result<crate::files::DirLock> {
    mkdir_private(root, "state folder", false)?;
    crate::files::lock_dir(root, "state folder")
}

#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub file: PathBuf,
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub days_left: i64,
    pub is_ca: bool,
    pub packages: Vec<String>,
    #[serde(skip)]
    pub public_key_der: Vec<u8>,
}

pub fn parse_cert(pem_text: &str) -> std::result::Result<CertInfo, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = pem.parse_x509().map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .map(|g| match g {
                x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
                x509_parser::extensions::GeneralName::IPAddress(b) if b.len() == 4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        _ => Vec::new(),
    };
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).map_err(|e| e.to_string())?;
    Ok(CertInfo {
        file: PathBuf::new(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_after,
        days_left: 0,
        is_ca: cert.is_ca(),
        packages: Vec::new(),
        public_key_der: cert.public_key().subject_public_key.data.to_vec(),
    })
}

/// Every certificate in a state folder, with the packages that carry it (`carriers`, by
/// item id, from the package spec).
pub fn list(state: &Path, now: OffsetDateTime, carriers: impl Fn(&str) -> Vec<String>) -> Result<Vec<CertInfo>> {
    let dir = crate::layout::state::pki(state);
    let rd = fs::read_dir(&dir).map_err(|source| Error::Read { path: dir.clone(), source })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "crt") && p.file_name().is_some_and(|n| n != "client-ca.crt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = crate::files::read_regular_string(&f, MAX_STATE_FILE)?;
        let mut info = parse_cert(&text).map_err(|e| Error::Damaged { path: f.clone(), problem: e })?;
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        info.packages = carriers(&format!("{stem}.crt"));
        info.days_left = (info.not_after - now).whole_days();
        info.file = f;
        out.push(info);
    }
    Ok(out)
}
