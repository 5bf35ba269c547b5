//! A package's contents resolved from `specs/packages.yaml`: every file with its install path,
//! mode, owner, flags and source, sorted and collision-checked; the directories it owns with
//! their attributes; its services and scriptlets. A bad entry is bad input, found before any
//! download, like nfpm's `PrepareForPackager`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{Diagnostic, Diagnostics};
use crate::paths::{BundlePath, FileMode, InstallPath};
use crate::specs::{ContentDef, PackageDef, RawMode, Role, ServiceDef, Spec, When};

/// Where a file's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A template under packaging/, rendered with the plan.
    Template(String),
    /// An item of the PKI stage, by id.
    Pki(String),
    /// A member of the package's upstream artifact, by file name.
    Member { artifact: String, name: String },
    /// A file the images stage writes for an image (its archive, tag or id), by image name.
    Image(String),
    /// Written on the host; owned, not carried.
    Ghost,
}

#[derive(Clone, Debug, Serialize)]
pub struct File {
    pub dst: InstallPath,
    pub mode: FileMode,
    pub user: String,
    pub group: String,
    /// `%config(noreplace)`
    pub config: bool,
    /// `%ghost`
    pub ghost: bool,
    pub source: Source,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dir {
    pub path: InstallPath,
    pub mode: FileMode,
    pub user: String,
    pub group: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Service {
    pub name: String,
    /// Only in plans where this holds.
    pub when: Option<When>,
    /// Not on a host that also has this role.
    pub not_with_role: Option<Role>,
    pub why: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BundleFile {
    pub dst: BundlePath,
    pub template: String,
    pub mode: FileMode,
}

/// What the conditions of templates and services are evaluated against.
pub struct Conditions {
    pub dns: bool,
    pub dashboard: bool,
    pub monitoring: bool,
    pub api_proxy: bool,
}

impl Conditions {
    pub fn of(plan: &super::Plan) -> Conditions {
        Conditions {
            dns: plan.addons.dns == "kubedns",
            dashboard: plan.addons.dashboard,
            monitoring: plan.addons.monitoring,
            api_proxy: plan.network.apiserver_proxy.is_some(),
        }
    }
    pub fn holds(&self, w: Option<When>) -> bool {
        match w {
            None => true,
            Some(When::Dns) => self.dns,
            Some(When::Dashboard) => self.dashboard,
            Some(When::Monitoring) => self.monitoring,
            Some(When::ApiProxy) => self.api_proxy,
        }
    }
}

fn mode_of(spec: &Spec, what: &str, m: &RawMode, diags: &mut Diagnostics) -> Option<FileMode> {
    let r = match m {
        RawMode::Text(t) => FileMode::parse(t),
        RawMode::Number(n) => Err(format!("mode {n} is a bare number, which YAML reads as decimal; write the octal mode as a quoted string, such as \"0{n}\"")),
    };
    r.map_err(|e| diags.push(spec.error(format!("{what}: {e}")))).ok()
}

fn path_of(spec: &Spec, what: &str, p: &str, diags: &mut Diagnostics) -> Option<InstallPath> {
    InstallPath::parse(p).map_err(|e| diags.push(spec.error(format!("{what}: {e}")))).ok()
}

/// The services of a role package, in start order.
pub fn services(def: &PackageDef) -> Vec<Service> {
    def.services
        .iter()
        .map(|s| match s {
            ServiceDef::Name(n) => Service { name: n.clone(), when: None, not_with_role: None, why: None },
            ServiceDef::Narrowed(n) => Service { name: n.name.clone(), when: n.when, not_with_role: n.not_with_role, why: Some(n.why.clone()) },
        })
        .collect()
}

/// One package's files, sorted by install path; two entries for one path are refused.
/// `images` are the images this plan puts into the package.
pub fn files(spec: &Spec, def: &PackageDef, images: &[String], cond: &Conditions, diags: &mut Diagnostics) -> Vec<File> {
    let mut out: Vec<File> = Vec::new();
    for (i, c) in def.contents.iter().enumerate() {
        let what = format!("package {} contents[{i}] ({})", def.name, c.dst);
        let Some(dst) = path_of(spec, &what, &c.dst, diags) else { continue };
        let Some(mode) = mode_of(spec, &what, &c.mode, diags) else { continue };
        let Some(source) = source_of(spec, def, c, &what, diags) else { continue };
        if !cond.holds(c.when) {
            continue;
        }
        let user = c.user.clone().unwrap_or_else(|| "root".into());
        let group = c.group.clone().unwrap_or_else(|| "root".into());
        let config = c.config.is_some();
        if let Source::Image(_) = source {
            // Each image's files, in the folder `dst`.
            if let Some(bad) = c.image_archives.iter().find(|s| !crate::names::IMAGE_FILE_SUFFIXES.contains(&s.as_str())) {
                diags.push(spec.error(format!(
                    "{what}: image_archives: {bad:?} is not a file the images stage writes; use some of {}",
                    crate::names::IMAGE_FILE_SUFFIXES.join(", ")
                )));
                continue;
            }
            for img in images {
                for suffix in &c.image_archives {
                    match dst.join(&format!("{img}{suffix}")) {
                        Ok(p) => {
                            out.push(File { dst: p, mode, user: user.clone(), group: group.clone(), config, ghost: false, source: Source::Image(img.clone()) })
                        }
                        Err(e) => diags.push(spec.error(format!("{what}: image {img}: {e}"))),
                    }
                }
            }
            continue;
        }
        out.push(File { dst, mode, user, group, config, ghost: c.ghost, source });
    }
    out.sort_by(|a, b| a.dst.cmp(&b.dst));
    // Two entries with one destination would silently lose one of them.
    for w in out.windows(2) {
        if w[0].dst == w[1].dst {
            diags.push(spec.error(format!("package {}: two contents entries install {}", def.name, w[0].dst)).note("each install path may be listed once"));
        }
    }
    out
}

fn source_of(spec: &Spec, def: &PackageDef, c: &ContentDef, what: &str, diags: &mut Diagnostics) -> Option<Source> {
    let mut found = Vec::new();
    if let Some(t) = &c.template {
        found.push(Source::Template(t.clone()));
    }
    if let Some(p) = &c.pki {
        found.push(Source::Pki(p.clone()));
    }
    if let Some(m) = &c.member {
        match &def.artifact {
            Some(a) => found.push(Source::Member { artifact: a.clone(), name: m.clone() }),
            None => {
                diags.push(spec.error(format!("{what}: `member: {m}` in a package without an `artifact`")));
                return None;
            }
        }
    }
    if !c.image_archives.is_empty() {
        found.push(Source::Image(String::new()));
    }
    if c.ghost {
        found.push(Source::Ghost);
    }
    if found.len() != 1 {
        diags.push(spec.error(format!("{what}: give exactly one source (template, pki, member, image_archives or ghost); found {}", found.len())));
        return None;
    }
    found.pop()
}

/// The directories a package owns: the parents of its files up to the system's folders, and
/// the ones it names, with the attributes the spec gives (0755 root otherwise).
pub fn dirs(spec: &Spec, def: &PackageDef, files: &[File], diags: &mut Diagnostics) -> Vec<Dir> {
    let system: BTreeSet<&str> = spec.system_dirs.iter().map(|s| s.as_str()).collect();
    let mut set: BTreeSet<InstallPath> = BTreeSet::new();
    let add_parents = |set: &mut BTreeSet<InstallPath>, p: &InstallPath| {
        let mut cur = p.parent();
        while let Some(d) = cur {
            if system.contains(d.as_str()) {
                break;
            }
            cur = d.parent();
            set.insert(d);
        }
    };
    for f in files {
        add_parents(&mut set, &f.dst);
    }
    for (i, d) in def.dirs.iter().enumerate() {
        let Some(p) = path_of(spec, &format!("package {} dirs[{i}]", def.name), d, diags) else { continue };
        add_parents(&mut set, &p);
        set.insert(p);
    }
    let attrs: BTreeMap<&str, &crate::specs::DirAttrs> = spec.directories.iter().map(|a| (a.path.as_str(), a)).collect();
    set.into_iter()
        .map(|path| {
            let (mode, user, group) = match attrs.get(path.as_str()) {
                Some(a) => (
                    mode_of(spec, &format!("directories ({})", a.path), &a.mode, diags).unwrap_or(FileMode::from_bits(0o755).unwrap()),
                    a.user.clone().unwrap_or_else(|| "root".into()),
                    a.group.clone().unwrap_or_else(|| "root".into()),
                ),
                None => (FileMode::from_bits(0o755).unwrap(), "root".into(), "root".into()),
            };
            Dir { path, mode, user, group }
        })
        .collect()
}

/// A destination two packages install would make them conflict on the host.
pub fn check_owners<'a>(spec: &Spec, packages: impl Iterator<Item = (&'a str, &'a [File])>, diags: &mut Diagnostics) {
    let mut owner: BTreeMap<&InstallPath, &str> = BTreeMap::new();
    for (name, files) in packages {
        for f in files {
            if let Some(other) = owner.insert(&f.dst, name) {
                if other != name {
                    diags.push(spec.error(format!("{} is installed by two packages, {other} and {name}", f.dst)).note("a path belongs to one package"));
                }
            }
        }
    }
}

/// The bundle's own files, checked.
pub fn bundle_files(spec: &Spec, diags: &mut Diagnostics) -> Vec<BundleFile> {
    let mut out = Vec::new();
    for (i, f) in spec.bundle.files.iter().enumerate() {
        let what = format!("bundle files[{i}] ({})", f.dst);
        let dst = BundlePath::parse(&f.dst).map_err(|e| diags.push(spec.error(format!("{what}: {e}")))).ok();
        let mode = mode_of(spec, &what, &f.mode, diags);
        if let (Some(dst), Some(mode)) = (dst, mode) {
            out.push(BundleFile { dst, template: f.template.clone(), mode });
        }
    }
    out.sort_by(|a, b| a.dst.cmp(&b.dst));
    for w in out.windows(2) {
        if w[0].dst == w[1].dst {
            diags.push(spec.error(format!("bundle: two files for {}", w[0].dst)));
        }
    }
    out
}

/// Check what does not depend on the inventory, for the embedded spec's unit test.
pub fn check(spec: &Spec) -> Result<(), Vec<Diagnostic>> {
    let mut d = Diagnostics::default();
    let cond = Conditions { dns: true, dashboard: true, monitoring: true, api_proxy: true };
    let all: Vec<(String, Vec<File>)> = spec.packages.iter().map(|p| (p.name.clone(), files(spec, p, &p.images, &cond, &mut d))).collect();
    check_owners(spec, all.iter().map(|(n, f)| (n.as_str(), f.as_slice())), &mut d);
    bundle_files(spec, &mut d);
    if d.0.is_empty() {
        Ok(())
    } else {
        Err(d.0)
    }
}
