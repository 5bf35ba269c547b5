//! Types for the values a package's contents are made of, each parsed once at the boundary so
//! it cannot hold a bad value: a file mode (octal text only), an absolute install path, and a
//! path relative to the bundle's top folder.

use std::fmt;

use serde::{Serialize, Serializer};

/// A file mode, written as an octal string ("0644"). A bare number is refused: YAML reads 644
/// as decimal, which is the mode 0o1204.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileMode(u32);

impl FileMode {
    pub fn parse(text: &str) -> Result<FileMode, String> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        if digits.len() < 3 || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!("mode {text:?} is not an octal mode such as \"0644\""));
        }
        let v = u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
        if v > 0o7777 {
            return Err(format!("mode {text:?} is larger than 07777"));
        }
        Ok(FileMode(v))
    }
    pub fn from_bits(bits: u32) -> Option<FileMode> {
        (bits <= 0o7777).then_some(FileMode(bits))
    }
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Where a file or directory is installed on a host: absolute, normalised (no `..`, `.`, empty
/// components or trailing `/`), and not `/` itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstallPath(String);

impl InstallPath {
    pub fn parse(text: &str) -> Result<InstallPath, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("install path {text:?} is not absolute"));
        };
        check_components(text, rest)?;
        Ok(InstallPath(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The folder this path is in (`None` for a top-level entry such as `/etc`).
    pub fn parent(&self) -> Option<InstallPath> {
        let i = self.0.rfind('/')?;
        (i > 0).then(|| InstallPath(self.0[..i].to_string()))
    }
    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }
    /// `self/name`, where `name` is one plain component.
    pub fn join(&self, name: &str) -> Result<InstallPath, String> {
        InstallPath::parse(&format!("{}/{name}", self.0))
    }
}

impl fmt::Display for InstallPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for InstallPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A path inside the bundle's top folder: relative, normalised, no `..`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundlePath(String);

impl BundlePath {
    pub fn parse(text: &str) -> Result<BundlePath, String> {
        if text.starts_with('/') {
            return Err(format!("bundle path {text:?} is absolute; it must be relative to the bundle's top folder"));
        }
        check_components(text, text)?;
        Ok(BundlePath(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BundlePath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

fn check_components(whole: &str, rest: &str) -> Result<(), String> {
    if rest.is_empty() {
        return Err(format!("path {whole:?} names no file"));
    }
    for c in rest.split('/') {
        match c {
            "" => return Err(format!("path {whole:?} has an empty component")),
            "." => return Err(format!("path {whole:?} has a `.` component")),
            ".." => return Err(format!("path {whole:?} has a `..` component")),
            _ if c.bytes().any(|b| b.is_ascii_control() || b == b'\\') => return Err(format!("path {whole:?} holds a control character or backslash")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_text_only() {
        assert_eq!(FileMode::parse("0644").unwrap().bits(), 0o644);
        assert_eq!(FileMode::parse("0755").unwrap().to_string(), "0755");
        assert_eq!(FileMode::parse("600").unwrap().bits(), 0o600);
        for bad in ["", "0648", "644a", "12345", "0x1ff", "-644"] {
            assert!(FileMode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn install_paths_are_absolute_and_normal() {
        assert_eq!(InstallPath::parse("/etc/bundler/hosts").unwrap().parent().unwrap().as_str(), "/etc/bundler");
        assert!(InstallPath::parse("/etc").unwrap().parent().is_none());
        for bad in ["", "/", "etc/x", "/etc/../shadow", "/etc//x", "/etc/./x", "/etc/x/", "/etc/a\nb"] {
            assert!(InstallPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bundle_paths_stay_inside() {
        assert!(BundlePath::parse("ansible/tasks/install.yml").is_ok());
        for bad in ["", "/etc/shadow", "../x", "a/../../x", "./a", "a//b"] {
            assert!(BundlePath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
