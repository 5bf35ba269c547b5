//! Container images for the air gap: pulled over the Docker Registry HTTP API v2 by the
//! digest the catalog pins (anonymous bearer tokens, optional basic or token credentials,
//! schema 2 / OCI manifests, manifest lists resolved to linux/amd64), every blob verified and
//! kept in the download cache, and written as `docker save` archives Docker 17.12 loads.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::digest::{Algo, Digest};
use crate::download::{self, Cache, Want};
use crate::error::{Error, ImageFailure, Result};
pub use crate::model::PulledImage;
use crate::plan::Plan;
use crate::report::{Outcome, Reporter};

const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// The biggest manifest read: the limit Docker's registry itself enforces
/// (docker/distribution registry/handlers/manifests.go: `maxManifestBodySize = 4 << 20`).
const MAX_MANIFEST: u64 = 4 << 20;
/// A token service's answer is a small JSON document.
const MAX_TOKEN_ANSWER: u64 = 1 << 20;

/// Credentials for registries that need them (from the environment, never the command line),
/// sent only to the registry they are for.
#[derive(Clone, Default)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    /// A bearer token used as is.
    pub token: Option<String>,
    /// `host[:port]` of the registry the credentials are for (`BUNDLER_REGISTRY_HOST`).
    pub host: Option<String>,
    /// Token services on other hosts allowed to receive the user name and password (over
    /// https only): `BUNDLER_REGISTRY_REALM_HOSTS`, comma-separated `host[:port]`.
    pub realm_hosts: Vec<String>,
}

/// Never prints the secrets themselves.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .field("realm_hosts", &self.realm_hosts)
            .finish()
    }
}

impl Credentials {
    pub fn from_env() -> Credentials {
        let v = |k: &str| std::env::var(k).ok().filter(|s| !s.is_empty());
        Credentials {
            username: v("BUNDLER_REGISTRY_USERNAME"),
            password: v("BUNDLER_REGISTRY_PASSWORD"),
            token: v("BUNDLER_REGISTRY_TOKEN"),
            host: v("BUNDLER_REGISTRY_HOST").map(|h| h.trim().trim_end_matches('/').to_ascii_lowercase()),
            realm_hosts: v("BUNDLER_REGISTRY_REALM_HOSTS")
                .map(|h| h.split([',', ' ']).filter(|s| !s.is_empty()).map(|s| s.to_ascii_lowercase()).collect())
                .unwrap_or_default(),
        }
    }
    fn any(&self) -> bool {
        self.username.is_some() || self.password.is_some() || self.token.is_some()
    }
    /// Credentials without the registry they are for would go to every registry tried.
    pub fn check(&self) -> Result<()> {
        if self.any() && self.host.is_none() {
            return Err(Error::Usage(
                "registry credentials are set (BUNDLER_REGISTRY_USERNAME/PASSWORD or BUNDLER_REGISTRY_TOKEN) but not the registry they are for\nhelp: set BUNDLER_REGISTRY_HOST=host[:port]; bundler sends them to that registry only".into(),
            ));
        }
        Ok(())
    }
    /// For the registry itself (its own `Basic` challenge, a static token).
    fn for_registry(&self, url: &reqwest::Url) -> bool {
        self.host.as_deref().is_some_and(|h| authority(url) == h)
    }
    /// For a token service: on the registry's host, or on a host the user allowed, and then
    /// never over plain http.
    fn for_realm(&self, registry: &reqwest::Url, realm: &reqwest::Url) -> bool {
        if !self.for_registry(registry) {
            return false;
        }
        let a = authority(realm);
        if a == authority(registry) {
            return realm.scheme() == "https" || registry.scheme() == "http";
        }
        realm.scheme() == "https" && self.realm_hosts.contains(&a)
    }
}

/// `host` or `host:port` as written in the URL.
fn authority(u: &reqwest::Url) -> String {
    let h = u.host_str().unwrap_or_default().to_ascii_lowercase();
    match u.port() {
        Some(p) => format!("{h}:{p}"),
        None => h,
    }
}

