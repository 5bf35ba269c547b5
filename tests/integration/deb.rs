//! bundler ships itself as a .deb (cargo-deb) with its man page and shell completions.

use std::process::Command;

use crate::etcd::require;
use crate::packages::sh;
use crate::util::root;

#[test]
fn cargo_deb_builds_a_package_with_binary_man_page_and_completions() {
    require("cargo-deb");
    require("dpkg-deb");
    let (ok, out) = sh(Command::new("bash").arg(root().join("scripts/deb.sh")).current_dir(root()));
    assert!(ok, "scripts/deb.sh:\n{out}");
    let deb = std::fs::read_dir(root().join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    let (ok, info) = sh(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(ok && info.contains("Package: bundler") && info.contains("Architecture: amd64"), "{info}");
    let (ok, contents) = sh(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    assert!(ok);
    for f in [
        "./usr/bin/bundler",
        "./usr/share/man/man1/bundler.1.gz",
        "./usr/share/bash-completion/completions/bundler",
        "./usr/share/zsh/vendor-completions/_bundler",
        "./usr/share/fish/vendor_completions.d/bundler.fish",
    ] {
        assert!(contents.lines().any(|l| l.ends_with(f)), "{f} in\n{contents}");
    }
    // The packaged binary runs.
    let x = tempfile::tempdir().unwrap();
    let (ok, out) = sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(x.path()));
    assert!(ok, "{out}");
    let (ok, out) = sh(Command::new(x.path().join("usr/bin/bundler")).arg("--version"));
    assert!(ok && out.starts_with("bundler "), "{out}");
}
