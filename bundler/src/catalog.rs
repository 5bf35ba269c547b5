//! The artifact catalog: every upstream file and image a bundle may hold, with the digest
//! it must match and how that digest is known. The embedded `specs/catalog.yaml` can be
//! replaced or extended entry by entry with `--catalog FILE`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::{Algo, Digest};
use crate::error::{Diagnostic, Diagnostics, Error, Loc, Result};

pub const EMBEDDED: &str = include_str!("../../specs/catalog.yaml");

/// How a digest is known, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    UpstreamReleaseNotes,
    KubernetesBuild,
    DockerBuild,
    KubesprayPin,
    /// One third-party source only: verified on first download, said in the plan.
    SingleThirdParty,
    /// Seen on running nodes by a third party: verified on first pull, said in the plan.
    ObservedThirdParty,
    /// Added by the user's own catalog.
    User,
    /// No digest is published anywhere: pulled by tag once, the digest recorded in
    /// `bundler.lock` beside the inventory, every later pull verified against it.
    FirstPull,
}

impl Trust {
    pub fn single_source(self) -> bool {
        matches!(self, Trust::SingleThirdParty | Trust::ObservedThirdParty)
    }
    pub fn describe(self) -> &'static str {
        match self {
            Trust::UpstreamReleaseNotes => "published in the upstream release notes",
            Trust::KubernetesBuild => "pinned by the Kubernetes build",
            Trust::DockerBuild => "pinned by Docker's own build",
            Trust::KubesprayPin => "pinned by kubespray",
            Trust::SingleThirdParty => "digest from one third-party source: verified on first download only",
            Trust::ObservedThirdParty => "digest from one third-party source (seen on running nodes): verified on first pull only",
            Trust::User => "from the user's catalog",
            Trust::FirstPull => "no published digest: pinned on first pull (bundler.lock), verified on every later pull",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    artifacts: Vec<RawEntry>,
    /// The OS vendor's RPM signing key (CentOS 7's release key), pinned by fingerprint.
    os_key: Option<RawOsKey>,
    #[serde(default)]
    os_packages: Vec<RawOsPackage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOsKey {
    name: String,
    url: String,
    fingerprint: String,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOsPackage {
    name: String,
    nevra: String,
    urls: Vec<String>,
    sha256: Option<String>,
    sha256_source: Option<String>,
    license: Option<String>,
    #[serde(default)]
    required_by: Vec<String>,
    source: Option<String>,
}

/// The key that signs the OS vendor's RPMs, fetched like an artifact and accepted only when
/// its fingerprint is the pinned one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsKey {
    pub name: String,
    pub url: String,
    pub file_name: String,
    /// 40 upper-case hex digits, no spaces.
    pub fingerprint: String,
    pub origin: Option<String>,
}

/// One OS package (a CentOS 7 RPM) by exact name-version-release.arch, verified by the
/// vendor's RPM signature against `OsKey`, and by `sha256` where one is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsPackage {
    pub name: String,
    pub nevra: String,
    pub file_name: String,
    /// Tried in order after `--mirror` and `--os-mirror`.
    pub urls: Vec<String>,
    pub sha256: Option<Digest>,
    pub sha256_source: Option<String>,
    pub license: Option<String>,
    /// Role packages that require it by name (its own dependencies are pulled in by rpm).
    pub required_by: Vec<String>,
    pub origin: Option<String>,
}

/// `6341 AB27 ...` or `6341ab27...` as 40 upper-case hex digits.
pub fn parse_fingerprint(s: &str) -> std::result::Result<String, String> {
    let f: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if f.len() != 40 || !f.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not an OpenPGP v4 fingerprint (40 hex digits)"));
    }
    Ok(f)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    version: String,
    url: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    sha512: Option<String>,
    image: Option<String>,
    digest: Option<String>,
    media: Option<String>,
    license: Option<String>,
    trust: Option<Trust>,
    source: Option<String>,
    notes: Option<String>,
    kube_min: Option<String>,
    kube_max: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    File {
        url: String,
        file_name: String,
        digests: Vec<Digest>,
    },
    /// `digest` is None only for `trust: first-pull` entries: bundler.lock supplies it.
    Image {
        reference: String,
        digest: Option<Digest>,
        manifest_list: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub version: String,
    #[serde(flatten)]
    pub source: Source,
    pub license: Option<String>,
    pub trust: Trust,
    pub origin: Option<String>,
    pub notes: Option<String>,
    pub kube_min: Option<String>,
    pub kube_max: Option<String>,
}

impl Entry {
    /// The strongest digest of a file artifact.
    pub fn best_digest(&self) -> Option<&Digest> {
        match &self.source {
            Source::File { digests, .. } => digests.iter().max_by_key(|d| d.algo),
            Source::Image { digest, .. } => digest.as_ref(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Catalog {
    pub entries: Vec<Entry>,
    /// Where it came from: "embedded" or the user's file.
    pub sources: Vec<String>,
    pub os_key: Option<OsKey>,
    pub os_packages: Vec<OsPackage>,
}

impl Catalog {
    pub fn embedded() -> Catalog {
        let (entries, os_key, os_packages) = parse(EMBEDDED, Path::new("specs/catalog.yaml"), false).expect("embedded catalog is valid (tested)");
        Catalog { entries, sources: vec!["embedded".into()], os_key, os_packages }
    }

    /// The embedded catalog with the user's entries laid over it: the user's entries for a
    /// name and version replace every embedded entry of that name and version (so a file
    /// can be pinned to another URL and digest); entries for new versions are added. Its
    /// `os_key` replaces the embedded one, and its `os_packages` replace the embedded ones
    /// of the same name.
    pub fn with_overrides(path: &Path) -> Result<Catalog> {
        let text = crate::files::read_regular_string(path, crate::files::SMALL).map_err(crate::files::as_input)?;
        let (user, os_key, os_packages) = parse(&text, path, true).map_err(Error::Input)?;
        let mut cat = Catalog::embedded();
        cat.entries.retain(|e| !user.iter().any(|u| u.name == e.name && u.version == e.version));
        cat.entries.extend(user);
        if os_key.is_some() {
            cat.os_key = os_key;
        }
        cat.os_packages.retain(|e| !os_packages.iter().any(|u| u.name == e.name));
        cat.os_packages.extend(os_packages);
        cat.sources.push(path.display().to_string());
        Ok(cat)
    }

    pub fn versions_of(&self, name: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self.entries.iter().filter(|e| e.name == name).map(|e| e.version.as_str()).collect();
        v.sort_by(|a, b| version_cmp(a, b));
        v.dedup();
        v
    }

    /// Entries for one name and version; the first is the primary, the rest are other
    /// sources for the same file (the same name at another URL).
    pub fn find(&self, name: &str, version: &str) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.iter().filter(|e| e.name == name && e.version == version).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.best_digest().map(|d| d.algo)));
        v
    }
}

type Parsed = (Vec<Entry>, Option<OsKey>, Vec<OsPackage>);

fn parse(text: &str, file: &Path, user: bool) -> std::result::Result<Parsed, Diagnostics> {
    let raw: RawCatalog = crate::yaml::from_str(text, file).map_err(|d| Diagnostics(vec![d]))?;
    // Problems are gathered per entry and located afterwards (the located parse runs only
    // when something is wrong, so a good catalog is read once).
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for (i, r) in raw.artifacts.into_iter().enumerate() {
        let at = format!("artifact `{}` {}", r.name, r.version);
        let mut bad = |m: String| {
            problems.push((i, format!("{at}: {m}")));
        };
        let source = match (&r.url, &r.image) {
            (Some(url), None) => {
                if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with("file://")) {
                    bad(format!("url `{url}` must start with https://, http:// or file://"));
                    continue;
                }
                let mut digests = Vec::new();
                for (algo, v) in [(Algo::Sha1, &r.sha1), (Algo::Sha256, &r.sha256), (Algo::Sha512, &r.sha512)] {
                    if let Some(v) = v {
                        match Digest::parse(algo, v) {
                            Ok(d) => digests.push(d),
                            Err(e) => bad(e),
                        }
                    }
                }
                if digests.is_empty() {
                    bad("a file artifact needs `sha256:` or `sha512:`".into());
                    continue;
                }
                let file_name = url.rsplit('/').next().unwrap_or_default().to_string();
                if file_name.is_empty() {
                    bad(format!("url `{url}` does not end in a file name"));
                    continue;
                }
                Source::File { url: url.clone(), file_name, digests }
            }
            (None, Some(image)) => {
                let manifest_list = r.media.as_deref() == Some("manifest-list");
                let first_pull = r.trust == Some(Trust::FirstPull);
                match &r.digest {
                    None if first_pull => {
                        if image.rsplit_once(':').is_none_or(|(_, t)| t.contains('/')) {
                            bad(format!("image `{image}` has no tag: a `first-pull` image is pulled by its tag once"));
                            continue;
                        }
                        Source::Image { reference: image.clone(), digest: None, manifest_list }
                    }
                    None => {
                        bad("an image needs `digest: sha256:...` (or `trust: first-pull` when no digest is published anywhere)".into());
                        continue;
                    }
                    Some(_) if first_pull => {
                        bad("a `first-pull` image has no `digest:`: bundler.lock records it on the first pull".into());
                        continue;
                    }
                    Some(d) => match Digest::parse(Algo::Sha256, d) {
                        Ok(digest) if d.starts_with("sha256:") => Source::Image { reference: image.clone(), digest: Some(digest), manifest_list },
                        _ => {
                            bad(format!("image digest `{d}` must be `sha256:` and 64 lowercase hex characters"));
                            continue;
                        }
                    },
                }
            }
            _ => {
                bad("give either `url` with a digest or `image` with `digest`, not both or neither".into());
                continue;
            }
        };
        let trust = match (r.trust, user) {
            (Some(t), _) => t,
            (None, true) => Trust::User,
            (None, false) => {
                bad("embedded entries must say how their digest is known (`trust:`)".into());
                continue;
            }
        };
        out.push(Entry {
            name: r.name,
            version: r.version,
            source,
            license: r.license,
            trust,
            origin: r.source,
            notes: r.notes,
            kube_min: r.kube_min,
            kube_max: r.kube_max,
        });
    }
    let mut diags = Diagnostics::default();
    let locs: Vec<Loc> = if problems.is_empty() {
        Vec::new()
    } else {
        crate::yaml::parse(text, &std::sync::Arc::new(file.to_path_buf()))
            .ok()
            .and_then(|root| match root.get("artifacts").map(|a| &a.kind) {
                // Each entry is named where its first key is written (`- name: ...`).
                Some(crate::value::Kind::Seq(items)) => {
                    Some(items.iter().map(|n| n.as_map().and_then(|m| m.first()).map(|(_, k, _)| k.clone()).unwrap_or_else(|| n.loc.clone())).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    for (i, m) in problems {
        let loc = locs.get(i).cloned().unwrap_or_else(|| Loc::file_only(file));
        diags.push(Diagnostic::error(Some(loc), m));
    }
    let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://") || u.starts_with("file://");
    let loc = Some(Loc::file_only(file));
    let os_key = raw.os_key.and_then(|k| {
        let mut ok = true;
        if !url_ok(&k.url) {
            diags.push(Diagnostic::error(loc.clone(), format!("os_key `{}`: url `{}` must start with https://, http:// or file://", k.name, k.url)));
            ok = false;
        }
        let fingerprint = parse_fingerprint(&k.fingerprint)
            .map_err(|m| diags.push(Diagnostic::error(loc.clone(), format!("os_key `{}`: {m}; copy it from the vendor's published key list", k.name))))
            .ok();
        let file_name = k.url.rsplit('/').next().unwrap_or_default().to_string();
        (ok && !file_name.is_empty()).then_some(())?;
        Some(OsKey { name: k.name, url: k.url, file_name, fingerprint: fingerprint?, origin: k.source })
    });
    let mut os_packages = Vec::new();
    for (i, r) in raw.os_packages.into_iter().enumerate() {
        let at = format!("os_packages #{} (`{}`)", i + 1, r.name);
        let mut bad = |m: String| diags.push(Diagnostic::error(loc.clone(), format!("{at}: {m}")));
        let file_name = format!("{}.rpm", r.nevra);
        // name-version-release.arch: at least two `-` and an arch after the last `.`.
        let parts: Vec<&str> = r.nevra.rsplitn(3, '-').collect();
        if parts.len() != 3 || parts[2] != r.name || !parts[0].contains('.') || r.nevra.contains('/') {
            bad(format!("nevra `{}` is not `{}-VERSION-RELEASE.ARCH`", r.nevra, r.name));
            continue;
        }
        if r.urls.is_empty() {
            bad("give at least one url".into());
            continue;
        }
        if let Some(u) = r.urls.iter().find(|u| !url_ok(u) || !u.ends_with(&format!("/{file_name}"))) {
            bad(format!("url `{u}` must start with https://, http:// or file:// and end in /{file_name}"));
            continue;
        }
        let sha256 = match r.sha256.as_deref().map(|d| Digest::parse(Algo::Sha256, d)) {
            Some(Err(e)) => {
                bad(e);
                continue;
            }
            Some(Ok(d)) => Some(d),
            None => None,
        };
        os_packages.push(OsPackage {
            name: r.name,
            nevra: r.nevra,
            file_name,
            urls: r.urls,
            sha256,
            sha256_source: r.sha256_source,
            license: r.license,
            required_by: r.required_by,
            origin: r.source,
        });
    }
    if !os_packages.is_empty() && os_key.is_none() && !user && !diags.has_errors() {
        diags.push(Diagnostic::error(loc.clone(), "os_packages need an `os_key` to verify their signatures".to_string()));
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok((out, os_key, os_packages))
}

/// Compare versions like `v1.9.10` > `v1.9.9`, `17.12.1-ce` > `17.12.0-ce`.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<u64> {
        s.trim_start_matches('v').split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse().unwrap_or(0)).collect()
    }
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_parses() {
        let c = Catalog::embedded();
        assert!(c.entries.len() >= 60);
        assert_eq!(c.find("kubernetes-server", "v1.9.11")[0].best_digest().unwrap().algo, Algo::Sha512);
    }

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(version_cmp("v1.9.10", "v1.9.9"), std::cmp::Ordering::Greater);
    }
}
