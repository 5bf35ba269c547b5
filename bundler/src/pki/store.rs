//! The state folder: created 0700, every file 0600, written through a temporary file and a
//! rename. Also reads certificates back for reuse decisions and `bundler certs`.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;
use time::OffsetDateTime;

use crate::error::{Error, Result};

pub struct State {
    root: PathBuf,
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).map_err(|e| Error::Failed(format!("cannot read /dev/urandom: {e}")))?;
    Ok(b)
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn mkdir_private(p: &Path) -> Result<()> {
    if !p.exists() {
        fs::create_dir_all(p).map_err(|source| Error::Write { path: p.to_path_buf(), source })?;
    }
    fs::set_permissions(p, fs::Permissions::from_mode(0o700)).map_err(|source| Error::Write { path: p.to_path_buf(), source })
}

impl State {
    pub fn open(root: &Path) -> Result<State> {
        mkdir_private(root)?;
        mkdir_private(&root.join("pki"))?;
        mkdir_private(&root.join("kubeconfig"))?;
        Ok(State { root: root.to_path_buf() })
    }
    pub fn pki(&self, name: &str) -> PathBuf {
        self.root.join("pki").join(name)
    }
    pub fn kubeconfig(&self, name: &str) -> PathBuf {
        self.root.join("kubeconfig").join(format!("{name}.kubeconfig"))
    }
    pub fn read(&self, p: &Path) -> Result<String> {
        fs::read_to_string(p).map_err(|source| Error::Read { path: p.to_path_buf(), source })
    }
    pub fn write_secret(&self, p: &Path, bytes: &[u8]) -> Result<()> {
        write_private(p, bytes)
    }
    /// Leave a file (and its mtime) alone when its content is already right.
    pub fn write_if_changed(&self, p: &Path, bytes: &[u8]) -> Result<()> {
        if fs::read(p).is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        write_private(p, bytes)
    }
}

/// 0600 from the first byte: the temporary file is created with that mode.
pub fn write_private(p: &Path, bytes: &[u8]) -> Result<()> {
    let dir = p.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp{}", p.file_name().unwrap().to_string_lossy(), std::process::id()));
    let w = |source| Error::Write { path: p.to_path_buf(), source };
    {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(w)?;
        f.write_all(bytes).map_err(w)?;
        f.sync_all().map_err(w)?;
    }
    fs::rename(&tmp, p).map_err(w)
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

/// Every certificate in a state folder, with the packages that carry it.
pub fn list(state: &Path, now: OffsetDateTime) -> Result<Vec<CertInfo>> {
    let dir = state.join("pki");
    let rd = fs::read_dir(&dir).map_err(|source| Error::Read { path: dir.clone(), source })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "crt") && p.file_name().is_some_and(|n| n != "client-ca.crt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).map_err(|source| Error::Read { path: f.clone(), source })?;
        let mut info = parse_cert(&text).map_err(|e| Error::Failed(format!("{}: {e}", f.display())))?;
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        info.packages = match stem.as_str() {
            "kubernetes-ca" | "etcd-ca" => vec!["k8s-common".into()],
            "kubelet-signing-ca" => vec!["k8s-master".into()],
            _ => fs::read_to_string(dir.join(format!("{stem}.json")))
                .ok()
                .and_then(|t| serde_json::from_str::<super::LeafMeta>(&t).ok())
                .map(|m| m.packages)
                .unwrap_or_default(),
        };
        info.days_left = (info.not_after - now).whole_days();
        info.file = f;
        out.push(info);
    }
    Ok(out)
}
