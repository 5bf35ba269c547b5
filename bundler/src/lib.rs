//! bundler: from an Ansible/kubespray inventory to an air-gapped bundle that installs a
//! Kubernetes 1.9 cluster with `yum install`. Stages stand side by side
//! (inventory → plan → ...); the functions here pass each stage's output to the next.

pub mod build;
pub mod bundle;
pub mod cache;
pub mod catalog;
pub mod digest;
pub mod download;
pub mod error;
pub mod fetch;
pub mod files;
pub mod image_lock;
pub mod images;
pub mod inventory;
pub mod layout;
pub mod model;
pub mod names;
pub mod paths;
pub mod pki;
pub mod plan;
pub mod render;
pub mod repo;
pub mod report;
pub mod rpm;
pub mod rpmfile;
pub mod signing;
pub mod specs;
pub mod value;
pub mod yaml;

use std::path::Path;

pub use error::{Error, Result};

/// Read the inventory and catalog and compute the plan; nothing is downloaded or written.
pub fn plan(inventory: &Path, catalog: Option<&Path>) -> Result<plan::Plan> {
    plan_with(inventory, catalog, None)
}

/// As `plan`, with a package spec (`--packages FILE`) in place of the embedded specs/packages.yaml.
pub fn plan_with(inventory: &Path, catalog: Option<&Path>, packages: Option<&Path>) -> Result<plan::Plan> {
    let spec = match packages {
        Some(p) => specs::Spec::load(p)?,
        None => specs::Spec::embedded(),
    };
    let cat = match catalog {
        Some(p) => catalog::Catalog::with_overrides(p)?,
        None => catalog::Catalog::embedded(),
    };
    let inv = inventory::load(inventory)?;
    let mut plan = plan::build_with(&inv, &cat, &spec, &inventory.display().to_string())?;
    // Images no one publishes a digest for take theirs from bundler.lock beside the inventory.
    image_lock::apply(&mut plan, &image_lock::load(&image_lock::path_for(inventory))?);
    Ok(plan)
}

/// The state folder's default place: `bundler-state` beside the inventory.
pub fn default_state(inventory: &Path) -> std::path::PathBuf {
    inventory.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join(layout::DEFAULT_STATE)
}

/// PKI options from the plan's lifetimes, with the real clock read here, at the top.
pub fn pki_options(plan: &plan::Plan, state: &Path, renew_all: bool) -> pki::Options {
    pki::Options {
        state: state.to_path_buf(),
        now: time::OffsetDateTime::now_utc(),
        ca_days: plan.certificates.ca_days,
        leaf_days: plan.certificates.cert_days,
        renew_all,
    }
}
