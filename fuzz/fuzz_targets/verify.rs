//! `bundler verify` on hostile tarballs: whatever the bytes, it returns (a verdict or an
//! error), never panics, hangs or touches anything outside its private temporary folder.
//! Inputs are either raw bytes (the tar reader itself) or tar archives built from arbitrary
//! members under one top folder (so the repository metadata, checksum list and manifest
//! parsers see data too).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Member {
    name: String,
    kind: u8,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Members(Vec<Member>),
}

/// Names the verifier looks at, so structured inputs reach its parsers.
const KNOWN: &[&str] = &[
    "SHA256SUMS",
    "SHA256SUMS.asc",
    "manifest.json",
    "repo/repodata/repomd.xml",
    "repo/repodata/repomd.xml.asc",
    "repo/RPM-GPG-KEY-bundler",
    "repo/Packages/a.rpm",
];

fn tarball(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members.iter().take(64) {
        let mut h = tar::Header::new_gnu();
        let name = match m.name.parse::<usize>() {
            Ok(i) => format!("top/{}", KNOWN[i % KNOWN.len()]),
            Err(_) => m.name.chars().take(90).collect(),
        };
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        let kinds = [b'0', b'5', b'1', b'2', b'3', b'4', b'6', b'S', b'x', b'L'];
        h.set_entry_type(tar::EntryType::new(kinds[m.kind as usize % kinds.len()]));
        h.set_mode(0o644);
        h.set_size(m.body.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&m.body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fuzz_target!(|input: Input| {
    let bytes = match &input {
        Input::Raw(b) => b.clone(),
        Input::Members(m) => tarball(m),
    };
    let dir = std::env::temp_dir().join(format!("bundler-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("input.tar");
    std::fs::write(&p, &bytes).unwrap();
    let _ = bundler::bundle::verify(&p, None);
    // verify cleans up after itself: only our input is left.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("bundler-verify-{}-", std::process::id())))
        .collect();
    assert!(left.is_empty(), "verify left {left:?}");
});