/// A response body of at most `max` bytes (Content-Length checked first).
fn read_bounded(resp: reqwest::blocking::Response, max: u64, what: &str) -> std::result::Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|l| l > max) {
        return Err(format!("{what}: the server announces {} bytes, more than the {max} allowed", resp.content_length().unwrap()));
    }
    let mut b = Vec::new();
    resp.take(max + 1).read_to_end(&mut b).map_err(|e| format!("{what}: {e}"))?;
    if b.len() as u64 > max {
        return Err(format!("{what}: more than the {max} bytes allowed"));
    }
    Ok(b)
}

#[derive(Clone, Debug)]
struct Ref {
    /// `https://gcr.io` (or `http://` for loopback registries and http mirrors).
    base: String,
    repository: String,
}

fn parse_ref(reference: &str) -> std::result::Result<Ref, String> {
    let name = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n,
        _ => reference,
    };
    let (host, repository) = match name.split_once('/') {
        Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => (h.to_string(), r.to_string()),
        _ => ("registry-1.docker.io".to_string(), if name.contains('/') { name.to_string() } else { format!("library/{name}") }),
    };
    let loopback = host.starts_with("127.") || host.starts_with("localhost");
    let base = format!("{}://{host}", if loopback { "http" } else { "https" });
    Ok(Ref { base, repository })
}

struct Session<'a> {
    client: Option<&'a reqwest::blocking::Client>,
    creds: &'a Credentials,
    /// Authorization header per registry base URL.
    tokens: Mutex<BTreeMap<String, String>>,
}

impl Session<'_> {
    fn auth_header(&self, base: &str) -> Option<String> {
        if let Some(t) = self.tokens.lock().unwrap().get(base) {
            return Some(t.clone());
        }
        let u = reqwest::Url::parse(base).ok()?;
        self.creds.token.as_ref().filter(|_| self.creds.for_registry(&u)).map(|t| format!("Bearer {t}"))
    }

    /// GET with the registry's auth dance: on 401, follow WWW-Authenticate (Bearer: ask the
    /// token realm, with basic credentials when given; Basic: send them), then retry once.
    fn get(&self, base: &str, url: &str, accept: Option<&str>) -> std::result::Result<reqwest::blocking::Response, String> {
        let client = self.client.ok_or("--offline: not in the cache")?;
        let send = |auth: Option<String>| {
            let mut r = client.get(url);
            if let Some(a) = accept {
                r = r.header(reqwest::header::ACCEPT, a);
            }
            if let Some(a) = auth {
                r = r.header(reqwest::header::AUTHORIZATION, a);
            }
            r.send().map_err(|e| format!("{url}: {e}"))
        };
        let resp = send(self.auth_header(base))?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge = resp.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let header = if let Some(params) = challenge.strip_prefix("Bearer ") {
            let p = parse_challenge(params);
            let realm = p.get("realm").ok_or_else(|| format!("{url}: 401 with a Bearer challenge that has no realm"))?;
            let mut token_url = reqwest::Url::parse(realm).map_err(|e| format!("token realm {realm}: {e}"))?;
            for k in ["service", "scope"] {
                if let Some(v) = p.get(k) {
                    token_url.query_pairs_mut().append_pair(k, v);
                }
            }
            let registry = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
            let send_creds = self.creds.for_realm(&registry, &token_url);
            let mut q = client.get(token_url.clone());
            if let (Some(u), Some(pw), true) = (&self.creds.username, &self.creds.password, send_creds) {
                q = q.basic_auth(u, Some(pw));
            }
            let tr = q.send().map_err(|e| format!("token service {realm}: {e}"))?;
            if !tr.status().is_success() {
                let hint = if self.creds.username.is_some() && !send_creds {
                    if !self.creds.for_registry(&registry) {
                        format!("; the credentials are for {} only, not for {}", self.creds.host.as_deref().unwrap_or("?"), authority(&registry))
                    } else if token_url.scheme() != "https" {
                        format!("; the credentials were not sent: the token service {} is plain http on another host", authority(&token_url))
                    } else {
                        format!(
                            "; the credentials were not sent to the token service on another host {a}: allow it with BUNDLER_REGISTRY_REALM_HOSTS={a}",
                            a = authority(&token_url)
                        )
                    }
                } else if self.creds.username.is_none() {
                    "; set BUNDLER_REGISTRY_USERNAME, BUNDLER_REGISTRY_PASSWORD and BUNDLER_REGISTRY_HOST if the registry needs credentials".into()
                } else {
                    String::new()
                };
                return Err(format!("token service {realm} answered HTTP {}{hint}", tr.status()));
            }
            let body = read_bounded(tr, MAX_TOKEN_ANSWER, &format!("token service {realm}"))?;
            let v: Value = serde_json::from_slice(&body).map_err(|e| format!("token service {realm}: not JSON: {e}"))?;
            let t = v["token"].as_str().or(v["access_token"].as_str()).ok_or_else(|| format!("token service {realm}: no token in the answer"))?;
            format!("Bearer {t}")
        } else if challenge.starts_with("Basic") {
            let here = reqwest::Url::parse(url).map(|u| self.creds.for_registry(&u)).unwrap_or(false);
            match (&self.creds.username, &self.creds.password) {
                (Some(_), Some(_)) if !here => {
                    return Err(format!(
                        "{url}: the registry wants a user name and password; the ones set are for {} only",
                        self.creds.host.as_deref().unwrap_or("?")
                    ))
                }
                (Some(u), Some(p)) => {
                    use base64::Engine as _;
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
                }
                _ => {
                    return Err(format!(
                        "{url}: the registry wants a user name and password; set BUNDLER_REGISTRY_USERNAME, BUNDLER_REGISTRY_PASSWORD and BUNDLER_REGISTRY_HOST"
                    ))
                }
            }
        } else {
            return Err(format!("{url}: HTTP 401 without a usable WWW-Authenticate challenge"));
        };
        self.tokens.lock().unwrap().insert(base.to_string(), header.clone());
        let resp = send(Some(header))?;
        if resp.status().as_u16() == 401 {
            return Err(format!("{url}: the registry refused the credentials (HTTP 401)"));
        }
        Ok(resp)
    }
}

