//! Rendered units and configs: snapshots for the example inventory, `systemd-analyze verify`
//! on every unit, a flag lint against the pinned components' flag lists, a real etcd cluster
//! started with exactly the rendered configuration, and the host-identity step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd;
use crate::util::root;

pub fn plan_of(inventory: &Path) -> bundler::plan::Plan {
    bundler::plan(inventory, None).expect("plan")
}

pub fn rendered(inventory: &Path) -> Vec<bundler::render::File> {
    bundler::render::render(&plan_of(inventory)).expect("render")
}

/// Write rendered files under `dir` at their install paths.
pub fn materialise(files: &[bundler::render::File], dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for f in files {
        let p = dir.join(f.path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
    }
}

#[test]
fn snapshots_of_every_rendered_file() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for f in &files {
            let name = f.path.trim_start_matches('/').replace('/', "__");
            insta::assert_snapshot!(
                name,
                format!(
                    "# package: {}  mode: {:o}  config: {}\n{}",
                    f.package, f.mode, f.config, f.content
                )
            );
        }
    });
}
