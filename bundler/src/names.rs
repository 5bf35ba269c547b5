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
