//! A streaming writer for the subset of the RPM v4 format bundler emits: the payload (a newc
//! cpio archive) is produced file by file and compressed in parallel into gzip members, so a
//! package of any size is written with flat memory, and both cores work on the biggest one.
//! Checked by the package tests with Debian's rpm, rpmkeys, rpm2cpio, createrepo_c, dnf and
//! rpmlint (the rpm crate reads these packages back for the repository metadata).

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc;

use md5::Digest as _;

use super::tags::{self, sense, sig as sigtag, tag, ty};
use super::{Content, PackageSpec, When};
use crate::error::{Error, Result};
use crate::signing::SigningKey;

/// Gzip level, as rpmbuild's default `w9.gzdio` would be too slow and `w6` is the classic choice.
pub const LEVEL: u32 = 6;
/// Bytes of cpio per gzip member; members are compressed in parallel.
const CHUNK: usize = 2 << 20;

enum Data {
    Int16(Vec<u16>),
    Int32(Vec<u32>),
    Str(String),
    Bin(Vec<u8>),
    StrArray(Vec<String>),
    I18n(String),
}

struct Entries(BTreeMap<u32, Data>);

impl Entries {
    fn put(&mut self, tag: u32, d: Data) {
        self.0.insert(tag, d);
    }
    /// Serialise as an RPM header whose entries all sit in one immutable region (`region` is
    /// `HEADERIMMUTABLE` for the main header, `HEADERSIGNATURES` for the signature header),
    /// as rpm itself writes them.
    fn to_bytes(&self, region: u32) -> Vec<u8> {
        let mut index: Vec<(u32, u32, i32, u32)> = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for (&tag, d) in &self.0 {
            let align = match d {
                Data::Int16(_) => 2,
                Data::Int32(_) => 4,
                _ => 1,
            };
            while !data.len().is_multiple_of(align) {
                data.push(0);
            }
            let off = data.len() as i32;
            let (ty, count) = match d {
                Data::Int16(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_be_bytes()));
                    (ty::INT16, v.len())
                }
                Data::Int32(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_be_bytes()));
                    (ty::INT32, v.len())
                }
                Data::Str(s) => {
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                    (ty::STRING, 1)
                }
                Data::I18n(s) => {
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                    (ty::I18NSTRING, 1)
                }
                Data::Bin(b) => {
                    data.extend_from_slice(b);
                    (ty::BIN, b.len())
                }
                Data::StrArray(v) => {
                    for s in v {
                        data.extend_from_slice(s.as_bytes());
                        data.push(0);
                    }
                    (ty::STRING_ARRAY, v.len())
                }
            };
            index.push((tag, ty, off, count as u32));
        }
        // The region trailer: an index entry stored in the data, pointing back over the index.
        let il = index.len() as u32 + 1;
        let trailer_off = data.len() as i32;
        data.extend_from_slice(&region.to_be_bytes());
        data.extend_from_slice(&ty::BIN.to_be_bytes());
        data.extend_from_slice(&(-(il as i32 * 16)).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        let mut out = tags::HEADER_MAGIC.to_vec();
        out.extend_from_slice(&il.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, ty, off, count) in std::iter::once((region, ty::BIN, trailer_off, 16)).chain(index) {
            out.extend_from_slice(&tag.to_be_bytes());
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&off.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(&data);
        out
    }
}

struct Item<'a> {
    path: String,
    mode: u16,
    size: u64,
    digest: String,
    user: &'a str,
    group: &'a str,
    flags: u32,
    content: Option<&'a Content>,
}

impl Item<'_> {
    /// In the cpio payload: every directory and file but the `%ghost` ones.
    fn in_payload(&self) -> bool {
        self.flags & tags::file::GHOST == 0
    }
}

