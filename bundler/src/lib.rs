//! bundler: from an Ansible/kubespray inventory to an air-gapped bundle that installs a
//! Kubernetes 1.9 cluster with `yum install`. Stages stand side by side
//! (inventory → plan → ...); the functions here pass each stage's output to the next.

pub mod catalog;
pub mod error;
pub mod fetch;
pub mod inventory;
pub mod plan;
pub mod specs;
pub mod value;
pub mod yaml;

use std::path::Path;

pub use error::{Error, Result};

/// Read the inventory and catalog and compute the plan; nothing is downloaded or written.
pub fn plan(inventory: &Path, catalog: Option<&Path>) -> Result<plan::Plan> {
    let cat = match catalog {
        Some(p) => catalog::Catalog::with_overrides(p)?,
        None => catalog::Catalog::embedded(),
    };
    let inv = inventory::load(inventory)?;
    plan::build(&inv, &cat, &inventory.display().to_string())
}
