//! Download: the one HTTP client and the digest-keyed cache. Every file is verified while
//! streaming into a `.partial`, resumable, retried only for transient failures, tried on
//! mirrors before upstream, and never touches the network when offline. Fetch, images and
//! cache use it; it knows nothing of the plan.

pub mod cache;

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::digest::Digest;
use crate::digest::{hash_file, Hasher};
use crate::error::{ArtifactFailure, Attempt, Error, Missing, Result};
pub use crate::model::Fetched;
use crate::report::{Event, Outcome, Reporter};
pub use cache::Cache;
use cache::PartialMeta;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per URL for transient failures.
    pub attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
    /// The most time one artifact may take across all its attempts and URLs.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let base_ms = std::env::var("BUNDLER_RETRY_BASE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        // The README's promise: at most 30 minutes per artifact (tests shorten it).
        let deadline = std::env::var("BUNDLER_ARTIFACT_TIMEOUT_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(30 * 60);
        RetryPolicy { attempts: 5, base: Duration::from_millis(base_ms), max_delay: Duration::from_secs(30), deadline: Duration::from_secs(deadline) }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub cache: PathBuf,
    /// Base URLs (`http(s)://` or `file://`) under which artifacts are found by file name.
    pub mirrors: Vec<String>,
    pub no_upstream: bool,
    pub offline: bool,
    pub jobs: usize,
    pub ca_cert: Option<PathBuf>,
    /// A transfer with no bytes for this long is treated as failed (and retried).
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
}

/// One file the plan needs.
#[derive(Clone, Debug)]
pub struct Want {
    pub name: String,
    pub version: String,
    pub file_name: String,
    pub digest: Digest,
    pub upstream: Vec<String>,
}

/// The one place the project makes an HTTP client.
pub fn client(ca_cert: Option<&Path>, stall: Duration) -> Result<reqwest::blocking::Client> {
    let mut b = reqwest::blocking::Client::builder()
        .user_agent(concat!("bundler/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        // In the blocking client this bounds the wait for headers and every single read,
        // so it is a stall timeout, not a limit on the whole transfer.
        .timeout(stall);
    if let Some(p) = ca_cert {
        let pem = crate::files::read_regular(p, crate::files::SMALL).map_err(crate::files::as_input)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Usage(format!("--ca-cert {}: not a PEM certificate: {e}", p.display())))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| Error::Host(format!("cannot set up the HTTP client: {e}")))
}

pub fn validate_mirrors(m: &[String]) -> Result<()> {
    for u in m {
        if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file://")) {
            return Err(Error::Usage(format!("mirror `{u}` must start with http://, https:// or file://")));
        }
    }
    Ok(())
}

