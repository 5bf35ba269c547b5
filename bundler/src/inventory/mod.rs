//! Inventory: reads an Ansible/kubespray inventory (YAML or INI) and the `group_vars/` and
//! `host_vars/` folders beside it, and resolves groups and variables as Ansible would.
//! It knows nothing of Kubernetes beyond the group names; the plan gives the values meaning.

mod ini;
mod pattern;
mod pyliteral;
mod raw;
mod yaml_form;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Diagnostic, Diagnostics, Error, Loc, Result};
use crate::value::{Kind, Node};
use raw::{canonical_group, RawInventory};

pub const CONTROL_PLANE: &str = "kube_control_plane";
pub const NODES: &str = "kube_node";
pub const ETCD: &str = "etcd";
pub const CLUSTER: &str = "k8s_cluster";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Yaml,
    Ini,
}

/// A variable's value and which layer set it (for messages).
pub type Vars = BTreeMap<String, Node>;

#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub loc: Option<Loc>,
    /// Whether any occurrence gave the host a vars body.
    pub defined: bool,
    /// Effective variables: group layers, group_vars files, then the host's own.
    pub vars: Vars,
    /// Canonical names of every group the host belongs to (transitively).
    pub groups: BTreeSet<String>,
}

#[derive(Debug)]
pub struct Group {
    pub spelled: String,
    pub loc: Option<Loc>,
    pub declared: bool,
    pub hosts: Vec<String>,
}

#[derive(Debug)]
pub struct Inventory {
    pub path: PathBuf,
    pub format: Format,
    pub text_sha256: String,
    /// In order of first appearance.
    pub hosts: Vec<Host>,
    pub groups: BTreeMap<String, Group>,
    /// Cluster-wide variables as a `k8s_cluster` host sees them, before its own host vars.
    pub cluster_vars: Vars,
    /// Vars set on groups or hosts that only take effect cluster-wide: (name, where).
    pub misplaced: Vec<(String, Loc)>,
    /// Warnings found while reading (errors abort the load).
    pub diags: Diagnostics,
}

impl Inventory {
    pub fn group_hosts(&self, g: &str) -> &[String] {
        self.groups.get(g).map(|g| g.hosts.as_slice()).unwrap_or(&[])
    }
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
    pub fn ignored_groups(&self) -> Vec<String> {
        self.groups
            .iter()
            .filter(|(k, g)| g.declared && ![CONTROL_PLANE, NODES, ETCD, CLUSTER, "all", "ungrouped"].contains(&k.as_str()))
            .map(|(_, g)| g.spelled.clone())
            .collect()
    }
}

fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml" | "json") => Format::Yaml,
        Some("ini" | "cfg") => Format::Ini,
        _ => {
            let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';')).unwrap_or("");
            if first == "---" || (first.ends_with(':') && !first.starts_with('[')) || first.starts_with('{') {
                Format::Yaml
            } else {
                Format::Ini
            }
        }
    }
}

/// Hosts one inventory may define (after range expansion): far above the 5000 nodes
/// Kubernetes 1.9 is tested with, far below what would take the plan minutes.
pub const MAX_HOSTS: usize = 10_000;
/// Variables one inventory may set, counting every host and group (each read is linear).
pub const MAX_VARS: usize = 250_000;

/// Expand an Ansible host pattern (`node[1:3]`), bounded by `MAX_HOSTS`.
pub fn expand_host_pattern(p: &str) -> std::result::Result<Vec<String>, String> {
    pattern::expand(p)
}

/// Read a regular file of at most `max` bytes. Opening does not block (a FIFO is refused,
/// not waited on) and the size is checked on the open file before any byte is read.
pub(crate) fn read_regular(path: &Path, max: usize) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        let ft = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_fifo() {
            "a named pipe (FIFO)"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_dir() {
            "a folder"
        } else {
            "not a regular file"
        };
        return Err(format!("this is {what}, not a regular file; bundler reads inventories and variables only from regular files"));
    }
    if meta.len() > max as u64 {
        return Err(format!("file is {} bytes; bundler reads inventory and variables files up to {max} bytes", meta.len()));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max as u64 + 1).read_to_end(&mut buf).map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() > max {
        return Err(format!("file grew past {max} bytes while being read"));
    }
    Ok(buf)
}

const VAULT_HEADER: &str = "$ANSIBLE_VAULT;";

