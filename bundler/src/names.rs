//! Names more than one stage must spell the same way: the repository key's file name, the
//! image lock beside the inventory, the bundle's file stem. A stage that needs one imports it
//! from here instead of from the stage that happened to write it first.

/// The bundle's RPM signing key, as the repository and the `.repo` file name it.
pub const KEY_FILE: &str = "RPM-GPG-KEY-bundler";

/// The image lock: digests recorded on a first pull, beside the inventory.
pub const IMAGE_LOCK: &str = "bundler.lock";

/// What the images stage writes for each image `<name>`: `<name>.tar` (docker-save archive),
/// `<name>.tar.id` (its image id) and `<name>.tar.tag` (its name:tag), which load-images checks.
/// A package spec's `image_archives` suffixes must be among these.
pub const IMAGE_FILE_SUFFIXES: &[&str] = &[".tar", ".tar.id", ".tar.tag"];

/// The bundle's file stem (`<name>-<kubernetes version>-<release>`): the tarball's name and
/// the folder hosts unpack it into.
pub fn bundle_stem(bundle_name: &str, kubernetes: &str, release: u32) -> String {
    format!("{bundle_name}-{}-{release}", kubernetes.trim_start_matches('v'))
}

/// The dist tag every release bundler writes carries (`1.el7`), as el7's own packages do.
pub const DIST_TAG: &str = ".el7";

/// An RPM version: what rpm accepts in a VERSION tag (letters, digits, `.`, `_`, `+`, `~`;
/// never `-`, which separates version from release). Made from an upstream version
/// (`v1.9.11` → `1.9.11`, `17.12.1-ce` → `17.12.1`, any other `-` → `.`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RpmVersion(String);

impl RpmVersion {
    pub fn parse(text: &str) -> Result<RpmVersion, String> {
        if text.is_empty() {
            return Err("an RPM version cannot be empty".into());
        }
        if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~'))) {
            return Err(format!("{text:?} is not an RPM version: {c:?} is not allowed (only letters, digits, '.', '_', '+', '~')"));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(format!("{text:?} is not an RPM version: it must start with a letter or digit"));
        }
        Ok(RpmVersion(text.to_string()))
    }
    /// The RPM version of an upstream release tag.
    pub fn from_upstream(tag: &str) -> Result<RpmVersion, String> {
        RpmVersion::parse(&tag.trim_start_matches('v').trim_end_matches("-ce").replace('-', "."))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package's version and release: the release is bundler's counter (kept while the content
/// is unchanged), written with the dist tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRelease {
    pub version: RpmVersion,
    pub release: u32,
}

impl VersionRelease {
    /// The RELEASE tag: `3.el7`.
    pub fn release_tag(&self) -> String {
        format!("{}{DIST_TAG}", self.release)
    }
    /// The package's file name: `name-version-release.arch.rpm`.
    pub fn file_name(&self, name: &str, arch: &str) -> String {
        format!("{name}-{self}.{arch}.rpm")
    }
}

/// `version-release`, as rpm prints it (`1.9.11-3.el7`).
impl std::fmt::Display for VersionRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}{DIST_TAG}", self.version, self.release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_versions_refuse_what_rpm_refuses_and_upstream_tags_convert() {
        assert_eq!(RpmVersion::from_upstream("v1.9.11").unwrap().as_str(), "1.9.11");
        assert_eq!(RpmVersion::from_upstream("17.12.1-ce").unwrap().as_str(), "17.12.1");
        assert_eq!(RpmVersion::from_upstream("v0.7.1-rc1").unwrap().as_str(), "0.7.1.rc1");
        for bad in ["", "1.9-1", "1 9", "1.9/2", ".1", "1.9\n"] {
            assert!(RpmVersion::parse(bad).is_err(), "{bad:?}");
        }
        let vr = VersionRelease { version: RpmVersion::parse("1.9.11").unwrap(), release: 3 };
        assert_eq!(vr.to_string(), "1.9.11-3.el7");
        assert_eq!(vr.release_tag(), "3.el7");
        assert_eq!(vr.file_name("k8s-node", "noarch"), "k8s-node-1.9.11-3.el7.noarch.rpm");
    }
}
