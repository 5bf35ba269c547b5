//! The values that cross stages: what one stage returns and a later one takes (downloaded
//! artifacts and OS packages, pulled images, certificates, rendered files, built packages).
//! They live here so that a stage needs only this module, never the stage that made them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::report::Outcome;

#[derive(Clone, Debug, Serialize)]
pub struct Fetched {
    pub name: String,
    pub version: String,
    pub file_name: String,
    /// The URL the bytes actually came from (for cached files, the cache path).
    pub url: String,
    #[serde(serialize_with = "crate::digest::as_text")]
    pub expected_digest: Digest,
    #[serde(serialize_with = "crate::digest::as_text")]
    pub actual_digest: Digest,
    pub bytes: u64,
    /// Bytes that crossed the network or were copied in this run.
    pub bytes_transferred: u64,
    pub outcome: Outcome,
    pub path: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct FetchedOs {
    pub name: String,
    pub nevra: String,
    pub file_name: String,
    /// Where the bytes came from (the cache path when cached).
    pub url: String,
    pub sha256: String,
    pub bytes: u64,
    pub outcome: Outcome,
    /// The key that signed it (fingerprint) and the signatures checked.
    pub signed_by: String,
    pub signatures: Vec<String>,
    pub path: PathBuf,
}

/// What `fetch_os` returns: the verified key (armoured) and every package.
#[derive(Clone, Debug, Serialize)]
pub struct OsFetched {
    pub key_name: String,
    pub key_fingerprint: String,
    #[serde(skip)]
    pub key_armored: String,
    pub key_path: PathBuf,
    pub packages: Vec<FetchedOs>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PulledImage {
    pub name: String,
    pub reference: String,
    pub manifest_digest: String,
    /// The platform manifest actually used (differs from `manifest_digest` for a list).
    pub image_manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<String>,
    pub archive: PathBuf,
    pub archive_sha256: String,
    pub source: String,
    /// Every file the images stage wrote for it (file name → where, and its sha256): what
    /// the package stage carries, as `image_archives` in the package spec names them.
    #[serde(skip)]
    pub files: std::collections::BTreeMap<String, (PathBuf, String)>,
}

/// A file the PKI stage produced and where it goes on the hosts.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub id: String,
    /// In the state folder. Where it is installed, and by which package, is the package
    /// spec's business (`pki:` contents entries).
    pub path: PathBuf,
    pub mode: u32,
    pub secret: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub action: ChangeAction,
    pub reason: String,
}

/// What the PKI stage did to a certificate or key (kept in the state folder's history as
/// these words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeAction {
    /// A CA, key pair or token made for the first time.
    #[serde(rename = "created")]
    Created,
    /// A leaf certificate issued for the first time.
    #[serde(rename = "issued")]
    Issued,
    /// A leaf certificate issued again (names, CA or lifetime changed).
    #[serde(rename = "re-issued")]
    ReIssued,
}

impl std::fmt::Display for ChangeAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangeAction::Created => "created",
            ChangeAction::Issued => "issued",
            ChangeAction::ReIssued => "re-issued",
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Pki {
    pub state: PathBuf,
    /// Files for the packages; root CA keys are never among them.
    pub items: Vec<Item>,
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
}

impl Pki {
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// One rendered file and where it goes.
#[derive(Clone, Debug, Serialize)]
pub struct File {
    pub path: String,
    pub package: String,
    pub mode: u32,
    /// Admin-editable: `%config(noreplace)` in the package.
    pub config: bool,
    pub template: String,
    pub content: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Built {
    pub name: String,
    pub version: String,
    pub release: String,
    pub file_name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Reused from the package cache rather than built.
    pub cached: bool,
    /// Release raised by this build because the content changed.
    pub changed: bool,
    pub build_time: u64,
    /// Where the package cache keeps this package between builds (binary packages only).
    #[serde(skip)]
    pub cache_entry: Option<PathBuf>,
}

/// A package's scriptlets, rendered from the templates under packaging/scriptlets/ its
/// definition names.
#[derive(Clone, Debug, Default)]
pub struct Scriptlets {
    pub package: String,
    pub pretrans: Option<String>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_history_keeps_its_words() {
        // The state folder's certificate-changes.json written by earlier versions reads back.
        let old = r#"{"apiserver": {"id": "apiserver", "action": "re-issued", "reason": "names changed"}, "etcd-ca.crt": {"id": "etcd-ca.crt", "action": "created", "reason": "no CA"}, "kubelet": {"id": "kubelet", "action": "issued", "reason": "not issued before"}}"#;
        let h: std::collections::BTreeMap<String, Change> = serde_json::from_str(old).unwrap();
        assert_eq!(h["apiserver"].action, ChangeAction::ReIssued);
        assert_eq!(h["etcd-ca.crt"].action, ChangeAction::Created);
        assert_eq!(h["kubelet"].action.to_string(), "issued");
        let back: serde_json::Value = serde_json::to_value(&h).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(old).unwrap());
    }
}