/// Read an inventory file and the variable folders beside it.
pub fn load(path: &Path) -> Result<Inventory> {
    let bytes = match std::fs::metadata(path) {
        Err(source) => return Err(Error::ReadInput { path: path.to_path_buf(), source }),
        Ok(_) => read_regular(path, crate::yaml::MAX_BYTES).map_err(|m| Error::input(Diagnostic::error(Some(Loc::file_only(path)), m)))?,
    };
    let file = Arc::new(path.to_path_buf());
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(Error::input(Diagnostic::error(
                Some(Loc::file_only(path)),
                format!("this file is not an inventory: it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
            )))
        }
    };
    let format = detect_format(path, text.trim_start_matches('\u{feff}'));
    let raw = read_text(&text, &file, format).map_err(Error::input)?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    resolve(raw, path, format, sha)
}

/// Parse inventory text alone (no group_vars/ or host_vars/ beside it): for the fuzz targets.
pub fn from_text(text: &str, format: Format) -> Result<Inventory> {
    let path = PathBuf::from("(text)");
    let raw = read_text(text, &Arc::new(path.clone()), format).map_err(Error::input)?;
    resolve(raw, &path, format, String::new())
}

fn read_text(text: &str, file: &Arc<PathBuf>, format: Format) -> std::result::Result<RawInventory, Diagnostic> {
    if text.len() > crate::yaml::MAX_BYTES {
        return Err(Diagnostic::error(Some(Loc::file_only(file)), "file is too large to be an inventory"));
    }
    if text.starts_with(VAULT_HEADER) {
        return Err(Diagnostic::error(Some(Loc::new(file, 1, 1)), "this inventory is encrypted with ansible-vault, which bundler cannot open")
            .note("help: decrypt it (`ansible-vault decrypt --output hosts.plain.yml FILE`) and pass the plain copy; bundler needs no secrets from it"));
    }
    match format {
        // PyYAML skips a byte order mark; Ansible's INI reader does not (it refuses the file).
        Format::Yaml => yaml_form::read(text.strip_prefix('\u{feff}').unwrap_or(text), file),
        Format::Ini => {
            if text.starts_with('\u{feff}') {
                return Err(Diagnostic::error(
                    Some(Loc::new(file, 1, 1)),
                    "the file starts with a UTF-8 byte order mark, which Ansible's INI inventory reader refuses",
                )
                .note("help: save the file as UTF-8 without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`)"));
            }
            ini::read(text, file)
        }
    }
}