fn parse_challenge(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else { break };
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let v = v.trim_start();
        let (val, tail) = if let Some(v) = v.strip_prefix('"') {
            match v.find('"') {
                Some(i) => (v[..i].to_string(), &v[i + 1..]),
                None => (v.to_string(), ""),
            }
        } else {
            match v.find(',') {
                Some(i) => (v[..i].to_string(), &v[i..]),
                None => (v.to_string(), ""),
            }
        };
        out.insert(k, val);
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

fn sha256_of(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

/// How a manifest is named in a mirror folder (`bundler fetch --export`); blobs are `<hex>.blob`.
fn manifest_file_name(hex: &str) -> String {
    format!("{hex}.manifest")
}

/// A manifest by digest: from the cache, else from a `file://` mirror folder, else from the
/// registry (or its mirrors), verified.
fn manifest(s: &Session, sources: &[Source], r: &Ref, digest: &str, cache: &Cache, folders: &[String]) -> std::result::Result<(Vec<u8>, String), String> {
    let d = Digest::parse(Algo::Sha256, digest).map_err(|e| format!("manifest digest {digest}: {e}"))?;
    let path = cache.path(&d);
    if let Ok(b) = crate::files::read_regular(&path, MAX_MANIFEST) {
        if sha256_of(&b) == d.hex {
            return Ok((b, format!("cache {}", path.display())));
        }
    }
    let mut why = Vec::new();
    for m in folders {
        let file = Path::new(m.trim_start_matches("file://")).join(manifest_file_name(&d.hex));
        match std::fs::read(&file) {
            Ok(b) if sha256_of(&b) == d.hex => {
                std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
                let tmp = path.with_extension("partial");
                std::fs::write(&tmp, &b).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| e.to_string())?;
                return Ok((b, format!("file://{}", file.display())));
            }
            Ok(_) => why.push(format!("{}: does not match {digest}", file.display())),
            Err(e) => why.push(format!("{}: {e}", file.display())),
        }
    }
    for Source { base, repository } in sources {
        let url = format!("{base}/v2/{repository}/manifests/{digest}");
        match s.get(base, &url, Some(ACCEPT)) {
            Ok(resp) if resp.status().is_success() => {
                let b = read_bounded(resp, MAX_MANIFEST, &url)?;
                let got = sha256_of(&b);
                if got != d.hex {
                    // Nothing is cached: the pinned digest is the only truth.
                    return Err(format!("manifest digest mismatch for {} from {url}: expected {digest}, got sha256:{got}", r.repository));
                }
                std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
                crate::files::write_atomic(&path, &b, 0o644).map_err(|e| e.to_string())?;
                return Ok((b, url));
            }
            Ok(resp) => why.push(format!("{url}: HTTP {}", resp.status())),
            Err(e) => why.push(e),
        }
    }
    Err(format!("manifest {digest} of {}: {}", r.repository, why.join("; ")))
}

/// Where an image may be pulled from: a registry base URL and the repository path there.
struct Source {
    base: String,
    repository: String,
}

/// Old homes of the Kubernetes images and where the same content (same digests) lives now.
const RELOCATED: &[(&str, &str)] = &[("gcr.io/google_containers", "https://registry.k8s.io"), ("k8s.gcr.io", "https://registry.k8s.io")];

/// Mirrors first (`URL`: same repository path; `PREFIX=URL`: images under PREFIX, rest of the
/// path kept), then the image's own registry, then a known new home of a moved registry. The
/// digest pins the content, so any source that serves it is as good as the original.
fn sources(reference: &str, r: &Ref, mirrors: &[String]) -> Vec<Source> {
    let name = reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map(|(n, _)| n).unwrap_or(reference);
    let mapped = |prefix: &str, url: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| Source { base: url.trim_end_matches('/').to_string(), repository: rest.to_string() })
    };
    let mut v = Vec::new();
    for m in mirrors {
        match m.split_once('=') {
            Some((prefix, url)) => v.extend(mapped(prefix, url)),
            None => v.push(Source { base: m.trim_end_matches('/').to_string(), repository: r.repository.clone() }),
        }
    }
    v.push(Source { base: r.base.clone(), repository: r.repository.clone() });
    for (prefix, url) in RELOCATED {
        v.extend(mapped(prefix, url));
    }
    v
}