fn items(spec: &PackageSpec) -> Vec<Item<'_>> {
    let mut v: Vec<Item> = spec
        .dirs
        .iter()
        .map(|d| Item {
            path: d.path.clone(),
            mode: 0o040000 | d.mode as u16,
            size: 0,
            digest: String::new(),
            user: &d.user,
            group: &d.group,
            flags: 0,
            content: None,
        })
        .chain(spec.files.iter().map(|f| {
            let size = match &f.content {
                Content::Bytes(b) => b.len() as u64,
                Content::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            };
            let mut flags = if f.config { tags::file::CONFIG | tags::file::NOREPLACE } else { 0 };
            if f.ghost {
                flags |= tags::file::GHOST;
            }
            Item {
                path: f.path.clone(),
                mode: 0o100000 | f.mode as u16,
                size,
                digest: f.sha256.clone(),
                user: &f.user,
                group: &f.group,
                flags,
                // A ghost is listed in the header only.
                content: if f.ghost { None } else { Some(&f.content) },
            }
        }))
        .collect();
    v.sort_by(|a, b| a.path.cmp(&b.path));
    v
}

fn pad4(n: u64) -> u64 {
    (4 - n % 4) % 4
}

fn cpio_header(out: &mut Vec<u8>, ino: u32, mode: u32, size: u64, mtime: u32, name: &str) {
    let namesize = name.len() + 1;
    let fields = [ino, mode, 0, 0, 1, mtime, size as u32, 0, 0, 0, 0, namesize as u32, 0];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    let used = 110 + namesize as u64;
    out.extend(std::iter::repeat_n(0u8, pad4(used) as usize));
}

/// The uncompressed cpio size, known before writing (the signature header records it).
fn cpio_size(items: &[Item]) -> u64 {
    let mut n = 0;
    for it in items.iter().filter(|i| i.in_payload()) {
        let name = 2 + it.path.len() as u64; // "." + path + NUL
        n += 110 + name + pad4(110 + name) + it.size + pad4(it.size);
    }
    let t = 110 + 11;
    n + t + pad4(t)
}