fn resolve(mut raw: RawInventory, path: &Path, format: Format, text_sha256: String) -> Result<Inventory> {
    let mut diags = std::mem::take(&mut raw.diags);
    let base = path.parent().unwrap_or(Path::new("."));

    // Children referenced but never declared (YAML: silently empty in Ansible; report it).
    let mut missing_children = Vec::new();
    for g in raw.groups.values() {
        for (c, loc) in &g.children {
            if !raw.groups.get(canonical_group(c)).is_some_and(|cg| cg.declared) && format == Format::Yaml {
                missing_children.push((c.clone(), loc.clone()));
            }
        }
    }
    for (c, loc) in missing_children {
        diags.warning(Some(loc), format!("child group `{c}` is never defined; it is empty"));
    }

    // Depth of each group below `all` (for variable precedence) and cycle detection.
    let children: HashMap<String, Vec<String>> =
        raw.groups.iter().map(|(k, g)| (k.clone(), g.children.iter().map(|(c, _)| canonical_group(c).to_string()).collect())).collect();
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    depth.insert("all".into(), 0);
    for g in raw.groups.keys() {
        depth.entry(g.clone()).or_insert(1);
    }
    for (g, grp) in &raw.groups {
        if let Some(cycle) = find_cycle(g, &children) {
            let loc = grp.loc.clone();
            diags.error(loc, format!("groups form a cycle: {}", cycle.join(" -> ")));
            return Err(Error::Input(diags.sorted()));
        }
    }
    // Longest path from a root gives Ansible's depth ordering.
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 1000 {
        changed = false;
        rounds += 1;
        for (g, cs) in &children {
            let d = depth.get(g).copied().unwrap_or(1);
            for c in cs {
                let e = depth.entry(c.clone()).or_insert(1);
                if *e < d + 1 && c != "all" {
                    *e = d + 1;
                    changed = true;
                }
            }
        }
    }

    // Transitive members of each group.
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    fn collect(g: &str, raw: &RawInventory, children: &HashMap<String, Vec<String>>, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
        if !seen.insert(g.to_string()) {
            return;
        }
        if let Some(grp) = raw.groups.get(g) {
            out.extend(grp.hosts.iter().map(|(h, _)| h.clone()));
        }
        for c in children.get(g).into_iter().flatten() {
            collect(c, raw, children, out, seen);
        }
    }
    for g in raw.groups.keys() {
        let mut out = BTreeSet::new();
        collect(g, &raw, &children, &mut out, &mut BTreeSet::new());
        members.insert(g.clone(), out);
    }
    // k8s_cluster is the union of control plane and nodes, declared or not.
    let mut cluster = members.get(CLUSTER).cloned().unwrap_or_default();
    cluster.extend(members.get(CONTROL_PLANE).cloned().unwrap_or_default());
    cluster.extend(members.get(NODES).cloned().unwrap_or_default());
    members.insert(CLUSTER.into(), cluster);
    depth.entry(CLUSTER.into()).or_insert(1);
    // Every host is in `all`.
    members.insert("all".into(), raw.hosts.iter().map(|h| h.name.clone()).collect());

    // group_vars/ and host_vars/ beside the inventory, as Ansible's host_group_vars plugin reads
    // them: for each group that exists in the inventory, under the name it is written with, and
    // each host, the first of `NAME` (a folder, read whole, or a file), `NAME.yml`, `NAME.yaml`,
    // `NAME.json` (ansible-core lib/ansible/parsing/dataloader.py, find_vars_files).
    let mut file_group_vars: BTreeMap<String, Vec<(String, Node)>> = BTreeMap::new();
    let gv_dir = base.join("group_vars");
    if gv_dir.is_dir() {
        let mut names: Vec<(String, String)> = vec![("all".into(), "all".into()), ("ungrouped".into(), "ungrouped".into())];
        for (canon, g) in &raw.groups {
            if g.declared && canon != "all" && canon != "ungrouped" {
                names.push((canon.clone(), g.spelled.clone()));
            }
        }
        let read: BTreeSet<String> = names.iter().map(|(_, s)| s.clone()).collect();
        for (canon, spelled) in names {
            if let Some(src) = find_vars_source(&gv_dir, &spelled) {
                for other in vars_candidates(&gv_dir, &spelled).filter(|p| *p != src && std::fs::symlink_metadata(p).is_ok()) {
                    diags
                        .warning(
                            Some(Loc::file_only(&other)),
                            format!("this file is not read: `{}` comes first, and Ansible reads only the first", src.display()),
                        )
                        .notes
                        .push("help: move its variables into the one that is read".into());
                }
                let vars = read_var_source(&src, &mut diags, &mut Vec::new());
                file_group_vars.entry(canon).or_default().extend(vars);
            }
        }
        // Ansible silently skips group_vars of groups the inventory does not declare; for the
        // groups bundler reads, say so (a folder written for the cluster would otherwise be lost).
        for entry in sorted_dir(&gv_dir, &mut diags) {
            let Some(name) = entry.file_name().and_then(|n| n.to_str()) else { continue };
            let stem = name.strip_suffix(".yml").or_else(|| name.strip_suffix(".yaml")).or_else(|| name.strip_suffix(".json")).unwrap_or(name);
            let canon = canonical_group(stem);
            if [CLUSTER, CONTROL_PLANE, NODES, ETCD].contains(&canon) && !read.contains(stem) {
                let declared = raw.groups.get(canon).filter(|g| g.declared).map(|g| format!(" (it declares `{}`)", g.spelled)).unwrap_or_default();
                diags
                    .warning(Some(Loc::file_only(&entry)), format!("group_vars/{stem} is not read: the inventory declares no group `{stem}`{declared}"))
                    .notes
                    .push("note: Ansible reads group_vars/NAME only for a group spelled NAME in the inventory; rename the file or declare the group".into());
            }
        }
    }
    let mut file_host_vars: BTreeMap<String, Vec<(String, Node)>> = BTreeMap::new();
    let hv_dir = base.join("host_vars");
    if hv_dir.is_dir() {
        for h in &raw.hosts {
            if let Some(src) = find_vars_source(&hv_dir, &h.name) {
                let vars = read_var_source(&src, &mut diags, &mut Vec::new());
                file_host_vars.entry(h.name.clone()).or_default().extend(vars);
            }
        }
    }
    let total_vars: usize = raw.hosts.iter().map(|h| h.vars.len()).sum::<usize>()
        + raw.groups.values().map(|g| g.vars.len()).sum::<usize>()
        + file_group_vars.values().map(Vec::len).sum::<usize>()
        + file_host_vars.values().map(Vec::len).sum::<usize>();
    if total_vars > MAX_VARS {
        diags.error(Some(Loc::file_only(path)), format!("the inventory sets {total_vars} variables; bundler reads at most {MAX_VARS}"));
    }
    if diags.has_errors() {
        return Err(Error::Input(diags.sorted()));
    }

    let layered = |groups: &mut Vec<&String>| {
        groups.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(1), (*g).clone()));
    };
    let empty = Vec::new();
    let group_vars_of = |g: &str| raw.groups.get(g).map(|x| &x.vars).unwrap_or(&empty);

    let mut hosts = Vec::new();
    for h in &raw.hosts {
        let mut gs: Vec<&String> = members.iter().filter(|(_, m)| m.contains(&h.name)).map(|(g, _)| g).collect();
        layered(&mut gs);
        let mut vars = Vars::new();
        for g in &gs {
            for (k, v) in group_vars_of(g) {
                vars.insert(k.clone(), v.clone());
            }
        }
        for g in &gs {
            for (k, v) in file_group_vars.get(*g).unwrap_or(&empty) {
                vars.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &h.vars {
            vars.insert(k.clone(), v.clone());
        }
        for (k, v) in file_host_vars.get(&h.name).unwrap_or(&empty) {
            vars.insert(k.clone(), v.clone());
        }
        hosts.push(Host {
            name: h.name.clone(),
            loc: h.loc.clone(),
            defined: h.has_vars || file_host_vars.contains_key(&h.name),
            vars,
            groups: gs.into_iter().cloned().collect(),
        });
    }

    // The cluster view: all, then k8s_cluster, in file then in group_vars/.
    // `k8s_cluster` vars count only when the inventory declares the group: Ansible has no such
    // group otherwise, so it never reads group_vars/k8s_cluster.yml.
    let cluster_layers: &[&str] = if raw.groups.get(CLUSTER).is_some_and(|g| g.declared) { &["all", CLUSTER] } else { &["all"] };
    let mut cluster_vars = Vars::new();
    for g in cluster_layers {
        for (k, v) in group_vars_of(g) {
            cluster_vars.insert(k.clone(), v.clone());
        }
    }
    for g in cluster_layers {
        for (k, v) in file_group_vars.get(*g).unwrap_or(&empty) {
            cluster_vars.insert(k.clone(), v.clone());
        }
    }
    let mut misplaced = Vec::new();
    for (g, grp) in &raw.groups {
        if g == "all" || g == CLUSTER {
            continue;
        }
        for (k, v) in &grp.vars {
            misplaced.push((k.clone(), v.loc.clone()));
        }
    }
    for g in file_group_vars.keys().filter(|g| *g != "all" && *g != CLUSTER) {
        for (k, v) in &file_group_vars[g] {
            misplaced.push((k.clone(), v.loc.clone()));
        }
    }
    for h in &raw.hosts {
        for (k, v) in &h.vars {
            misplaced.push((k.clone(), v.loc.clone()));
        }
    }
    for vars in file_host_vars.values() {
        for (k, v) in vars {
            misplaced.push((k.clone(), v.loc.clone()));
        }
    }
    misplaced.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    misplaced.dedup();

    let mut groups = BTreeMap::new();
    for (k, m) in &members {
        let rg = raw.groups.get(k);
        // Keep host order as first defined in the file (etcd member numbering depends on it).
        let mut ordered: Vec<String> = Vec::new();
        if k == ETCD || k == CONTROL_PLANE || k == NODES {
            fn walk(
                g: &str,
                raw: &RawInventory,
                children: &HashMap<String, Vec<String>>,
                out: &mut Vec<String>,
                listed: &mut BTreeSet<String>,
                seen: &mut BTreeSet<String>,
            ) {
                if !seen.insert(g.to_string()) {
                    return;
                }
                if let Some(grp) = raw.groups.get(g) {
                    for (h, _) in &grp.hosts {
                        if listed.insert(h.clone()) {
                            out.push(h.clone());
                        }
                    }
                }
                for c in children.get(g).into_iter().flatten() {
                    walk(c, raw, children, out, listed, seen);
                }
            }
            walk(k, &raw, &children, &mut ordered, &mut BTreeSet::new(), &mut BTreeSet::new());
        } else {
            ordered = raw.hosts.iter().filter(|h| m.contains(&h.name)).map(|h| h.name.clone()).collect();
        }
        groups.insert(
            k.clone(),
            Group {
                spelled: rg.map(|g| g.spelled.clone()).unwrap_or_else(|| k.clone()),
                loc: rg.and_then(|g| g.loc.clone()),
                declared: rg.is_some_and(|g| g.declared),
                hosts: ordered,
            },
        );
    }
    Ok(Inventory { path: path.to_path_buf(), format, text_sha256, hosts, groups, cluster_vars, misplaced, diags })
}

fn find_cycle(start: &str, children: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn dfs(g: &str, children: &HashMap<String, Vec<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == g) {
            let mut c = path[i..].to_vec();
            c.push(g.to_string());
            return Some(c);
        }
        if done.contains(g) {
            return None;
        }
        path.push(g.to_string());
        for c in children.get(g).into_iter().flatten() {
            if let Some(cy) = dfs(c, children, path, done) {
                return Some(cy);
            }
        }
        path.pop();
        done.insert(g.to_string());
        None
    }
    dfs(start, children, &mut Vec::new(), &mut BTreeSet::new())
}