pub struct Options<'a> {
    pub fetch: &'a download::Options,
    /// Registry mirrors (base URLs), tried before each image's own registry.
    pub registry_mirrors: &'a [String],
    pub creds: &'a Credentials,
    pub out_dir: &'a Path,
    pub time: u64,
}

/// Pull every image of the plan and write it as a docker-save archive in `out_dir`.
pub fn pull(plan: &Plan, o: &Options, rep: &dyn Reporter) -> Result<Vec<PulledImage>> {
    o.creds.check()?;
    let cache = Cache::open(&o.fetch.cache)?;
    let client = if o.fetch.offline { None } else { Some(download::client(o.fetch.ca_cert.as_deref(), o.fetch.stall_timeout)?) };
    let s = Session { client: client.as_ref(), creds: o.creds, tokens: Mutex::new(BTreeMap::new()) };
    std::fs::create_dir_all(o.out_dir).map_err(|source| Error::Write { path: o.out_dir.to_path_buf(), source })?;
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for img in &plan.images {
        match pull_one(&s, img, o, &cache, rep) {
            Ok(p) => out.push(p),
            Err(reason) => failures.push(ImageFailure {
                image: img.name.clone(),
                version: img.version.clone(),
                reference: img.reference.clone(),
                digest: img.digest.clone(),
                reason,
            }),
        }
    }
    if !failures.is_empty() {
        return Err(Error::Images(failures));
    }
    Ok(out)
}