/// The cache folder: `--cache`, else `$BUNDLER_CACHE`, else `$XDG_CACHE_HOME/bundler`, else `~/.cache/bundler`.
pub fn default_cache(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("BUNDLER_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(p).join("bundler");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("bundler")
}

/// The most bytes one download may bring when the catalog gives no size: generous (the
/// largest artifact, the Kubernetes server tarball, is a few hundred MiB), but an endless
/// body cannot fill the disk. `BUNDLER_MAX_DOWNLOAD_BYTES` changes it.
pub fn max_download_bytes() -> u64 {
    std::env::var("BUNDLER_MAX_DOWNLOAD_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(4 << 30)
}

enum Fail {
    /// Worth another attempt at the same URL (after a delay, or the server's Retry-After).
    Transient(String, Option<Duration>),
    /// Try the next source, not this one again.
    Permanent(String),
    /// The source cannot be reached at all (its name does not resolve, nothing listens, no
    /// route): retrying it will not help, and when every source says so there is no network.
    Unreachable(String),
}

/// Fetch every wanted file; on failure, the error lists every artifact that failed and why.
pub fn fetch(wants: &[Want], opts: &Options, rep: &dyn Reporter) -> Result<Vec<Fetched>> {
    validate_mirrors(&opts.mirrors)?;
    let cache = Cache::open(&opts.cache)?;
    let client = if opts.offline { None } else { Some(client(opts.ca_cert.as_deref(), opts.stall_timeout)?) };
    let queue: Mutex<VecDeque<(usize, &Want)>> = Mutex::new(wants.iter().enumerate().collect());
    let results: Mutex<Vec<(usize, std::result::Result<Fetched, ArtifactFailure>)>> = Mutex::new(Vec::new());
    let jobs = opts.jobs.clamp(1, 16).min(wants.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let Some((i, w)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let r = fetch_one(w, opts, &cache, client.as_ref(), rep);
                if let Err(e) = &r {
                    rep.event(&Event::Failed { name: &w.name, reason: &e.to_string() });
                }
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results {
        match r {
            Ok(f) => ok.push(f),
            Err(e) => failed.push((i, e)),
        }
    }
    if failed.is_empty() {
        return Ok(ok);
    }
    if opts.offline {
        let missing = failed.iter().map(|(i, _)| Missing { file_name: wants[*i].file_name.clone(), digest: wants[*i].digest.to_string() }).collect();
        return Err(Error::Offline { cache: opts.cache.clone(), missing });
    }
    let failures: Vec<ArtifactFailure> = failed.into_iter().map(|(_, e)| e).collect();
    // Every source of every missing artifact unreachable: say so once, with what to do.
    if failures.iter().all(ArtifactFailure::unreachable) {
        let hosts: BTreeSet<String> = failures
            .iter()
            .flat_map(|f| &f.attempts)
            .filter_map(|a| a.url.as_deref())
            .filter_map(|u| reqwest::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_string)))
            .collect();
        return Err(Error::NoNetwork { failures, hosts: hosts.into_iter().collect() });
    }
    Err(Error::Fetch(failures))
}

fn fetch_one(
    w: &Want,
    opts: &Options,
    cache: &Cache,
    client: Option<&reqwest::blocking::Client>,
    rep: &dyn Reporter,
) -> std::result::Result<Fetched, ArtifactFailure> {
    fetch_one_typed(w, opts, cache, client, rep, &|_| None)
}

/// Authorization for a URL (registry tokens), sent only to the host that issued it.
pub type AuthFor<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// One content-addressed file: from the cache (re-verified), else from the mirrors and then
/// `w.upstream`, streamed, verified, resumed and retried as for any artifact.
pub fn fetch_one_with(
    w: &Want,
    opts: &Options,
    cache: &Cache,
    client: Option<&reqwest::blocking::Client>,
    rep: &dyn Reporter,
    auth: &AuthFor,
) -> std::result::Result<Fetched, String> {
    fetch_one_typed(w, opts, cache, client, rep, auth).map_err(|f| f.to_string())
}

fn fetch_one_typed(
    w: &Want,
    opts: &Options,
    cache: &Cache,
    client: Option<&reqwest::blocking::Client>,
    rep: &dyn Reporter,
    auth: &AuthFor,
) -> std::result::Result<Fetched, ArtifactFailure> {
    let failure = |attempts: Vec<Attempt>| ArtifactFailure {
        artifact: w.name.clone(),
        version: w.version.clone(),
        file_name: w.file_name.clone(),
        expected_digest: w.digest.to_string(),
        attempts,
    };
    let note = |reason: String| Attempt { url: None, attempt: None, of: None, reason, unreachable: false };
    let io = |e: std::io::Error| failure(vec![note(format!("cache {}: {e}", cache.root.display()))]);
    let _lock = match cache.try_lock(&w.digest).map_err(io)? {
        Some(l) => l,
        None => {
            rep.event(&Event::Waiting { name: &w.name });
            cache.lock(&w.digest).map_err(io)?
        }
    };
    let final_path = cache.path(&w.digest);
    fs::create_dir_all(final_path.parent().unwrap()).map_err(io)?;
    if final_path.exists() {
        let (got, size) = hash_file(&final_path, w.digest.algo).map_err(io)?;
        if got == w.digest {
            rep.event(&Event::Done { name: &w.name, outcome: Outcome::Cached, bytes: size });
            return Ok(done(w, final_path.display().to_string(), got, size, 0, Outcome::Cached, final_path));
        }
        // Damaged after it was verified (disk, a hand edit): fetch it again.
        rep.event(&Event::Damaged { name: &w.name, path: &final_path });
        fs::remove_file(&final_path).map_err(io)?;
    }

    let mut sources: Vec<String> = opts.mirrors.iter().map(|m| format!("{}/{}", m.trim_end_matches('/'), w.file_name)).collect();
    if !opts.no_upstream {
        sources.extend(w.upstream.iter().cloned());
    }
    let started = Instant::now();
    let until = started + opts.retry.deadline;
    let mut reasons = Vec::new();
    for url in &sources {
        if Instant::now() >= until {
            let reason = format!("not tried: the artifact's time limit ({} s) is used up", opts.retry.deadline.as_secs());
            reasons.push(Attempt { url: Some(url.clone()), attempt: None, of: None, reason, unreachable: false });
            continue;
        }
        if let Some(path) = url.strip_prefix("file://") {
            match copy_from_file(w, Path::new(path), cache, rep) {
                Ok((digest, size)) => {
                    let p = cache.commit(&w.digest).map_err(io)?;
                    rep.event(&Event::Done { name: &w.name, outcome: Outcome::Copied, bytes: size });
                    return Ok(done(w, url.clone(), digest, size, size, Outcome::Copied, p));
                }
                Err(e) => reasons.push(Attempt { url: Some(url.clone()), attempt: None, of: None, reason: e, unreachable: false }),
            }
            continue;
        }
        let Some(client) = client else { continue };
        let mut transferred = 0u64;
        let mut resumed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = download(client, url, w, cache, rep, &mut transferred, &mut resumed, auth(url), until, opts.retry.deadline);
            // Unreachable at the first try: not retried. A server that answered an earlier
            // attempt and then went away (a restart) is retried as any transient failure.
            let r = match r {
                Err(Fail::Unreachable(e)) if attempt > 1 => Err(Fail::Transient(e, None)),
                r => r,
            };
            match r {
                Ok((digest, size)) => {
                    let p = cache.commit(&w.digest).map_err(io)?;
                    let outcome = if resumed { Outcome::Resumed } else { Outcome::Downloaded };
                    rep.event(&Event::Done { name: &w.name, outcome, bytes: size });
                    return Ok(done(w, url.clone(), digest, size, transferred, outcome, p));
                }
                Err(Fail::Permanent(e)) => {
                    reasons.push(Attempt { url: Some(url.clone()), attempt: Some(attempt), of: None, reason: e, unreachable: false });
                    break;
                }
                Err(Fail::Unreachable(e)) => {
                    reasons.push(Attempt { url: Some(url.clone()), attempt: Some(attempt), of: None, reason: e, unreachable: true });
                    break;
                }
                Err(Fail::Transient(e, retry_after)) => {
                    let left = opts.retry.deadline.saturating_sub(started.elapsed());
                    if attempt >= opts.retry.attempts || left.is_zero() {
                        reasons.push(Attempt { url: Some(url.clone()), attempt: Some(attempt), of: Some(opts.retry.attempts), reason: e, unreachable: false });
                        break;
                    }
                    let delay =
                        retry_after.unwrap_or_else(|| backoff(&opts.retry, attempt)).min(left).min(opts.retry.max_delay.max(Duration::from_secs(1)) * 4);
                    rep.event(&Event::Retry { name: &w.name, url, attempt, reason: &e, delay });
                    std::thread::sleep(delay);
                }
            }
        }
    }
    if sources.is_empty() {
        reasons.push(note("no source: --no-upstream and no mirror".into()));
    }
    if opts.offline && reasons.is_empty() {
        reasons.push(note("not cached, and --offline allows no download".into()));
    }
    Err(failure(reasons))
}

fn done(w: &Want, url: String, actual: Digest, bytes: u64, transferred: u64, outcome: Outcome, path: PathBuf) -> Fetched {
    Fetched {
        name: w.name.clone(),
        version: w.version.clone(),
        file_name: w.file_name.clone(),
        url,
        expected_digest: w.digest.clone(),
        actual_digest: actual,
        bytes,
        bytes_transferred: transferred,
        outcome,
        path,
    }
}

/// Exponential backoff with jitter: a random delay between half and all of base·2^(n-1).
fn backoff(p: &RetryPolicy, attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher as _};
    let full = p.base.saturating_mul(1u32 << (attempt - 1).min(16)).min(p.max_delay);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let frac = (h.finish() % 1000) as f64 / 1000.0;
    full.mul_f64(0.5 + frac / 2.0)
}

