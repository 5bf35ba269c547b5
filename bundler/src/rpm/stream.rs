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

use super::{Content, PackageSpec, When};
use crate::error::{Error, Result};
use crate::signing::SigningKey;

// Header data types.
const INT16: u32 = 3;
const INT32: u32 = 4;
const STRING: u32 = 6;
const BIN: u32 = 7;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

// Dependency flags.
const LESS: u32 = 1 << 1;
const EQUAL: u32 = 1 << 3;
const INTERP: u32 = 1 << 8;
const SCRIPT_PRE: u32 = 1 << 9;
const SCRIPT_POST: u32 = 1 << 10;
const SCRIPT_PREUN: u32 = 1 << 11;
const SCRIPT_POSTUN: u32 = 1 << 12;
const RPMLIB: u32 = 1 << 24;

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
    /// 63 for the main header, 62 for the signature header), as rpm itself writes them.
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
                    (INT16, v.len())
                }
                Data::Int32(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_be_bytes()));
                    (INT32, v.len())
                }
                Data::Str(s) => {
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                    (STRING, 1)
                }
                Data::I18n(s) => {
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                    (I18NSTRING, 1)
                }
                Data::Bin(b) => {
                    data.extend_from_slice(b);
                    (BIN, b.len())
                }
                Data::StrArray(v) => {
                    for s in v {
                        data.extend_from_slice(s.as_bytes());
                        data.push(0);
                    }
                    (STRING_ARRAY, v.len())
                }
            };
            index.push((tag, ty, off, count as u32));
        }
        // The region trailer: an index entry stored in the data, pointing back over the index.
        let il = index.len() as u32 + 1;
        let trailer_off = data.len() as i32;
        data.extend_from_slice(&region.to_be_bytes());
        data.extend_from_slice(&BIN.to_be_bytes());
        data.extend_from_slice(&(-(il as i32 * 16)).to_be_bytes());
        data.extend_from_slice(&16u32.to_be_bytes());
        let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        out.extend_from_slice(&il.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, ty, off, count) in std::iter::once((region, BIN, trailer_off, 16)).chain(index) {
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
            // RPMFILE_CONFIG | RPMFILE_NOREPLACE
            let flags = if f.config { 1 | 16 } else { 0 };
            Item {
                path: f.path.clone(),
                mode: 0o100000 | f.mode as u16,
                size,
                digest: f.sha256.clone(),
                user: &f.user,
                group: &f.group,
                flags,
                content: Some(&f.content),
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
    for it in items {
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
            for (i, it) in items.iter().enumerate() {
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
                v.push((d.name.clone(), EQUAL, evr.clone()));
                v.push((d.name.clone(), SCRIPT_PRE, String::new()));
            }
            (Some(evr), When::Always) => v.push((d.name.clone(), EQUAL, evr.clone())),
            (None, When::Pre) => v.push((d.name.clone(), SCRIPT_PRE, String::new())),
            (None, When::Always) => v.push((d.name.clone(), 0, String::new())),
        }
    }
    for (script, flag) in [(&spec.pre, SCRIPT_PRE), (&spec.post, SCRIPT_POST), (&spec.preun, SCRIPT_PREUN), (&spec.postun, SCRIPT_POSTUN)] {
        if script.is_some() {
            v.push(("/bin/sh".into(), INTERP | flag, String::new()));
        }
    }
    for (name, ver) in [("rpmlib(CompressedFileNames)", "3.0.4-1"), ("rpmlib(FileDigests)", "4.6.0-1"), ("rpmlib(PayloadFilesHavePrefix)", "4.0-1")] {
        v.push((name.into(), RPMLIB | LESS | EQUAL, ver.into()));
    }
    let names = v.iter().map(|x| x.0.clone()).collect();
    let flags = v.iter().map(|x| x.1).collect();
    let versions = v.iter().map(|x| x.2.clone()).collect();
    (names, flags, versions)
}