fn pull_one(s: &Session, img: &crate::plan::Image, o: &Options, cache: &Cache, rep: &dyn Reporter) -> std::result::Result<PulledImage, String> {
    let r = parse_ref(&img.reference)?;
    let bases = sources(&img.reference, &r, o.registry_mirrors);
    let pinned = first_pull_digest(s, img, &bases, cache)?;
    // Mirror folders written by `bundler fetch --export` hold manifests and blobs by digest.
    let folders: Vec<String> = o.fetch.mirrors.iter().filter(|m| m.starts_with("file://")).cloned().collect();
    let (body, source) = manifest(s, &bases, &r, &pinned, cache, &folders)?;
    let mut m: Value = serde_json::from_slice(&body).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let mut image_digest = pinned.clone();
    let media = m["mediaType"].as_str().unwrap_or_default().to_string();
    if media.contains("manifest.list") || media.contains("image.index") || m["manifests"].is_array() {
        let entry = m["manifests"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["platform"]["os"] == "linux" && e["platform"]["architecture"] == "amd64"))
            .ok_or("the manifest list has no linux/amd64 image")?;
        image_digest = entry["digest"].as_str().ok_or("manifest list entry without a digest")?.to_string();
        let (b, _) = manifest(s, &bases, &r, &image_digest, cache, &folders)?;
        m = serde_json::from_slice(&b).map_err(|e| format!("manifest is not JSON: {e}"))?;
    }
    if m["schemaVersion"] != 2 || !m["config"].is_object() {
        return Err(format!("unsupported manifest (schemaVersion {}, mediaType {media}); bundler reads schema 2 and OCI manifests", m["schemaVersion"]));
    }
    let config = m["config"]["digest"].as_str().ok_or("manifest without a config digest")?.to_string();
    let layers: Vec<String> =
        m["layers"].as_array().ok_or("manifest without layers")?.iter().filter_map(|l| l["digest"].as_str().map(str::to_string)).collect();
    // Blobs go through the same cache, resume, retry and offline rules as file artifacts.
    let mut paths = BTreeMap::new();
    for d in std::iter::once(&config).chain(&layers) {
        let digest = Digest::parse(Algo::Sha256, d).map_err(|e| format!("blob {d}: {e}"))?;
        let want = Want {
            name: format!("{} blob {}", img.name, &digest.hex[..12]),
            version: img.version.clone(),
            file_name: format!("{}.blob", digest.hex),
            digest: digest.clone(),
            upstream: bases.iter().map(|b| format!("{}/v2/{}/blobs/{d}", b.base, b.repository)).collect(),
        };
        let fo = download::Options { mirrors: folders.clone(), no_upstream: false, ..o.fetch.clone() };
        // Per source: a token goes only to the registry that issued it (and reqwest drops the
        // header when a blob redirect leaves that host: reqwest 0.13 src/redirect.rs,
        // remove_sensitive_headers).
        let auth = |url: &str| bases.iter().find(|b| url.starts_with(&format!("{}/", b.base))).and_then(|b| s.auth_header(&b.base));
        let f = download::fetch_one_with(&want, &fo, cache, s.client, rep, &auth)?;
        paths.insert(d.clone(), f.path);
    }
    let tag = img.reference.clone();
    let [tar_suffix, id_suffix, tag_suffix] = crate::names::IMAGE_FILE_SUFFIXES else { unreachable!("three image files") };
    let file = |suffix: &str| o.out_dir.join(format!("{}{suffix}", img.name));
    let archive = file(tar_suffix);
    write_docker_archive(&archive, &tag, &config, &layers, &paths, o.time).map_err(|e| format!("writing {}: {e}", archive.display()))?;
    let mut files = BTreeMap::new();
    for (suffix, text) in [(tag_suffix, format!("{tag}\n")), (id_suffix, format!("{config}\n"))] {
        let p = file(suffix);
        std::fs::write(&p, &text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        files.insert(format!("{}{suffix}", img.name), (p, sha256_of(text.as_bytes())));
    }
    let (d, _) = crate::digest::hash_file(&archive, Algo::Sha256).map_err(|e| e.to_string())?;
    files.insert(format!("{}{tar_suffix}", img.name), (archive.clone(), d.hex.clone()));
    Ok(PulledImage {
        name: img.name.clone(),
        reference: tag,
        manifest_digest: pinned,
        image_manifest_digest: image_digest,
        config_digest: config,
        layers,
        archive,
        archive_sha256: d.hex,
        source,
        files,
    })
}

