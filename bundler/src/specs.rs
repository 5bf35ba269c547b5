//! The package definitions in `specs/packages.yaml`: which packages a bundle holds, which
//! roles they serve, what each installs (its contents, directories, services, requirements
//! and scriptlets) and the bundle's own files. Raw here; `plan::contents` resolves and checks
//! them before anything is downloaded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Error, Loc, Result};

pub const EMBEDDED: &str = include_str!("../../specs/packages.yaml");
/// How the embedded spec is named in messages.
pub const EMBEDDED_NAME: &str = "specs/packages.yaml";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Etcd,
    ControlPlane,
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Etcd => "etcd",
            Role::ControlPlane => "control-plane",
            Role::Node => "node",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Role,
    Config,
    Binary,
    Images,
}

/// A mode as written: text is parsed by `paths::FileMode`; a number is refused with a reason.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawMode {
    Text(String),
    Number(i64),
}

/// When a template is rendered (or a service run) at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    Dns,
    Dashboard,
    Monitoring,
    ApiProxy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFlag {
    /// `%config(noreplace)`: an admin's edit survives an upgrade.
    Noreplace,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDef {
    pub dst: String,
    pub mode: RawMode,
    pub user: Option<String>,
    pub group: Option<String>,
    pub config: Option<ConfigFlag>,
    #[serde(default)]
    pub ghost: bool,
    pub template: Option<String>,
    pub pki: Option<String>,
    pub member: Option<String>,
    /// For each image of the package, the files `dst/<image><suffix>` the images stage writes.
    #[serde(default)]
    pub image_archives: Vec<String>,
    pub when: Option<When>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirAttrs {
    pub path: String,
    pub mode: RawMode,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ServiceDef {
    Name(String),
    Narrowed(NarrowedService),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrowedService {
    pub name: String,
    pub when: Option<When>,
    /// Not on a host that also has this role.
    pub not_with_role: Option<Role>,
    /// Why it is narrowed (a comment in host-identity).
    pub why: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptletNames {
    pub pretrans: Option<String>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageDef {
    pub name: String,
    pub kind: PackageKind,
    pub summary: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub requires_etcd_when_colocated: bool,
    pub artifact: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    /// Services restarted when an upgrade replaces this package's files.
    #[serde(default)]
    pub restart: Vec<String>,
    /// Distribution packages that would fight over the same files, units or ports.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// `Requires(pre)` on packages of the bundle or of the OS.
    #[serde(default)]
    pub requires_pre: Vec<String>,
    #[serde(default)]
    pub system_requires: Vec<String>,
    #[serde(default)]
    pub system_requires_pre: Vec<String>,
    #[serde(default)]
    pub services: Vec<ServiceDef>,
    #[serde(default)]
    pub scriptlets: ScriptletNames,
    #[serde(default)]
    pub dirs: Vec<String>,
    #[serde(default)]
    pub contents: Vec<ContentDef>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFileDef {
    pub dst: String,
    pub template: String,
    pub mode: RawMode,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDef {
    /// Where a host keeps an unpacked bundle (install.sh, the playbooks and the .repo file agree).
    pub host_dir: String,
    pub files: Vec<BundleFileDef>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Rendered files a scriptlet template sees as `embed.<name>`, by install path.
    #[serde(default)]
    pub scriptlet_embeds: std::collections::BTreeMap<String, String>,
    pub system_dirs: Vec<String>,
    #[serde(default)]
    pub directories: Vec<DirAttrs>,
    pub bundle: BundleDef,
    pub packages: Vec<PackageDef>,
    /// Where it was read from, for messages.
    #[serde(skip)]
    pub source: PathBuf,
}

impl Spec {
    pub fn embedded() -> Spec {
        Spec::parse(EMBEDDED, Path::new(EMBEDDED_NAME)).expect("embedded package spec is valid (tested)")
    }
    pub fn parse(text: &str, file: &Path) -> Result<Spec> {
        let mut s: Spec = crate::yaml::from_str(text, file).map_err(Error::input)?;
        s.source = file.to_path_buf();
        Ok(s)
    }
    /// A package spec that replaces the embedded one (`--packages FILE`).
    pub fn load(path: &Path) -> Result<Spec> {
        let text = crate::files::read_regular_string(path, crate::files::SMALL).map_err(crate::files::as_input)?;
        Spec::parse(&text, path)
    }
    /// The packages whose contents carry the PKI item `id` (such as "etcd-ca.crt").
    pub fn pki_carriers(&self, id: &str) -> Vec<String> {
        self.packages.iter().filter(|p| p.contents.iter().any(|c| c.pki.as_deref() == Some(id))).map(|p| p.name.clone()).collect()
    }
    pub fn loc(&self) -> Option<Loc> {
        Some(Loc::file_only(&self.source))
    }
    pub fn error(&self, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.loc(), msg)
    }
}

/// The embedded package definitions.
pub fn packages() -> Vec<PackageDef> {
    Spec::embedded().packages
}

#[cfg(test)]
mod tests {
    #[test]
    fn spec_is_consistent() {
        let p = super::packages();
        for d in &p {
            for r in &d.requires {
                assert!(p.iter().any(|x| &x.name == r), "{} requires unknown {r}", d.name);
            }
        }
    }
}
