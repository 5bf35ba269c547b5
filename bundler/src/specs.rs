//! The package definitions in `specs/packages.yaml`: which packages a bundle holds, which
//! roles they serve, and what each carries from the catalog.

use serde::{Deserialize, Serialize};

pub const EMBEDDED: &str = include_str!("../../specs/packages.yaml");

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
    pub files: Vec<String>,
    #[serde(default)]
    pub images: Vec<String>,
    /// Services restarted when an upgrade replaces this package's files.
    #[serde(default)]
    pub restart: Vec<String>,
    /// Distribution packages that would fight over the same files, units or ports.
    #[serde(default)]
    pub conflicts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    packages: Vec<PackageDef>,
}

pub fn packages() -> Vec<PackageDef> {
    let f: SpecFile = crate::yaml::from_str(EMBEDDED, std::path::Path::new("specs/packages.yaml")).expect("embedded package spec is valid (tested)");
    f.packages
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