/// The digest to pull by. Catalog pins are used as they are. An image with no published digest
/// (`first-pull`) is looked up by its tag: on the first pull the tag's manifest is hashed,
/// cached under its digest and that digest is used (the caller records it in bundler.lock);
/// later, the tag must still name the locked digest, else the pull is refused with both.
/// Offline, or when no source answers for the tag, the locked digest is used alone.
fn first_pull_digest(s: &Session, img: &crate::plan::Image, bases: &[Source], cache: &Cache) -> std::result::Result<String, String> {
    let Some(fp) = &img.first_pull else { return Ok(img.digest.clone()) };
    let tag = img.reference.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/')).ok_or("no tag to pull by")?;
    let locked = (!img.digest.is_empty()).then_some(img.digest.as_str());
    if s.client.is_none() {
        return locked.map(str::to_string).ok_or_else(|| format!("--offline: no digest in {} yet; pull it once with a connection to pin it", fp.lock_file));
    }
    let mut why = Vec::new();
    for Source { base, repository } in bases {
        let url = format!("{base}/v2/{repository}/manifests/{tag}");
        match s.get(base, &url, Some(ACCEPT)) {
            Ok(resp) if resp.status().is_success() => {
                let b = resp.bytes().map_err(|e| format!("{url}: {e}"))?.to_vec();
                let d = Digest { algo: Algo::Sha256, hex: sha256_of(&b) };
                let got = d.to_string();
                if let Some(l) = locked {
                    if l != got {
                        return Err(format!(
                            "tag `{tag}` changed: {url} now names {got}, but {} pins {l} (pinned on first pull {}); refusing it. If the new content is wanted, review it and delete the entry `{}` from {}",
                            fp.lock_file,
                            fp.pinned_on.as_deref().unwrap_or("earlier"),
                            img.reference,
                            fp.lock_file
                        ));
                    }
                    return Ok(got);
                }
                let path = cache.path(&d);
                std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
                let tmp = path.with_extension("partial");
                std::fs::write(&tmp, &b).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| e.to_string())?;
                return Ok(got);
            }
            Ok(resp) => why.push(format!("{url}: HTTP {}", resp.status())),
            Err(e) => why.push(e),
        }
    }
    match locked {
        Some(l) => Ok(l.to_string()),
        None => Err(format!("tag `{tag}` of {}: {}", img.reference, why.join("; "))),
    }
}

/// The cached manifests and blobs of pulled images as files for a mirror folder
/// (`bundler fetch --export`): `<hex>.manifest` and `<hex>.blob`, as `pull` looks them up.
pub fn mirror_files(images: &[PulledImage], cache_dir: &Path) -> Vec<crate::model::Fetched> {
    let cache = Cache { root: cache_dir.to_path_buf() };
    let mut out: BTreeMap<String, crate::model::Fetched> = BTreeMap::new();
    for i in images {
        let manifests = [&i.manifest_digest, &i.image_manifest_digest];
        let blobs = std::iter::once(&i.config_digest).chain(&i.layers);
        let all = manifests.into_iter().map(|d| (d, true)).chain(blobs.map(|d| (d, false)));
        for (d, is_manifest) in all {
            let Ok(digest) = Digest::parse(Algo::Sha256, d) else { continue };
            let file_name = if is_manifest { manifest_file_name(&digest.hex) } else { format!("{}.blob", digest.hex) };
            let path = cache.path(&digest);
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            out.entry(file_name.clone()).or_insert(crate::model::Fetched {
                name: format!("{} {}", i.name, if is_manifest { "manifest" } else { "blob" }),
                version: String::new(),
                file_name,
                url: path.display().to_string(),
                expected_digest: digest.clone(),
                actual_digest: digest.clone(),
                bytes,
                bytes_transferred: 0,
                outcome: Outcome::Cached,
                path,
            });
        }
    }
    out.into_values().collect()
}

