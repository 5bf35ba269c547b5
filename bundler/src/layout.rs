//! Where things live on disk: every folder and file under the state folder and the cache
//! folder is named here and nowhere else, so a reader finds the whole layout in one page
//! and two stages cannot disagree about a path.

use std::path::{Path, PathBuf};

/// The state folder's default name, beside the inventory.
pub const DEFAULT_STATE: &str = "bundler-state";

/// The state folder: what must survive between builds (keys, certificates, releases).
pub mod state {
    use super::*;

    /// Certificates and keys, one file each.
    pub const PKI: &str = "pki";
    pub const KUBECONFIG: &str = "kubeconfig";
    pub const SIGNING: &str = "signing";

    pub fn pki(state: &Path) -> PathBuf {
        state.join(PKI)
    }
    pub fn kubeconfig(state: &Path) -> PathBuf {
        state.join(KUBECONFIG)
    }
    pub fn signing(state: &Path) -> PathBuf {
        state.join(SIGNING)
    }
    pub fn signing_key(state: &Path) -> PathBuf {
        signing(state).join("repo-signing.key")
    }
    pub fn signing_public(state: &Path) -> PathBuf {
        signing(state).join("repo-signing.pub.asc")
    }
    /// The last bundle's record.
    pub fn bundle_record(state: &Path) -> PathBuf {
        state.join("bundle.json")
    }
    /// Each package's release, raised when its content changes.
    pub fn releases(state: &Path) -> PathBuf {
        state.join("releases.json")
    }
}

/// The cache folder: what can be fetched or built again.
pub mod cache {
    use super::*;

    /// Downloads keyed by digest: `files/<algo>/<hex>`.
    pub const FILES: &str = "files";
    pub const LOCKS: &str = "locks";
    /// What each build or fetch used, for `bundler cache prune`.
    pub const USES: &str = "uses";
    /// Built RPMs by content key: `rpms/<key>/<file>`.
    pub const RPMS: &str = "rpms";
    /// The vendor's OS packages `os/<FINGERPRINT>/<nevra>.rpm` and keys `os/keys/<FINGERPRINT>.asc`.
    pub const OS: &str = "os";
    pub const OS_KEYS: &str = "keys";
    /// Scratch folders of builds and exports in progress.
    pub const STAGING: &str = "staging";

    pub fn files(cache: &Path) -> PathBuf {
        cache.join(FILES)
    }
    pub fn locks(cache: &Path) -> PathBuf {
        cache.join(LOCKS)
    }
    pub fn uses(cache: &Path) -> PathBuf {
        cache.join(USES)
    }
    pub fn rpms(cache: &Path) -> PathBuf {
        cache.join(RPMS)
    }
    pub fn os(cache: &Path) -> PathBuf {
        cache.join(OS)
    }
    pub fn os_keys(cache: &Path) -> PathBuf {
        os(cache).join(OS_KEYS)
    }
    pub fn staging(cache: &Path) -> PathBuf {
        cache.join(STAGING)
    }
}