/// Write `spec` to `dst` (through `dst.partial`), signed with `key`, payload compressed on `threads` cores.
/// Returns the package's sha256 (hex) and size.
pub fn write(spec: &PackageSpec, dst: &Path, key: &SigningKey, threads: usize) -> Result<(String, u64)> {
    let io = |what: &str, e: std::io::Error| Error::Failed(format!("{what} {}: {e}", dst.display()));
    let t = spec.build_time as u32;
    let items = items(spec);
    let release = format!("{}.el7", spec.release);
    let evr = format!("{}-{release}", spec.version);

    let mut h = Entries(BTreeMap::new());
    h.put(100, Data::StrArray(vec!["C".into()])); // HEADERI18NTABLE
    h.put(1000, Data::Str(spec.name.clone()));
    h.put(1001, Data::Str(spec.version.clone()));
    h.put(1002, Data::Str(release.clone()));
    h.put(1004, Data::I18n(spec.summary.clone()));
    h.put(1005, Data::I18n(spec.description.clone()));
    h.put(1006, Data::Int32(vec![t])); // BUILDTIME
    h.put(1007, Data::Str("bundler".into())); // BUILDHOST
    h.put(1009, Data::Int32(vec![items.iter().map(|i| i.size).sum::<u64>() as u32])); // SIZE
    h.put(1011, Data::Str("bundler".into())); // VENDOR
    h.put(1014, Data::Str(spec.license.clone()));
    h.put(1015, Data::Str("bundler <bundler@localhost>".into())); // PACKAGER
    h.put(1016, Data::I18n("System Environment/Base".into())); // GROUP
    h.put(1020, Data::Str("https://kubernetes.io".into())); // URL
    h.put(1021, Data::Str("linux".into())); // OS
    h.put(1022, Data::Str(spec.arch.clone())); // ARCH
    for (tag, prog, s) in [(1023, 1085, &spec.pre), (1024, 1086, &spec.post), (1025, 1087, &spec.preun), (1026, 1088, &spec.postun)] {
        if let Some(s) = s {
            h.put(tag, Data::Str(s.clone()));
            h.put(prog, Data::Str("/bin/sh".into()));
        }
    }
    if !items.is_empty() {
        h.put(1028, Data::Int32(items.iter().map(|i| i.size as u32).collect())); // FILESIZES
        h.put(1030, Data::Int16(items.iter().map(|i| i.mode).collect())); // FILEMODES
        h.put(1033, Data::Int16(vec![0; items.len()])); // FILERDEVS
        h.put(1034, Data::Int32(vec![t; items.len()])); // FILEMTIMES
        h.put(1035, Data::StrArray(items.iter().map(|i| i.digest.clone()).collect())); // FILEDIGESTS
        h.put(1036, Data::StrArray(vec![String::new(); items.len()])); // FILELINKTOS
        h.put(1037, Data::Int32(items.iter().map(|i| i.flags).collect())); // FILEFLAGS
        h.put(1039, Data::StrArray(items.iter().map(|i| i.user.to_string()).collect())); // FILEUSERNAME
        h.put(1040, Data::StrArray(items.iter().map(|i| i.group.to_string()).collect())); // FILEGROUPNAME
        h.put(1045, Data::Int32(vec![u32::MAX; items.len()])); // FILEVERIFYFLAGS
        h.put(1095, Data::Int32(vec![1; items.len()])); // FILEDEVICES
        h.put(1096, Data::Int32((1..=items.len() as u32).collect())); // FILEINODES
        h.put(1097, Data::StrArray(vec![String::new(); items.len()])); // FILELANGS
        let mut dirs: Vec<String> = Vec::new();
        let mut idx = Vec::new();
        let mut base = Vec::new();
        for it in &items {
            let (d, b) = it.path.rsplit_once('/').unwrap();
            let d = format!("{d}/");
            let i = dirs.iter().position(|x| *x == d).unwrap_or_else(|| {
                dirs.push(d);
                dirs.len() - 1
            });
            idx.push(i as u32);
            base.push(b.to_string());
        }
        h.put(1116, Data::Int32(idx)); // DIRINDEXES
        h.put(1117, Data::StrArray(base)); // BASENAMES
        h.put(1118, Data::StrArray(dirs)); // DIRNAMES
        h.put(5011, Data::Int32(vec![8])); // FILEDIGESTALGO: SHA-256
    }
    let mut provides = vec![(spec.name.clone(), EQUAL, evr.clone())];
    if spec.arch == "x86_64" {
        provides.push((format!("{}(x86-64)", spec.name), EQUAL, evr.clone()));
    }
    h.put(1047, Data::StrArray(provides.iter().map(|p| p.0.clone()).collect())); // PROVIDENAME
    h.put(1112, Data::Int32(provides.iter().map(|p| p.1).collect())); // PROVIDEFLAGS
    h.put(1113, Data::StrArray(provides.iter().map(|p| p.2.clone()).collect())); // PROVIDEVERSION
    let (rn, rf, rv) = deps_for(spec);
    h.put(1048, Data::Int32(rf)); // REQUIREFLAGS
    h.put(1049, Data::StrArray(rn)); // REQUIRENAME
    h.put(1050, Data::StrArray(rv)); // REQUIREVERSION
    if !spec.conflicts.is_empty() {
        h.put(1053, Data::Int32(vec![0; spec.conflicts.len()])); // CONFLICTFLAGS
        h.put(1054, Data::StrArray(spec.conflicts.clone())); // CONFLICTNAME
        h.put(1055, Data::StrArray(vec![String::new(); spec.conflicts.len()])); // CONFLICTVERSION
    }
    h.put(1064, Data::Str("4.11.3".into())); // RPMVERSION: the rpm whose format we write
    h.put(1080, Data::Int32(vec![t])); // CHANGELOGTIME
    h.put(1081, Data::StrArray(vec!["bundler <bundler@localhost>".into()]));
    h.put(1082, Data::StrArray(vec![format!("- {} {evr} built by bundler", spec.name)]));
    h.put(1124, Data::Str("cpio".into())); // PAYLOADFORMAT
    h.put(1125, Data::Str("gzip".into())); // PAYLOADCOMPRESSOR
    h.put(1126, Data::Str(LEVEL.to_string())); // PAYLOADFLAGS
    let header = h.to_bytes(63);

    // The payload, compressed into a file beside the package.
    let payload_path = dst.with_extension("payload.partial");
    let pf = std::fs::File::create(&payload_path).map_err(|e| io("creating", e))?;
    let mut pw = BufWriter::with_capacity(1 << 20, pf);
    // MD5 over header and payload, as rpm 4.11 checks it, computed while the payload is written.
    let mut md5 = md5::Md5::new();
    md5.update(&header);
    let result = compress_parallel(&items, t, &mut pw, &mut md5, threads.max(1)).and_then(|_| pw.flush());
    drop(pw);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&payload_path);
        return Err(io("writing the payload of", e));
    }
    let cleanup = |e: Error| {
        let _ = std::fs::remove_file(&payload_path);
        e
    };
    let payload_len = std::fs::metadata(&payload_path).map_err(|e| io("reading", e)).map_err(cleanup)?.len();
    let open_payload = || std::fs::File::open(&payload_path).map(|f| std::io::BufReader::with_capacity(1 << 20, f));
    let whole_sig = key.sign_binary((&header[..]).chain(open_payload().map_err(|e| io("reading", e)).map_err(cleanup)?), spec.build_time).map_err(cleanup)?;
    let header_sig = key.sign_binary(&header[..], spec.build_time).map_err(cleanup)?;
    let mut sig = Entries(BTreeMap::new());
    sig.put(268, Data::Bin(header_sig)); // RSA: header only
    sig.put(269, Data::Str(hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&header)))); // SHA1 of the header
    sig.put(273, Data::Str(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&header)))); // SHA256 of the header
    sig.put(1000, Data::Int32(vec![(header.len() as u64 + payload_len) as u32])); // SIZE
    sig.put(1002, Data::Bin(whole_sig)); // PGP: header and payload
    sig.put(1004, Data::Bin(md5.finalize().to_vec())); // MD5: header and payload
    sig.put(1007, Data::Int32(vec![cpio_size(&items) as u32])); // PAYLOADSIZE
    let sig = sig.to_bytes(62);

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
        let mut lead = vec![0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0, 0, 1];
        let mut name = format!("{}-{evr}", spec.name).into_bytes();
        name.truncate(65);
        name.resize(66, 0);
        lead.extend_from_slice(&name);
        lead.extend_from_slice(&1u16.to_be_bytes()); // os: linux
        lead.extend_from_slice(&5u16.to_be_bytes()); // signature type: header-style
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
    let done = r.map_err(|e| io("writing", e))?;
    std::fs::rename(&tmp, dst).map_err(|e| io("renaming", e))?;
    Ok(done)
}