/// `docker save` layout: `manifest.json`, `repositories`, the config as `<hex>.json`, each
/// layer uncompressed as `<diff-id>/layer.tar`, as `docker save` itself writes them (so the
/// layer files' digests are the config's diff_ids, which `docker load` checks).
fn write_docker_archive(out: &Path, tag: &str, config: &str, layers: &[String], blobs: &BTreeMap<String, PathBuf>, time: u64) -> std::io::Result<()> {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let tmp = out.with_extension("tar.partial");
    let f = std::fs::File::create(&tmp)?;
    let mut t = tar::Builder::new(std::io::BufWriter::new(f));
    let mut add = |name: &str, src: &mut dyn std::io::Read, size: u64, dir: bool| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
        h.set_mtime(time);
        h.set_uid(0);
        h.set_gid(0);
        t.append_data(&mut h, name, src)
    };
    let (repo, tagname) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let cfg = std::fs::read(&blobs[config])?;
    add(&format!("{}.json", hex(config)), &mut &cfg[..], cfg.len() as u64, false)?;
    let mut layer_names = Vec::new();
    for l in layers {
        // Decompress to a temporary file first: its size goes in the tar header before the data.
        let raw = tmp.with_extension(format!("layer-{}", &hex(l)[..12]));
        let diff_id = {
            use sha2::Digest as _;
            let mut src = std::io::BufReader::new(std::fs::File::open(&blobs[l])?);
            let gz = {
                use std::io::BufRead as _;
                src.fill_buf()?.starts_with(&[0x1f, 0x8b])
            };
            let mut reader: Box<dyn std::io::Read> = if gz { Box::new(flate2::read::GzDecoder::new(src)) } else { Box::new(src) };
            let mut out = std::io::BufWriter::new(std::fs::File::create(&raw)?);
            let mut h = sha2::Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            }
            out.flush()?;
            hex::encode(h.finalize())
        };
        add(&format!("{diff_id}/"), &mut std::io::empty(), 0, true)?;
        let mut f = std::fs::File::open(&raw)?;
        let size = f.metadata()?.len();
        add(&format!("{diff_id}/layer.tar"), &mut f, size, false)?;
        add(&format!("{diff_id}/VERSION"), &mut &b"1.0"[..], 3, false)?;
        std::fs::remove_file(&raw)?;
        layer_names.push(diff_id);
    }
    let manifest = serde_json::json!([{ "Config": format!("{}.json", hex(config)), "RepoTags": [tag], "Layers": layer_names.iter().map(|d| format!("{d}/layer.tar")).collect::<Vec<_>>() }]);
    let mut repositories = serde_json::Map::new();
    repositories.insert(repo.to_string(), serde_json::json!({ tagname: layer_names.last().cloned().unwrap_or_else(|| hex(config)) }));
    let m = serde_json::to_vec(&manifest).unwrap();
    add("manifest.json", &mut &m[..], m.len() as u64, false)?;
    let r = serde_json::to_vec(&Value::Object(repositories)).unwrap();
    add("repositories", &mut &r[..], r.len() as u64, false)?;
    let mut w = t.into_inner()?;
    w.flush()?;
    w.get_ref().sync_all()?;
    drop(w);
    std::fs::rename(tmp, out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_and_challenges() {
        let r = super::parse_ref("gcr.io/google_containers/pause-amd64:3.0").unwrap();
        assert_eq!((r.base.as_str(), r.repository.as_str()), ("https://gcr.io", "google_containers/pause-amd64"));
        let r = super::parse_ref("127.0.0.1:5000/x/y:1").unwrap();
        assert_eq!((r.base.as_str(), r.repository.as_str()), ("http://127.0.0.1:5000", "x/y"));
        let m = super::sources(
            "gcr.io/google_containers/pause-amd64:3.0",
            &super::parse_ref("gcr.io/google_containers/pause-amd64:3.0").unwrap(),
            &["gcr.io/google_containers=http://mirror:5000".into(), "https://all.example".into()],
        );
        let got: Vec<(String, String)> = m.into_iter().map(|s| (s.base, s.repository)).collect();
        assert_eq!(
            got,
            [
                ("http://mirror:5000".to_string(), "pause-amd64".to_string()),
                ("https://all.example".to_string(), "google_containers/pause-amd64".to_string()),
                ("https://gcr.io".to_string(), "google_containers/pause-amd64".to_string()),
                ("https://registry.k8s.io".to_string(), "pause-amd64".to_string()),
            ]
        );
        let c = super::parse_challenge(r#"realm="http://t/token",service="registry",scope="repository:x/y:pull""#);
        assert_eq!(c["realm"], "http://t/token");
        assert_eq!(c["scope"], "repository:x/y:pull");
    }
}