fn sorted_dir(dir: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            v
        }
        Err(e) => {
            diags.error(Some(Loc::file_only(dir)), format!("cannot read folder: {e}"));
            Vec::new()
        }
    }
}

const VARS_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];
/// Folders of variables nest at most this deep (a symlink loop would nest forever).
const MAX_VARS_DEPTH: usize = 8;

/// The first of `dir/NAME`, `dir/NAME.yml`, `dir/NAME.yaml`, `dir/NAME.json` that exists.
fn find_vars_source(dir: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    vars_candidates(dir, name).find(|p| std::fs::symlink_metadata(p).is_ok())
}

fn vars_candidates<'a>(dir: &'a Path, name: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    std::iter::once(dir.join(name)).chain(VARS_EXTENSIONS.iter().map(move |e| dir.join(format!("{name}.{e}"))))
}

/// A folder is read whole: sorted, hidden files and `~` backups skipped, sub-folders without an
/// extension recursed, files without an extension or with a YAML one read (dataloader.py,
/// _get_dir_vars_files).
fn read_var_source(p: &Path, diags: &mut Diagnostics, chain: &mut Vec<PathBuf>) -> Vec<(String, Node)> {
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => {
            let why = if e.raw_os_error() == Some(libc::ELOOP) { "it is a symlink loop".to_string() } else { e.to_string() };
            diags.error(Some(Loc::file_only(p)), format!("cannot read variables: {why}"));
            return Vec::new();
        }
    };
    if !meta.is_dir() {
        return read_var_file(p, diags);
    }
    // A symlink back to a folder being read would nest forever (Ansible follows it until the
    // path is too long): refuse it once, at the link.
    let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if let Some(outer) = chain.iter().find(|c| **c == real) {
        diags
            .error(Some(Loc::file_only(p)), format!("this folder is `{}` again (a symlink loop)", outer.display()))
            .notes
            .push("help: remove the symlink; a variables folder is read whole, with its sub-folders".into());
        return Vec::new();
    }
    if chain.len() >= MAX_VARS_DEPTH {
        diags.error(Some(Loc::file_only(p)), format!("variables folders nest more than {MAX_VARS_DEPTH} levels deep here"));
        return Vec::new();
    }
    chain.push(real);
    let mut out = Vec::new();
    for f in sorted_dir(p, diags) {
        let Some(name) = f.file_name().and_then(|n| n.to_str()) else { continue };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = Path::new(name).extension().and_then(|e| e.to_str());
        let is_dir = std::fs::metadata(&f).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            if ext.is_none() {
                out.extend(read_var_source(&f, diags, chain));
            }
        } else if ext.is_none_or(|e| VARS_EXTENSIONS.contains(&e)) {
            out.extend(read_var_source(&f, diags, chain));
        }
    }
    chain.pop();
    out
}

fn read_var_file(p: &Path, diags: &mut Diagnostics) -> Vec<(String, Node)> {
    let text = match read_regular(p, crate::yaml::MAX_BYTES).and_then(|b| String::from_utf8(b).map_err(|_| "it is not UTF-8 text".to_string())) {
        Ok(t) => t,
        Err(e) => {
            diags.error(Some(Loc::file_only(p)), format!("cannot read variables file: {e}"));
            return Vec::new();
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.starts_with(VAULT_HEADER) {
        diags
            .error(Some(Loc::file_only(p)), "this variables file is encrypted with ansible-vault, which bundler cannot open")
            .notes
            .push("help: bundler needs no secrets from group_vars; move the variables it reads into a plain file".into());
        return Vec::new();
    }
    match crate::yaml::parse(text, &Arc::new(p.to_path_buf())) {
        Ok(n) => match n.kind {
            Kind::Map(m) => m.into_iter().map(|(k, _, v)| (k, v)).collect(),
            Kind::Null => Vec::new(),
            _ => {
                let what = n.type_name();
                diags.error(Some(n.loc), format!("a variables file must hold a mapping of names to values, not {what}"));
                Vec::new()
            }
        },
        Err(d) => {
            diags.push(d);
            Vec::new()
        }
    }
}
