//! Embeds every file under packaging/ (the templates specs/packages.yaml names), so adding a
//! template needs no Rust: `packaging::FILES` maps "units/kubelet.service" to its text.

use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            out.push((rel, p.canonicalize().unwrap()));
        }
    }
}

fn main() {
    // Read when the script runs, not when it was compiled: cargo shares one compiled build
    // script between checkouts of this workspace that share a target folder (its hash does not
    // hold the checkout's path), and a path baked in at compile time embeds the other
    // checkout's templates, or panics once that checkout is gone.
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts"));
    let root = manifest_dir.join("../packaging");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut code = String::from("pub const FILES: &[(&str, &str)] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        code.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("packaging.rs");
    std::fs::write(out, code).unwrap();
}