fn mismatch(w: &Want, url: &str, got: &Digest) -> String {
    format!("digest mismatch for {} {} from {url}: expected {}, got {}; the file was discarded", w.name, w.version, w.digest, got)
}

fn copy_from_file(w: &Want, path: &Path, cache: &Cache, rep: &dyn Reporter) -> std::result::Result<(Digest, u64), String> {
    // A FIFO or device on a mirror would block or never end: regular files only, size first.
    let (src, len) = crate::files::open_regular(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let cap = max_download_bytes();
    if len > cap {
        return Err(format!("{} is {len} bytes, more than the {cap} bytes allowed for one artifact", path.display()));
    }
    let mut src = src.take(cap);
    let total = Some(len);
    rep.event(&Event::Start { name: &w.name, url: &path.display().to_string(), total, offset: 0 });
    let part = cache.partial(&w.digest);
    let mut out = OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_NOFOLLOW).open(&part).map_err(|e| e.to_string())?;
    let mut h = Hasher::new(w.digest.algo);
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let r = src.read(&mut buf).map_err(|e| format!("read {}: {e}", path.display()))?;
        if r == 0 {
            break;
        }
        h.update(&buf[..r]);
        out.write_all(&buf[..r]).map_err(|e| e.to_string())?;
        n += r as u64;
        rep.event(&Event::Progress { name: &w.name, done: n, total });
    }
    let got = h.finish();
    if got != w.digest {
        cache.drop_partial(&w.digest);
        return Err(mismatch(w, &format!("file://{}", path.display()), &got));
    }
    Ok((got, n))
}