/// Compress a stream of cpio chunks into gzip members on `threads` workers, in order.
fn compress_parallel(items: &[Item], mtime: u32, out: &mut impl Write, md5: &mut md5::Md5, threads: usize) -> std::io::Result<()> {
    let (tx_work, rx_work) = mpsc::sync_channel::<(usize, Vec<u8>)>(threads * 2);
    let rx_work = std::sync::Arc::new(std::sync::Mutex::new(rx_work));
    let (tx_done, rx_done) = mpsc::sync_channel::<(usize, std::io::Result<Vec<u8>>)>(threads * 2);
    std::thread::scope(|s| -> std::io::Result<()> {
        for _ in 0..threads {
            let rx = rx_work.clone();
            let tx = tx_done.clone();
            s.spawn(move || loop {
                let job = rx.lock().unwrap().recv();
                let Ok((seq, chunk)) = job else { break };
                let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::with_capacity(chunk.len() / 2), flate2::Compression::new(LEVEL));
                let r = gz.write_all(&chunk).and_then(|_| gz.finish());
                if tx.send((seq, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx_done);
        // The producer: cpio bytes, cut into chunks.
        let producer = s.spawn(move || -> std::io::Result<usize> {
            let mut seq = 0;
            let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
            let mut flush = |buf: &mut Vec<u8>, force: bool| -> std::io::Result<()> {
                while buf.len() >= CHUNK || (force && !buf.is_empty()) {
                    let take = buf.len().min(CHUNK);
                    let rest = buf.split_off(take);
                    let chunk = std::mem::replace(buf, rest);
                    tx_work.send((seq, chunk)).map_err(|_| std::io::Error::other("compression worker stopped"))?;
                    seq += 1;
                }
                Ok(())
            };
            for (i, it) in items.iter().enumerate().filter(|(_, i)| i.in_payload()) {
                cpio_header(&mut buf, i as u32 + 1, it.mode as u32, it.size, mtime, &format!(".{}", it.path));
                match it.content {
                    None => {}
                    Some(Content::Bytes(b)) => buf.extend_from_slice(b),
                    Some(Content::Path(p)) => {
                        let mut f = std::fs::File::open(p)?;
                        let mut left = it.size;
                        while left > 0 {
                            let want = (CHUNK + 4096 - buf.len().min(CHUNK)).min(left as usize).max(1);
                            let start = buf.len();
                            buf.resize(start + want, 0);
                            let n = f.read(&mut buf[start..])?;
                            buf.truncate(start + n);
                            if n == 0 {
                                return Err(std::io::Error::other(format!("{} shrank while packaging", p.display())));
                            }
                            left -= n as u64;
                            flush(&mut buf, false)?;
                        }
                    }
                }
                buf.extend(std::iter::repeat_n(0u8, pad4(it.size) as usize));
                flush(&mut buf, false)?;
            }
            cpio_header(&mut buf, 0, 0, 0, 0, "TRAILER!!!");
            flush(&mut buf, true)?;
            Ok(seq)
        });
        // The writer: members in order.
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut next = 0;
        for (seq, r) in rx_done {
            pending.insert(seq, r?);
            while let Some(b) = pending.remove(&next) {
                md5.update(&b);
                out.write_all(&b)?;
                next += 1;
            }
        }
        let total = producer.join().map_err(|_| std::io::Error::other("cpio producer panicked"))??;
        if next != total {
            return Err(std::io::Error::other("compressed payload incomplete"));
        }
        Ok(())
    })
}

fn deps_for(spec: &PackageSpec) -> (Vec<String>, Vec<u32>, Vec<String>) {
    let mut v: Vec<(String, u32, String)> = Vec::new();
    for d in &spec.requires {
        match (&d.exact, d.when) {
            (Some(evr), When::Pre) => {
                v.push((d.name.clone(), sense::EQUAL, evr.clone()));
                v.push((d.name.clone(), sense::SCRIPT_PRE, String::new()));
            }
            (Some(evr), When::Always) => v.push((d.name.clone(), sense::EQUAL, evr.clone())),
            (None, When::Pre) => v.push((d.name.clone(), sense::SCRIPT_PRE, String::new())),
            (None, When::Always) => v.push((d.name.clone(), 0, String::new())),
        }
    }
    for (script, flag) in [
        (&spec.pretrans, sense::PRETRANS),
        (&spec.pre, sense::SCRIPT_PRE),
        (&spec.post, sense::SCRIPT_POST),
        (&spec.preun, sense::SCRIPT_PREUN),
        (&spec.postun, sense::SCRIPT_POSTUN),
    ] {
        if script.is_some() {
            v.push(("/bin/sh".into(), sense::INTERP | flag, String::new()));
        }
    }
    for (name, ver) in [("rpmlib(CompressedFileNames)", "3.0.4-1"), ("rpmlib(FileDigests)", "4.6.0-1"), ("rpmlib(PayloadFilesHavePrefix)", "4.0-1")] {
        v.push((name.into(), sense::RPMLIB | sense::LESS | sense::EQUAL, ver.into()));
    }
    // In rpm's order (lib/rpmds.c `rpmdsCompareIndex`, as rpmbuild merges them): by name,
    // version, then flags.
    v.sort_by(|a, b| (&a.0, &a.2, a.1).cmp(&(&b.0, &b.2, b.1)));
    let names = v.iter().map(|x| x.0.clone()).collect();
    let flags = v.iter().map(|x| x.1).collect();
    let versions = v.iter().map(|x| x.2.clone()).collect();
    (names, flags, versions)
}

/// The source package a binary package says it was built from. rpm tells binary from source
/// headers by this tag (rpm-software-management/rpm lib/headerutil.c `headerIsSource`: no
/// `SOURCERPM`, a source package; lib/package.c `applyRetrofits` guesses from the file list
/// when it is missing), and createrepo_c copies it into primary.xml's `<rpm:sourcerpm>`,
/// which yum reads; so each package names its own, as rpmbuild does for a spec of that name.
pub fn source_rpm(spec: &PackageSpec) -> String {
    format!("{}-{}.src.rpm", spec.name, spec.evr())
}

/// The main header: every tag bundler writes, by name.
fn main_header(spec: &PackageSpec, items: &[Item]) -> Entries {
    let t = spec.build_time as u32;
    let release = spec.version_release().release_tag();
    let evr = spec.evr();
    let mut h = Entries(BTreeMap::new());
    h.put(tags::HEADERI18NTABLE, Data::StrArray(vec!["C".into()]));
    h.put(tag::NAME, Data::Str(spec.name.clone()));
    h.put(tag::VERSION, Data::Str(spec.version.to_string()));
    h.put(tag::RELEASE, Data::Str(release));
    h.put(tag::SUMMARY, Data::I18n(spec.summary.clone()));
    h.put(tag::DESCRIPTION, Data::I18n(spec.description.clone()));
    h.put(tag::BUILDTIME, Data::Int32(vec![t]));
    h.put(tag::BUILDHOST, Data::Str("bundler".into()));
    h.put(tag::SIZE, Data::Int32(vec![items.iter().map(|i| i.size).sum::<u64>() as u32]));
    h.put(tag::VENDOR, Data::Str("bundler".into()));
    h.put(tag::LICENSE, Data::Str(spec.license.clone()));
    h.put(tag::PACKAGER, Data::Str("bundler <bundler@localhost>".into()));
    h.put(tag::GROUP, Data::I18n("System Environment/Base".into()));
    h.put(tag::URL, Data::Str("https://kubernetes.io".into()));
    h.put(tag::OS, Data::Str("linux".into()));
    h.put(tag::ARCH, Data::Str(spec.arch.as_str().into()));
    h.put(tag::SOURCERPM, Data::Str(source_rpm(spec)));
    for (body, prog, s) in [
        (tag::PREIN, tag::PREINPROG, &spec.pre),
        (tag::PRETRANS, tag::PRETRANSPROG, &spec.pretrans),
        (tag::POSTIN, tag::POSTINPROG, &spec.post),
        (tag::PREUN, tag::PREUNPROG, &spec.preun),
        (tag::POSTUN, tag::POSTUNPROG, &spec.postun),
    ] {
        if let Some(s) = s {
            h.put(body, Data::Str(s.clone()));
            h.put(prog, Data::Str("/bin/sh".into()));
        }
    }
    if !items.is_empty() {
        h.put(tag::FILESIZES, Data::Int32(items.iter().map(|i| i.size as u32).collect()));
        h.put(tag::FILEMODES, Data::Int16(items.iter().map(|i| i.mode).collect()));
        h.put(tag::FILERDEVS, Data::Int16(vec![0; items.len()]));
        h.put(tag::FILEMTIMES, Data::Int32(vec![t; items.len()]));
        h.put(tag::FILEDIGESTS, Data::StrArray(items.iter().map(|i| i.digest.clone()).collect()));
        h.put(tag::FILELINKTOS, Data::StrArray(vec![String::new(); items.len()]));
        h.put(tag::FILEFLAGS, Data::Int32(items.iter().map(|i| i.flags).collect()));
        h.put(tag::FILEUSERNAME, Data::StrArray(items.iter().map(|i| i.user.to_string()).collect()));
        h.put(tag::FILEGROUPNAME, Data::StrArray(items.iter().map(|i| i.group.to_string()).collect()));
        h.put(tag::FILEVERIFYFLAGS, Data::Int32(items.iter().map(|i| if i.in_payload() { tags::VERIFY_ALL } else { tags::VERIFY_GHOST }).collect()));
        // rpmbuild records the device of each file in the build root; a ghost there has none.
        h.put(tag::FILEDEVICES, Data::Int32(items.iter().map(|i| u32::from(i.in_payload())).collect()));
        h.put(tag::FILEINODES, Data::Int32((1..=items.len() as u32).collect()));
        h.put(tag::FILELANGS, Data::StrArray(vec![String::new(); items.len()]));
        let mut dirs: Vec<String> = Vec::new();
        let mut idx = Vec::new();
        let mut base = Vec::new();
        for it in items {
            let (d, b) = it.path.rsplit_once('/').unwrap();
            let d = format!("{d}/");
            let i = dirs.iter().position(|x| *x == d).unwrap_or_else(|| {
                dirs.push(d);
                dirs.len() - 1
            });
            idx.push(i as u32);
            base.push(b.to_string());
        }
        h.put(tag::DIRINDEXES, Data::Int32(idx));
        h.put(tag::BASENAMES, Data::StrArray(base));
        h.put(tag::DIRNAMES, Data::StrArray(dirs));
        h.put(tag::FILEDIGESTALGO, Data::Int32(vec![tags::DIGEST_SHA256]));
    }
    let mut provides = vec![(spec.name.clone(), sense::EQUAL, evr.clone())];
    if spec.arch == super::Arch::X86_64 {
        provides.push((format!("{}(x86-64)", spec.name), sense::EQUAL, evr.clone()));
    }
    h.put(tag::PROVIDENAME, Data::StrArray(provides.iter().map(|p| p.0.clone()).collect()));
    h.put(tag::PROVIDEFLAGS, Data::Int32(provides.iter().map(|p| p.1).collect()));
    h.put(tag::PROVIDEVERSION, Data::StrArray(provides.iter().map(|p| p.2.clone()).collect()));
    let (rn, rf, rv) = deps_for(spec);
    h.put(tag::REQUIREFLAGS, Data::Int32(rf));
    h.put(tag::REQUIRENAME, Data::StrArray(rn));
    h.put(tag::REQUIREVERSION, Data::StrArray(rv));
    if !spec.conflicts.is_empty() {
        h.put(tag::CONFLICTFLAGS, Data::Int32(vec![0; spec.conflicts.len()]));
        h.put(tag::CONFLICTNAME, Data::StrArray(spec.conflicts.clone()));
        h.put(tag::CONFLICTVERSION, Data::StrArray(vec![String::new(); spec.conflicts.len()]));
    }
    h.put(tag::RPMVERSION, Data::Str("4.11.3".into())); // the rpm whose format we write
    h.put(tag::CHANGELOGTIME, Data::Int32(vec![t]));
    // "Name <email> - version-release", as rpmbuild stores a `%changelog` entry's heading
    // (rpmlint checks the version in it against the package's).
    h.put(tag::CHANGELOGNAME, Data::StrArray(vec![format!("bundler <bundler@localhost> - {evr}")]));
    h.put(tag::CHANGELOGTEXT, Data::StrArray(vec![format!("- {} {evr} built by bundler", spec.name)]));
    h.put(tag::PAYLOADFORMAT, Data::Str("cpio".into()));
    h.put(tag::PAYLOADCOMPRESSOR, Data::Str("gzip".into()));
    h.put(tag::PAYLOADFLAGS, Data::Str(LEVEL.to_string()));
    h
}

/// Write `spec` to `dst` (through `dst.partial`), signed with `key`, payload compressed on `threads` cores.
/// Returns the package's sha256 (hex) and size.
pub fn write(spec: &PackageSpec, dst: &Path, key: &SigningKey, threads: usize) -> Result<(String, u64)> {
    // Whatever went wrong (payload, signature input, the package), the package was not written.
    let io = |source: std::io::Error| Error::Write { path: dst.to_path_buf(), source };
    let t = spec.build_time as u32;
    let items = items(spec);
    let evr = spec.evr();

    let h = main_header(spec, &items);
    let header = h.to_bytes(tags::HEADERIMMUTABLE);

    // The payload, compressed into a file beside the package.
    let payload_path = dst.with_extension("payload.partial");
    let pf = std::fs::File::create(&payload_path).map_err(io)?;
    let mut pw = BufWriter::with_capacity(1 << 20, pf);
    // MD5 over header and payload, as rpm 4.11 checks it, computed while the payload is written.
    let mut md5 = md5::Md5::new();
    md5.update(&header);
    let result = compress_parallel(&items, t, &mut pw, &mut md5, threads.max(1)).and_then(|_| pw.flush());
    drop(pw);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&payload_path);
        return Err(io(e));
    }
    let cleanup = |e: Error| {
        let _ = std::fs::remove_file(&payload_path);
        e
    };
    let payload_len = std::fs::metadata(&payload_path).map_err(io).map_err(cleanup)?.len();
    let open_payload = || std::fs::File::open(&payload_path).map(|f| std::io::BufReader::with_capacity(1 << 20, f));
    let whole_sig = key.sign_binary((&header[..]).chain(open_payload().map_err(io).map_err(cleanup)?), spec.build_time).map_err(cleanup)?;
    let header_sig = key.sign_binary(&header[..], spec.build_time).map_err(cleanup)?;
    let mut sig = Entries(BTreeMap::new());
    sig.put(sigtag::RSA, Data::Bin(header_sig)); // header only
    sig.put(sigtag::SHA1, Data::Str(hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&header))));
    sig.put(sigtag::SHA256, Data::Str(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&header))));
    sig.put(sigtag::SIZE, Data::Int32(vec![(header.len() as u64 + payload_len) as u32])); // header and payload
    sig.put(sigtag::PGP, Data::Bin(whole_sig)); // header and payload
    sig.put(sigtag::MD5, Data::Bin(md5.finalize().to_vec())); // header and payload
    sig.put(sigtag::PAYLOADSIZE, Data::Int32(vec![cpio_size(&items) as u32])); // uncompressed cpio
    let sig = sig.to_bytes(tags::HEADERSIGNATURES);

    // Lead, signature header (padded to 8 bytes), header, payload.
    let tmp = dst.with_extension("rpm.partial");
    // Hashed as it is written: the repository metadata and SHA256SUMS need the package's sha256.
    let write_all = || -> std::io::Result<(String, u64)> {
        use sha2::Digest as _;
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut sha = sha2::Sha256::new();
        let mut size = 0u64;
        let mut put = |out: &mut BufWriter<std::fs::File>, b: &[u8]| -> std::io::Result<()> {
            sha.update(b);
            size += b.len() as u64;
            out.write_all(b)
        };
        // Lead: magic, format 3.0, type 0 (binary), archnum 1, name, os, signature type.
        let mut lead = tags::LEAD_MAGIC.to_vec();
        lead.extend_from_slice(&[3, 0, 0, 0, 0, 1]);
        let mut name = format!("{}-{evr}", spec.name).into_bytes();
        name.truncate(65);
        name.resize(66, 0);
        lead.extend_from_slice(&name);
        lead.extend_from_slice(&tags::LEAD_OS_LINUX.to_be_bytes());
        lead.extend_from_slice(&tags::LEAD_SIGNATURE_HEADER.to_be_bytes());
        lead.resize(96, 0);
        put(&mut out, &lead)?;
        put(&mut out, &sig)?;
        put(&mut out, &vec![0u8; (8 - sig.len() % 8) % 8])?;
        put(&mut out, &header)?;
        let mut p = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&payload_path)?);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = p.read(&mut buf)?;
            if n == 0 {
                break;
            }
            put(&mut out, &buf[..n])?;
        }
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok((hex::encode(sha.finalize()), size))
    };
    let r = write_all();
    let _ = std::fs::remove_file(&payload_path);
    let done = r.map_err(io)?;
    std::fs::rename(&tmp, dst).map_err(io)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    //! The encoders checked against the format as rpm 4.11 reads it (lib/header.c
    //! `headerImport`/`regionSwab`, lib/cpio.c and the newc format of cpio(5)), with a decoder
    //! written here from those rules rather than the writer's own code.
    use super::*;
    use crate::rpm::{DirEntry, FileEntry};

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// (tag, type, offset, count) of one index entry.
    type IndexEntry = (u32, u32, i32, u32);

    /// Every index entry, and the data store.
    fn decode(h: &[u8]) -> (Vec<IndexEntry>, Vec<u8>) {
        assert_eq!(&h[..8], &tags::HEADER_MAGIC, "header magic, version 1, reserved");
        let il = be32(h, 8) as usize;
        let dl = be32(h, 12) as usize;
        assert_eq!(h.len(), 16 + il * 16 + dl, "the header is exactly its index and data");
        let index = (0..il)
            .map(|i| {
                let e = 16 + i * 16;
                (be32(h, e), be32(h, e + 4), be32(h, e + 8) as i32, be32(h, e + 12))
            })
            .collect();
        (index, h[16 + il * 16..].to_vec())
    }

    fn sample() -> Entries {
        let mut e = Entries(BTreeMap::new());
        // Out of order on purpose, and types whose alignment needs padding after a string.
        e.put(tag::FILEMODES, Data::Int16(vec![0o100644, 0o040755]));
        e.put(tag::NAME, Data::Str("abc".into()));
        e.put(tag::SIZE, Data::Int32(vec![7]));
        e.put(tag::SUMMARY, Data::I18n("s".into()));
        e.put(tag::BASENAMES, Data::StrArray(vec!["a".into(), "bc".into()]));
        e.put(tag::VERSION, Data::Str("1".into()));
        e.put(sigtag::RSA, Data::Bin(vec![1, 2, 3]));
        e
    }

    #[test]
    fn header_region_trailer_points_back_over_the_whole_index() {
        let h = sample().to_bytes(tags::HEADERIMMUTABLE);
        let (index, data) = decode(&h);
        // The region entry comes first and points at the last 16 bytes of the data.
        let (rtag, rty, roff, rcount) = index[0];
        assert_eq!((rtag, rty, rcount), (tags::HEADERIMMUTABLE, ty::BIN, 16));
        assert_eq!(roff as usize, data.len() - 16);
        let trailer = &data[data.len() - 16..];
        assert_eq!(be32(trailer, 0), tags::HEADERIMMUTABLE);
        assert_eq!(be32(trailer, 4), ty::BIN);
        // Its offset is minus the size of the whole index, region entry included (rpm checks
        // `-ril * sizeof(entry)` against the count of entries it covers).
        assert_eq!(be32(trailer, 8) as i32, -(index.len() as i32) * 16);
        assert_eq!(be32(trailer, 12), 16);
        // The signature header's region uses its own tag.
        let s = sample().to_bytes(tags::HEADERSIGNATURES);
        assert_eq!(decode(&s).0[0].0, tags::HEADERSIGNATURES);
    }

    #[test]
    fn header_entries_are_sorted_aligned_and_decode_to_what_was_put() {
        let h = sample().to_bytes(tags::HEADERIMMUTABLE);
        let (index, data) = decode(&h);
        let entries = &index[1..];
        let tags_in_order: Vec<u32> = entries.iter().map(|e| e.0).collect();
        let mut sorted = tags_in_order.clone();
        sorted.sort();
        assert_eq!(tags_in_order, sorted, "rpm binary-searches the index by tag");
        let cstr = |off: usize| -> String {
            let end = data[off..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8(data[off..off + end].to_vec()).unwrap()
        };
        let get = |t: u32| *entries.iter().find(|e| e.0 == t).unwrap();
        let (_, ty_, off, count) = get(tag::FILEMODES);
        assert_eq!((ty_, count), (ty::INT16, 2));
        assert_eq!(off % 2, 0, "INT16 data is 2-aligned");
        let off = off as usize;
        assert_eq!(u16::from_be_bytes([data[off], data[off + 1]]), 0o100644);
        assert_eq!(u16::from_be_bytes([data[off + 2], data[off + 3]]), 0o040755);
        let (_, ty_, off, count) = get(tag::SIZE);
        assert_eq!((ty_, count), (ty::INT32, 1));
        assert_eq!(off % 4, 0, "INT32 data is 4-aligned");
        assert_eq!(be32(&data, off as usize), 7);
        let (_, ty_, off, count) = get(tag::NAME);
        assert_eq!((ty_, count, cstr(off as usize).as_str()), (ty::STRING, 1, "abc"));
        let (_, ty_, off, _) = get(tag::SUMMARY);
        assert_eq!((ty_, cstr(off as usize).as_str()), (ty::I18NSTRING, "s"));
        let (_, ty_, off, count) = get(tag::BASENAMES);
        assert_eq!((ty_, count), (ty::STRING_ARRAY, 2));
        assert_eq!(cstr(off as usize), "a");
        assert_eq!(cstr(off as usize + 2), "bc");
        let (_, ty_, off, count) = get(sigtag::RSA);
        assert_eq!((ty_, count), (ty::BIN, 3));
        assert_eq!(&data[off as usize..off as usize + 3], &[1, 2, 3]);
        // Every entry's data lies inside the store, before the trailer.
        for (t, _, off, _) in entries {
            assert!((*off as usize) < data.len() - 16, "tag {t} at {off}");
        }
    }

    #[test]
    fn cpio_header_is_newc_with_the_name_padded_to_four() {
        let mut out = Vec::new();
        cpio_header(&mut out, 3, 0o100644, 5, 1_700_000_000, "./etc/x");
        let text = std::str::from_utf8(&out[..110]).unwrap();
        assert_eq!(&text[..6], "070701");
        let field = |i: usize| u32::from_str_radix(&text[6 + i * 8..14 + i * 8], 16).unwrap();
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
        let want = [3, 0o100644, 0, 0, 1, 1_700_000_000, 5, 0, 0, 0, 0, 8, 0];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(field(i), *w, "field {i}");
        }
        assert_eq!(&out[110..118], b"./etc/x\0");
        assert_eq!(out.len() % 4, 0, "header plus name padded to a multiple of four");
        assert_eq!(out.len(), 120);
        let mut t = Vec::new();
        cpio_header(&mut t, 0, 0, 0, 0, "TRAILER!!!");
        assert_eq!(&t[110..121], b"TRAILER!!!\0");
        assert_eq!(t.len(), 124);
    }

    fn spec_with(files: Vec<(&str, &[u8])>) -> PackageSpec {
        PackageSpec {
            name: "t".into(),
            kind: crate::specs::PackageKind::Config,
            version: crate::names::RpmVersion::parse("1").unwrap(),
            release: 1,
            arch: crate::rpm::Arch::Noarch,
            summary: "s".into(),
            description: "d".into(),
            license: "ASL 2.0".into(),
            requires: Vec::new(),
            conflicts: Vec::new(),
            files: files
                .into_iter()
                .map(|(p, b)| FileEntry {
                    path: p.into(),
                    content: Content::Bytes(b.to_vec()),
                    sha256: String::new(),
                    mode: 0o644,
                    user: "root".into(),
                    group: "root".into(),
                    config: false,
                    ghost: false,
                })
                .collect(),
            dirs: vec![DirEntry { path: "/etc/t".into(), mode: 0o755, user: "root".into(), group: "root".into() }],
            pretrans: None,
            pre: None,
            post: None,
            preun: None,
            postun: None,
            build_time: 1_700_000_000,
            origin_digest: None,
            origin_tarball: None,
        }
    }

    /// Parse a newc archive: (name, mode, data) per entry, until the trailer.
    fn unpack(mut b: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        loop {
            let text = std::str::from_utf8(&b[..110]).unwrap();
            assert_eq!(&text[..6], "070701", "entry at {pos}");
            let field = |i: usize| u32::from_str_radix(&text[6 + i * 8..14 + i * 8], 16).unwrap() as usize;
            let (mode, size, namesize) = (field(1), field(6), field(11));
            let name = String::from_utf8(b[110..110 + namesize - 1].to_vec()).unwrap();
            let data_at = (110 + namesize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                assert_eq!(b.len(), data_at, "nothing after the trailer but its padding");
                return out;
            }
            out.push((name, mode as u32, b[data_at..data_at + size].to_vec()));
            let next = (data_at + size).next_multiple_of(4);
            pos += next;
            b = &b[next..];
        }
    }

    #[test]
    fn cpio_stream_is_what_cpio_size_says_and_survives_chunking() {
        // Sizes around the chunk boundary and the 4-byte padding, so members split mid-file.
        let big = vec![7u8; CHUNK + 3];
        let spec = spec_with(vec![("/etc/t/a", b"x"), ("/etc/t/big", &big), ("/etc/t/c", b"four"), ("/etc/t/empty", b"")]);
        let items = items(&spec);
        for threads in [1, 3] {
            let mut gz = Vec::new();
            let mut md5 = md5::Md5::new();
            compress_parallel(&items, 1_700_000_000, &mut gz, &mut md5, threads).unwrap();
            assert_eq!(md5.finalize().to_vec(), md5::Md5::digest(&gz).to_vec(), "the MD5 covers exactly what was written");
            let mut cpio = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut cpio).unwrap();
            assert!(gz.len() < cpio.len());
            assert_eq!(cpio.len() as u64, cpio_size(&items), "PAYLOADSIZE matches the archive");
            let entries = unpack(&cpio);
            let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
            assert_eq!(names, ["./etc/t", "./etc/t/a", "./etc/t/big", "./etc/t/c", "./etc/t/empty"], "sorted, with the prefix rpm expects");
            assert_eq!(entries[0].1, 0o040755);
            assert_eq!(entries[2].2, big);
            assert_eq!(entries[3].2, b"four");
            assert_eq!(entries[1].1, 0o100644);
        }
    }

    #[test]
    fn main_header_names_its_source_package() {
        let spec = spec_with(vec![("/etc/t/a", b"x")]);
        let h = main_header(&spec, &items(&spec));
        match h.0.get(&tag::SOURCERPM) {
            Some(Data::Str(s)) => assert_eq!(s, "t-1-1.el7.src.rpm"),
            _ => panic!("no SOURCERPM: rpm would take the package for a source package"),
        }
    }
}
