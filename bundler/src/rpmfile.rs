//! The only module that uses the `rpm` crate: reads back what the repository metadata needs
//! from the packages `stream.rs` writes, and verifies their signatures for `bundler verify`.
//! (The crate's own builder keeps whole payloads in memory; bundler writes RPMs streaming.)

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// An RPM header starts with these bytes (magic and version 1).
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];

fn e(path: &Path, what: &str, err: impl std::fmt::Display) -> Error {
    Error::Damaged { path: path.to_path_buf(), problem: format!("{what}: {err}") }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RpmDep {
    pub name: String,
    /// EQ, LT, LE, GT, GE, or empty.
    pub flags: String,
    pub epoch: String,
    pub version: String,
    pub release: String,
    pub pre: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RpmFile {
    pub path: String,
    pub dir: bool,
    pub ghost: bool,
}

/// Everything the repository metadata says about one package, read from its headers.
#[derive(Clone, Debug, Serialize)]
pub struct RpmInfo {
    pub name: String,
    pub arch: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    pub build_time: u64,
    pub installed_size: u64,
    pub archive_size: u64,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub build_host: String,
    pub source_rpm: String,
    pub header_start: u64,
    pub header_end: u64,
    pub provides: Vec<RpmDep>,
    pub requires: Vec<RpmDep>,
    pub conflicts: Vec<RpmDep>,
    pub obsoletes: Vec<RpmDep>,
    /// Weak dependencies: el7 ignores them, the metadata still lists them.
    pub recommends: Vec<RpmDep>,
    pub suggests: Vec<RpmDep>,
    pub supplements: Vec<RpmDep>,
    pub enhances: Vec<RpmDep>,
    pub files: Vec<RpmFile>,
    /// (author, time, text), as other.xml lists them.
    pub changelog: Vec<(String, u64, String)>,
}

fn deps(v: Vec<rpm::Dependency>) -> Vec<RpmDep> {
    v.into_iter()
        .map(|d| {
            let f = d.flags;
            let flags = if f.contains(rpm::DependencyFlags::LE) {
                "LE"
            } else if f.contains(rpm::DependencyFlags::GE) {
                "GE"
            } else if f.contains(rpm::DependencyFlags::EQUAL) {
                "EQ"
            } else if f.contains(rpm::DependencyFlags::LESS) {
                "LT"
            } else if f.contains(rpm::DependencyFlags::GREATER) {
                "GT"
            } else {
                ""
            };
            let pre = f.intersects(rpm::DependencyFlags::SCRIPT_PRE | rpm::DependencyFlags::SCRIPT_POST | rpm::DependencyFlags::PREREQ);
            let (epoch, rest) = match d.version.split_once(':') {
                Some((e, r)) => (e.to_string(), r.to_string()),
                None => (if d.version.is_empty() { String::new() } else { "0".into() }, d.version.clone()),
            };
            let (version, release) = match rest.split_once('-') {
                Some((v, r)) => (v.to_string(), r.to_string()),
                None => (rest, String::new()),
            };
            RpmDep { name: d.name, flags: flags.into(), epoch, version, release, pre }
        })
        .collect()
}

/// Read a package's headers (not its payload) for the repository metadata.
pub fn read_info(path: &Path) -> Result<RpmInfo> {
    let f = std::fs::File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let mut r = std::io::BufReader::new(f);
    let md = rpm::PackageMetadata::parse(&mut r).map_err(|x| e(path, "not a readable RPM header", x))?;
    let hdr = &md.header;
    let g = |t: rpm::IndexTag| hdr.get_entry_data_as_string(t).map(str::to_string).unwrap_or_default();
    let gi = |t: rpm::IndexTag| -> u64 { hdr.get_entry_data_as_u64(t).ok().or_else(|| hdr.get_entry_data_as_u32(t).ok().map(u64::from)).unwrap_or(0) };
    let (header_start, header_end) = header_range(path)?;
    let files = md
        .get_file_entries()
        .map_err(|x| e(path, "file list", x))?
        .into_iter()
        .map(|f| RpmFile {
            path: f.path().to_string_lossy().into_owned(),
            dir: f.mode().file_type() == rpm::FileType::Dir,
            ghost: f.flags().contains(rpm::FileFlags::GHOST),
        })
        .collect();
    Ok(RpmInfo {
        name: md.get_name().map_err(|x| e(path, "name", x))?.to_string(),
        arch: md.get_arch().map_err(|x| e(path, "arch", x))?.to_string(),
        epoch: md.get_epoch().unwrap_or(0),
        version: md.get_version().map_err(|x| e(path, "version", x))?.to_string(),
        release: md.get_release().map_err(|x| e(path, "release", x))?.to_string(),
        summary: md.get_summary().unwrap_or_default().to_string(),
        description: md.get_description().unwrap_or_default().to_string(),
        packager: g(rpm::IndexTag::RPMTAG_PACKAGER),
        url: g(rpm::IndexTag::RPMTAG_URL),
        build_time: gi(rpm::IndexTag::RPMTAG_BUILDTIME),
        installed_size: {
            let l = gi(rpm::IndexTag::RPMTAG_LONGSIZE);
            if l > 0 {
                l
            } else {
                gi(rpm::IndexTag::RPMTAG_SIZE)
            }
        },
        archive_size: {
            let l = md
                .signature
                .get_entry_data_as_u64(rpm::IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE)
                .ok()
                .or_else(|| md.signature.get_entry_data_as_u32(rpm::IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE).ok().map(u64::from));
            l.unwrap_or_else(|| gi(rpm::IndexTag::RPMTAG_ARCHIVESIZE))
        },
        license: g(rpm::IndexTag::RPMTAG_LICENSE),
        vendor: g(rpm::IndexTag::RPMTAG_VENDOR),
        group: md.get_group().unwrap_or_default().to_string(),
        build_host: g(rpm::IndexTag::RPMTAG_BUILDHOST),
        // createrepo_c writes "(none)" for a binary package without a source RPM.
        source_rpm: Some(g(rpm::IndexTag::RPMTAG_SOURCERPM)).filter(|s| !s.is_empty()).unwrap_or_else(|| "(none)".into()),
        header_start,
        header_end,
        provides: deps(md.get_provides().map_err(|x| e(path, "provides", x))?),
        requires: deps(md.get_requires().map_err(|x| e(path, "requires", x))?),
        conflicts: deps(md.get_conflicts().map_err(|x| e(path, "conflicts", x))?),
        obsoletes: deps(md.get_obsoletes().map_err(|x| e(path, "obsoletes", x))?),
        recommends: deps(md.get_recommends().unwrap_or_default()),
        suggests: deps(md.get_suggests().unwrap_or_default()),
        supplements: deps(md.get_supplements().unwrap_or_default()),
        enhances: deps(md.get_enhances().unwrap_or_default()),
        changelog: md.get_changelog_entries().unwrap_or_default().into_iter().map(|c| (c.name, c.timestamp, c.description)).collect(),
        files,
    })
}

/// The main header's byte range as createrepo_c reports it: after the 96-byte lead and the
/// signature header (padded to 8 bytes), for the main header's intro, index and data.
fn header_range(path: &Path) -> Result<(u64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| Error::Read { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut intro = [0u8; 16];
    let mut read_intro = |f: &mut std::fs::File, at: u64| -> Result<u64> {
        f.seek(SeekFrom::Start(at)).map_err(io)?;
        f.read_exact(&mut intro).map_err(io)?;
        if intro[..4] != HEADER_MAGIC[..4] {
            return Err(Error::Damaged { path: path.to_path_buf(), problem: format!("no RPM header at byte {at}") });
        }
        let count = u32::from_be_bytes(intro[8..12].try_into().unwrap()) as u64;
        let data = u32::from_be_bytes(intro[12..16].try_into().unwrap()) as u64;
        Ok(16 + 16 * count + data)
    };
    let sig = read_intro(&mut f, 96)?;
    let start = 96 + sig + (8 - sig % 8) % 8;
    let main = read_intro(&mut f, start)?;
    Ok((start, start + main))
}

/// Check a package's signature (header and payload) and digests against an armoured public key.
pub fn verify_signature(path: &Path, public_armored: &str) -> std::result::Result<(), String> {
    let pkg = rpm::Package::open(path).map_err(|x| format!("not a readable RPM: {x}"))?;
    pkg.verify_digests().map_err(|x| format!("digest mismatch: {x}"))?;
    let v = rpm::signature::pgp::Verifier::from_asc_bytes(public_armored.as_bytes()).map_err(|x| format!("key: {x}"))?;
    pkg.verify_signature(v).map_err(|x| format!("signature does not verify: {x}"))
}

/// Check an OS vendor's package as rpm 4.11 does (`rpmkeys -K`): every OpenPGP signature in
/// its signature header must verify against `public_armored`: RSAHEADER (tag 268) over the
/// main header, and PGP (tag 1002) over the main header and the payload, as OpenPGP V3 packets
/// (what CentOS 7 writes; specs/reference/el7-vendor-signatures.md) or V4. A package signed
/// only over its header must carry a payload digest in that header, which must match. DSA
/// signatures (tags 267/1005), which the CentOS 7 key never makes, are refused. Returns a
/// line per signature checked ("RSAHEADER v3 SHA256 key id ...: OK"); on failure, what was
/// found and which key ids signed it.
pub fn verify_vendor_signature(path: &Path, public_armored: &str) -> std::result::Result<Vec<String>, String> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::types::KeyDetails;
    use std::io::{Read, Seek, SeekFrom};
    let key = SignedPublicKey::from_string(public_armored).map_err(|x| format!("the vendor key is not an OpenPGP public key: {x}"))?.0;
    let want_id = hex::encode_upper(key.primary_key.legacy_key_id().as_ref());
    let f = std::fs::File::open(path).map_err(|x| format!("cannot open: {x}"))?;
    let md = rpm::PackageMetadata::parse(&mut std::io::BufReader::new(f)).map_err(|x| format!("not a readable RPM: {x}"))?;
    let (start, end) = header_range(path).map_err(|x| x.to_string())?;
    let sig = |t| md.signature.get_entry_data_as_binary(t).ok().map(<[u8]>::to_vec);
    let rsa = sig(rpm::IndexSignatureTag::RPMSIGTAG_RSA);
    let pgp_sig = sig(rpm::IndexSignatureTag::RPMSIGTAG_PGP);
    let dsa = sig(rpm::IndexSignatureTag::RPMSIGTAG_DSA).or_else(|| sig(rpm::IndexSignatureTag::RPMSIGTAG_GPG));
    let open_at = |at: u64| -> std::result::Result<std::fs::File, String> {
        let mut f = std::fs::File::open(path).map_err(|x| x.to_string())?;
        f.seek(SeekFrom::Start(at)).map_err(|x| x.to_string())?;
        Ok(f)
    };
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    if let Some(d) = &dsa {
        let id =
            pgp::composed::DetachedSignature::from_bytes(&d[..]).ok().and_then(|s| s.signature.issuer_key_id().first().map(|k| hex::encode_upper(k.as_ref())));
        bad.push(format!("a DSA signature (key id {})", id.unwrap_or_else(|| "unknown".into())));
    }
    for (tag, bytes, covers_payload) in [("RSAHEADER", &rsa, false), ("PGP", &pgp_sig, true)] {
        let Some(bytes) = bytes else { continue };
        let s = pgp::composed::DetachedSignature::from_bytes(&bytes[..]).map_err(|x| format!("its {tag} signature is not an OpenPGP signature: {x}"))?;
        let ids: Vec<String> = s.signature.issuer_key_id().iter().map(|k| hex::encode_upper(k.as_ref())).collect();
        let id = ids.first().cloned().unwrap_or_else(|| "unknown".into());
        let data: Box<dyn Read> = if covers_payload { Box::new(open_at(start)?) } else { Box::new(open_at(start)?.take(end - start)) };
        let version = format!("{:?}", s.signature.version()).to_lowercase();
        let algo = format!("{version} {}", s.signature.hash_alg().map(|h| format!("{h:?}").to_uppercase()).unwrap_or_default());
        match s.signature.verify(&key.primary_key, data) {
            Ok(()) => lines.push(format!("{tag} {algo} key id {id}: OK")),
            Err(x) if id != want_id => bad.push(format!("its {tag} signature is by key id {id}, not the pinned key {want_id} ({x})")),
            Err(x) => bad.push(format!("its {tag} signature by key id {id} does not verify: the package was altered ({x})")),
        }
    }
    if rsa.is_none() && pgp_sig.is_none() && dsa.is_none() {
        return Err(format!("it is not signed (no RSAHEADER or PGP signature); the pinned key is {want_id}"));
    }
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    if rsa.is_none() && pgp_sig.is_none() {
        return Err(format!("it carries no RSA signature by the pinned key {want_id}"));
    }
    // A header-only signature proves the payload through the header's payload digest.
    if pgp_sig.is_none() {
        let pkg = rpm::Package::open(path).map_err(|x| format!("not a readable RPM: {x}"))?;
        let r = pkg.check_digests().map_err(|x| format!("digests: {x}"))?;
        if !r.payload_sha256.is_verified() && !r.payload_sha512.is_verified() {
            return Err("it is signed over its header only and carries no payload digest that matches".into());
        }
        lines.push("payload digest (signed header): OK".into());
    }
    Ok(lines)
}