/// One HTTP attempt, resuming from the partial file when the server can prove it is the
/// same file (a strong ETag or Last-Modified in If-Range); else from zero.
#[allow(clippy::too_many_arguments)]
fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    w: &Want,
    cache: &Cache,
    rep: &dyn Reporter,
    transferred: &mut u64,
    resumed: &mut bool,
    authorization: Option<String>,
    until: Instant,
    limit: Duration,
) -> std::result::Result<(Digest, u64), Fail> {
    use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE, RETRY_AFTER};
    let part = cache.partial(&w.digest);
    let meta = cache.read_meta(&w.digest);
    let have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let validator = meta.as_ref().filter(|m| m.url == url).and_then(|m| m.etag.clone().or_else(|| m.last_modified.clone()));
    let offset = if have > 0 && validator.is_some() { have } else { 0 };

    let mut req = client.get(url);
    if let Some(a) = authorization {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    if offset > 0 {
        req = req.header(RANGE, format!("bytes={offset}-")).header(IF_RANGE, validator.clone().unwrap());
    }
    let resp = req.send().map_err(|e| classify(&e))?;
    let status = resp.status();
    if status.as_u16() == 416 {
        cache.drop_partial(&w.digest);
        return Err(Fail::Transient("server refused the resume range (416); starting again from zero".into(), Some(Duration::ZERO)));
    }
    if status.as_u16() == 429 || status.is_server_error() {
        let ra = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs);
        return Err(Fail::Transient(format!("HTTP {status}"), ra));
    }
    if !status.is_success() {
        return Err(Fail::Permanent(format!("HTTP {status}")));
    }
    let header = |h| resp.headers().get(h).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string);
    let etag = header(ETAG).filter(|e| !e.starts_with("W/"));
    let last_modified = header(LAST_MODIFIED);
    let length: Option<u64> = header(CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let cap = max_download_bytes();
    if length.is_some_and(|l| l > cap) {
        return Err(Fail::Permanent(format!("the server announces {} bytes, more than the {cap} bytes allowed for one artifact", length.unwrap())));
    }
    let (start, total) = if status.as_u16() == 206 {
        // Content-Range: bytes START-END/TOTAL
        let cr = header(CONTENT_RANGE).unwrap_or_default();
        let start: Option<u64> = cr.strip_prefix("bytes ").and_then(|r| r.split('-').next()).and_then(|s| s.parse().ok());
        let total: Option<u64> = cr.rsplit('/').next().and_then(|t| t.parse().ok());
        if start != Some(offset) {
            cache.drop_partial(&w.digest);
            return Err(Fail::Transient(format!("server answered the resume with an unexpected range `{cr}`; starting again"), Some(Duration::ZERO)));
        }
        (offset, total)
    } else {
        // 200: a fresh copy, either because we asked for one or because the server ignored
        // the Range or the file changed (If-Range did not match).
        (0, length)
    };
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .read(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&part)
        .map_err(|e| Fail::Permanent(e.to_string()))?;
    let mut h = Hasher::new(w.digest.algo);
    if start > 0 {
        // Hash the bytes we already have; they count towards the digest.
        let mut buf = vec![0u8; 256 * 1024];
        let mut left = start;
        f.seek(SeekFrom::Start(0)).map_err(|e| Fail::Permanent(e.to_string()))?;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let r = f.read(&mut buf[..want]).map_err(|e| Fail::Permanent(e.to_string()))?;
            if r == 0 {
                break;
            }
            h.update(&buf[..r]);
            left -= r as u64;
        }
        *resumed = true;
    } else {
        f.set_len(0).map_err(|e| Fail::Permanent(e.to_string()))?;
    }
    f.seek(SeekFrom::Start(start)).map_err(|e| Fail::Permanent(e.to_string()))?;
    cache.write_meta(&w.digest, &PartialMeta { url: url.to_string(), etag, last_modified, total }).map_err(|e| Fail::Permanent(e.to_string()))?;
    rep.event(&Event::Start { name: &w.name, url, total, offset: start });

    let mut resp = resp;
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = start;
    loop {
        let r = match resp.read(&mut buf) {
            Ok(r) => r,
            Err(e) => {
                let _ = f.flush();
                let why = if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
                    "stalled: no bytes within the stall timeout"
                } else {
                    "connection broke"
                };
                return Err(Fail::Transient(format!("{why} after {pos} bytes ({e})"), None));
            }
        };
        if r == 0 {
            break;
        }
        if pos + r as u64 > cap {
            drop(f);
            cache.drop_partial(&w.digest);
            return Err(Fail::Permanent(format!("the body goes on past {cap} bytes, the most allowed for one artifact; the bytes were discarded")));
        }
        // Each read waits at most the stall timeout, so this holds the limit to within it,
        // even against a server that sends one byte just before every stall timeout.
        if Instant::now() >= until {
            let _ = f.flush();
            return Err(Fail::Permanent(format!("took longer than the {} s allowed per artifact (at {} bytes)", limit.as_secs(), pos + r as u64)));
        }
        h.update(&buf[..r]);
        f.write_all(&buf[..r]).map_err(|e| Fail::Permanent(format!("writing {}: {e}", part.display())))?;
        pos += r as u64;
        *transferred += r as u64;
        rep.event(&Event::Progress { name: &w.name, done: pos, total });
    }
    f.flush().map_err(|e| Fail::Permanent(e.to_string()))?;
    if let Some(t) = total {
        if pos != t {
            return Err(Fail::Transient(format!("body ended at {pos} of {t} bytes"), None));
        }
    }
    let got = h.finish();
    if got != w.digest {
        cache.drop_partial(&w.digest);
        return Err(Fail::Permanent(mismatch(w, url, &got)));
    }
    Ok((got, pos))
}

fn classify(e: &reqwest::Error) -> Fail {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    if unreachable(e) {
        Fail::Unreachable(format!("cannot reach the server ({msg})"))
    } else if e.is_timeout() {
        Fail::Transient(format!("timed out waiting for the server ({msg})"), None)
    } else if e.is_connect() || e.is_request() || e.is_body() {
        Fail::Transient(format!("connection failed ({msg})"), None)
    } else if e.is_builder() {
        Fail::Permanent(format!("bad URL ({msg})"))
    } else {
        Fail::Transient(msg, None)
    }
}

/// The server's name does not resolve, or its address refuses or cannot be routed to: what a
/// machine without network sees. (A timeout is not this: it is retried.)
fn unreachable(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, HostUnreachable, NetworkUnreachable};
    if !e.is_connect() {
        return false;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), ConnectionRefused | NetworkUnreachable | HostUnreachable) {
                return true;
            }
        }
        // hyper-util's resolver error: "dns error: failed to lookup address information: ..."
        let text = s.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        src = s.source();
    }
    false
}
