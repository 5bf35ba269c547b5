//! The plan: everything a bundle will be, computed from the inventory and the catalog
//! before a byte is downloaded. Every later stage reads the plan, never raw inventory.

pub mod contents;
mod text;
mod vars;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::catalog::{self, Catalog, Entry, Source, Trust};
use crate::error::{Diagnostic, Diagnostics, Error, Loc, Result};
use crate::inventory::{self, Inventory};
use crate::names::RpmVersion;
use crate::specs::{self, PackageKind, Role};
use crate::value::{Kind, Node};
pub use vars::parse_ipv4;
use vars::{as_bool, as_cidr, as_int, as_list, as_string, bad_value, Scope};

/// Bumped only when a field changes meaning or disappears; new fields may be added.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    /// The inventory path as given on the command line.
    pub inventory: String,
    /// SHA-256 of the inventory bytes the plan was computed from (read once, for the manifest).
    #[serde(skip)]
    pub inventory_sha256: String,
    pub bundle_name: String,
    pub versions: Versions,
    pub hosts: Vec<PlanHost>,
    pub network: Network,
    pub etcd: Etcd,
    pub addons: Addons,
    pub artifacts: Vec<Artifact>,
    pub images: Vec<Image>,
    pub packages: Vec<Package>,
    pub bundle: BundleFiles,
    /// Rendered files scriptlet templates embed (`embed.<name>`), by install path.
    pub scriptlet_embeds: BTreeMap<String, String>,
    /// The OS vendor's key that must have signed every OS package.
    pub os_key: Option<catalog::OsKey>,
    /// CentOS RPMs the bundle's repository carries unchanged (the hosts lack them).
    pub os_packages: Vec<OsPackage>,
    /// Download mirrors from the inventory's `bundler_mirrors` (tried after `--mirror`).
    pub mirrors: Vec<String>,
    /// OS package trees (a CentOS mirror's `os/x86_64` or a DVD, with `Packages/`) from the
    /// inventory's `bundler_os_mirrors` (tried after `--os-mirror`).
    pub os_mirrors: Vec<String>,
    /// Certificate lifetimes in days (`bundler_ca_validity_days`, `bundler_cert_validity_days`).
    pub certificates: CertLifetimes,
    pub ignored_groups: Vec<String>,
    pub ignored_hosts: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct Versions {
    pub kubernetes: String,
    pub etcd: String,
    pub flannel: String,
    pub docker: String,
    pub cni: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct PlanHost {
    pub name: String,
    /// The address services bind to: `ip`, else `access_ip`, else `ansible_host`.
    pub address: Ipv4Addr,
    /// The address others use to reach it: `access_ip`, else `address`.
    pub access_address: Ipv4Addr,
    pub roles: Vec<Role>,
    pub etcd_member_name: Option<String>,
    /// How this host's kubelet, kube-proxy and control-plane components reach the API server.
    pub apiserver_via: ApiVia,
}

/// The path from a host to the API server.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ApiVia {
    /// A control-plane host: its own API server.
    LocalApiserver,
    /// Several control-plane hosts and no load balancer: a proxy on this host.
    LocalProxy,
    /// `loadbalancer_apiserver`.
    Loadbalancer,
    /// One control-plane host and no load balancer: that host.
    ControlPlaneHost,
}

impl ApiVia {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVia::LocalApiserver => "local-apiserver",
            ApiVia::LocalProxy => "local-proxy",
            ApiVia::Loadbalancer => "loadbalancer",
            ApiVia::ControlPlaneHost => "control-plane-host",
        }
    }
}

/// A local TCP proxy to every API server, on the hosts that are not control-plane hosts, when
/// there are several control-plane hosts and no external load balancer (kubespray's
/// `loadbalancer_apiserver_localhost`).
#[derive(Debug, Serialize, Clone)]
pub struct ApiProxy {
    /// `address:port` of every API server, in inventory order.
    pub upstreams: Vec<String>,
    /// The hosts that run it.
    pub hosts: Vec<String>,
    /// The proxy image as the catalog pins it (`nginx`); None while the catalog has no entry.
    pub image: Option<String>,
    /// False while the image has no digest in the catalog: the bundle cannot carry it yet.
    pub pinned: bool,
}

#[derive(Debug, Serialize, Clone)]
pub struct LoadBalancer {
    pub address: Ipv4Addr,
    pub port: u16,
    pub domain_name: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct Network {
    pub service_cidr: Ipv4Net,
    pub pod_cidr: Ipv4Net,
    pub node_prefix: u8,
    pub pod_subnets_available: u64,
    pub pod_subnets_needed: usize,
    pub kubernetes_service_ip: Ipv4Addr,
    pub cluster_dns_ip: Ipv4Addr,
    pub dns_domain: String,
    pub apiserver_port: u16,
    pub apiserver_endpoint: String,
    pub loadbalancer: Option<LoadBalancer>,
    pub apiserver_proxy: Option<ApiProxy>,
    pub supplementary_addresses_in_ssl_keys: Vec<String>,
    pub proxy_mode: String,
    pub network_plugin: String,
    pub container_manager: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct EtcdMember {
    pub name: String,
    pub host: String,
    pub peer_url: String,
    pub client_url: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct Etcd {
    pub members: Vec<EtcdMember>,
    pub initial_cluster: String,
    pub client_endpoints: String,
    /// Backups kept on every member (`bundler_etcd_backup_keep`).
    pub backup_keep: i64,
}

#[derive(Debug, Serialize, Clone)]
pub struct CertLifetimes {
    pub ca_days: i64,
    pub cert_days: i64,
}

#[derive(Debug, Serialize, Clone)]
pub struct Addons {
    pub dns: String,
    pub dashboard: bool,
    /// Heapster, InfluxDB and Grafana (`monitoring_enabled`).
    pub monitoring: bool,
}

#[derive(Debug, Serialize, Clone)]
pub struct Artifact {
    pub name: String,
    pub version: String,
    pub file_name: String,
    pub url: String,
    /// Further upstream URLs for the same file, tried after `url`.
    pub alternate_urls: Vec<String>,
    #[serde(serialize_with = "crate::digest::as_text")]
    pub digest: crate::digest::Digest,
    pub trust: Trust,
    pub trust_note: String,
    pub single_source: bool,
    pub license: Option<String>,
    pub used_by: Vec<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct OsPackage {
    pub name: String,
    pub nevra: String,
    pub file_name: String,
    pub urls: Vec<String>,
    /// Checked in addition to the signature when the catalog pins one.
    pub sha256: Option<String>,
    /// The fingerprint of the key whose RPM signature it must carry.
    pub signed_by: String,
    pub trust_note: String,
    pub license: Option<String>,
    /// Role packages that require it by name.
    pub required_by: Vec<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Image {
    pub name: String,
    pub version: String,
    pub reference: String,
    pub digest: String,
    pub manifest_list: bool,
    pub trust: Trust,
    pub trust_note: String,
    pub single_source: bool,
    pub license: Option<String>,
    pub used_by: Vec<String>,
    /// Set for images no one publishes a digest for: the digest comes from `bundler.lock`
    /// (empty until the first pull records it).
    pub first_pull: Option<FirstPull>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct FirstPull {
    /// The lock file that holds (or will hold) the digest.
    pub lock_file: String,
    /// The day of the first pull (UTC, `YYYY-MM-DD`); None until it happened.
    pub pinned_on: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Package {
    pub name: String,
    pub kind: PackageKind,
    pub summary: String,
    pub version: RpmVersion,
    pub requires: Vec<String>,
    pub artifact: Option<String>,
    pub files: Vec<String>,
    pub images: Vec<String>,
    /// Hosts that install it, directly or as a requirement.
    pub hosts: Vec<String>,
    /// Every file it installs, sorted by install path.
    pub contents: Vec<contents::File>,
    /// The directories it owns.
    pub dirs: Vec<contents::Dir>,
    /// A role package's services, in start order.
    pub services: Vec<contents::Service>,
    pub roles: Vec<Role>,
    pub requires_pre: Vec<String>,
    pub system_requires: Vec<String>,
    pub system_requires_pre: Vec<String>,
    pub restart: Vec<String>,
    pub conflicts: Vec<String>,
    /// Templates under packaging/scriptlets/.
    pub scriptlets: specs::ScriptletNames,
}

/// The bundle's own files and where a host keeps an unpacked bundle.
#[derive(Debug, Serialize, Clone)]
pub struct BundleFiles {
    pub host_dir: crate::paths::InstallPath,
    pub files: Vec<contents::BundleFile>,
}

impl Plan {
    /// The role package of `role` (one serves each role), if this plan has it.
    pub fn role_package(&self, role: Role) -> Option<&Package> {
        self.packages.iter().find(|p| p.kind == PackageKind::Role && p.roles == [role])
    }
    /// The packages that carry the PKI item `id`.
    pub fn pki_carriers(&self, id: &str) -> Vec<String> {
        self.packages.iter().filter(|p| p.contents.iter().any(|f| f.source == contents::Source::Pki(id.to_string()))).map(|p| p.name.clone()).collect()
    }
    /// Where the PKI item `id` is installed.
    pub fn pki_install_path(&self, id: &str) -> Option<String> {
        self.packages.iter().flat_map(|p| &p.contents).find(|f| f.source == contents::Source::Pki(id.to_string())).map(|f| f.dst.to_string())
    }
    /// The services `role` runs, in start order, including ones only some hosts run.
    pub fn services(&self, role: Role) -> Vec<String> {
        self.role_package(role).map(|p| p.services.iter().map(|s| s.name.clone()).collect()).unwrap_or_default()
    }
}

/// A package's RPM version from the upstream version it carries; one rpm cannot take is an
/// error of the plan (the package spec or catalog named it), not a broken file name later.
fn rpm_version(upstream: &str, package: &str, diags: &mut Diagnostics) -> RpmVersion {
    RpmVersion::from_upstream(upstream).unwrap_or_else(|e| {
        diags
            .error(None, format!("package {package}: version: {e}"))
            .notes
            .push("help: the version comes from the catalog entry of the package's artifact (or Kubernetes' for role and image packages)".into());
        RpmVersion::from_upstream("0").expect("0 is an RPM version")
    })
}

/// The parts of a package that come straight from its definition.
fn package_of(d: &specs::PackageDef) -> Package {
    Package {
        name: d.name.clone(),
        kind: d.kind,
        summary: d.summary.clone(),
        version: RpmVersion::from_upstream("0").expect("0 is an RPM version"),
        requires: Vec::new(),
        artifact: None,
        files: Vec::new(),
        images: Vec::new(),
        hosts: Vec::new(),
        contents: Vec::new(),
        dirs: Vec::new(),
        services: contents::services(d),
        roles: d.roles.clone(),
        requires_pre: d.requires_pre.clone(),
        system_requires: d.system_requires.clone(),
        system_requires_pre: d.system_requires_pre.clone(),
        restart: d.restart.clone(),
        conflicts: d.conflicts.clone(),
        scriptlets: d.scriptlets.clone(),
    }
}

/// Names the plan reads that only make sense cluster-wide.
pub(crate) const CLUSTER_VARS: &[&str] = &[
    "kube_version",
    "etcd_version",
    "flannel_version",
    "docker_version",
    "cni_version",
    "kube_service_addresses",
    "kube_pods_subnet",
    "kube_network_node_prefix",
    "cluster_name",
    "dns_domain",
    "kube_apiserver_port",
    "loadbalancer_apiserver",
    "apiserver_loadbalancer_domain_name",
    "supplementary_addresses_in_ssl_keys",
    "kube_proxy_mode",
    "dashboard_enabled",
    "monitoring_enabled",
    "bundler_smoke_test_images",
    "bundler_extra_images",
    "dns_mode",
    "kube_network_plugin",
    "container_manager",
    "pod_infra_version",
    "bundle_name",
    "bundler_mirrors",
    "bundler_os_mirrors",
    "bundler_ca_validity_days",
    "bundler_cert_validity_days",
    "bundler_etcd_backup_keep",
];

/// Build the plan with the embedded package spec. `shown_path` is the inventory path as the user wrote it.
pub fn build(inv: &Inventory, cat: &Catalog, shown_path: &str) -> Result<Plan> {
    build_with(inv, cat, &specs::Spec::embedded(), shown_path)
}

/// Build the plan with the package spec `spec`.
pub fn build_with(inv: &Inventory, cat: &Catalog, spec: &specs::Spec, shown_path: &str) -> Result<Plan> {
    let mut diags = inv.diags.clone();
    let defaults = vars::defaults();
    let scope = Scope { layers: vec![&inv.cluster_vars, &defaults] };
    let whole_file = Some(Loc::new(&std::sync::Arc::new(inv.path.clone()), 1, 1));

    for (name, loc) in &inv.misplaced {
        if CLUSTER_VARS.contains(&name.as_str()) {
            diags.warning(Some(loc.clone()), format!("`{name}` is set on a group or host; bundler reads it only from `all` or `k8s_cluster` vars (or group_vars/all, group_vars/k8s_cluster), so this value is ignored"));
        }
    }

    // Versions.
    let kube = pick_version(&scope, "kube_version", "kubernetes-server", cat, &mut diags, |v| v.starts_with("v1.9."), "Kubernetes 1.9 (v1.9.0 to v1.9.11)");
    let etcd = pick_version(&scope, "etcd_version", "etcd", cat, &mut diags, |_| true, "etcd");
    let flannel = pick_version(&scope, "flannel_version", "flannel", cat, &mut diags, |_| true, "flannel");
    let cni = pick_version(&scope, "cni_version", "cni-plugins", cat, &mut diags, |_| true, "CNI plugins");
    let docker = pick_docker(&scope, cat, &mut diags);

    // What this tool builds.
    for (name, want, supported) in [
        ("kube_network_plugin", "flannel", "bundler builds the flannel network (0.10) only"),
        ("container_manager", "docker", "bundler installs Docker 17.12 only"),
    ] {
        if let Some(n) = scope.get(name, &mut diags) {
            if let Some(v) = as_string(&n, name, &mut diags) {
                if v != want {
                    diags
                        .push(bad_value(&n, name, format!("`{v}` is not supported: {supported}")).note(format!("help: remove `{name}` or set it to `{want}`")));
                }
            }
        }
    }
    let proxy_mode = scope.get("kube_proxy_mode", &mut diags).and_then(|n| {
        let v = as_string(&n, "kube_proxy_mode", &mut diags)?;
        if v == "iptables" || v == "ipvs" {
            Some(v)
        } else {
            diags.push(bad_value(&n, "kube_proxy_mode", format!("`{v}` is not a kube-proxy 1.9 mode; use `iptables` or `ipvs`")));
            None
        }
    });
    let dns_mode = scope.get("dns_mode", &mut diags).and_then(|n| {
        let v = as_string(&n, "dns_mode", &mut diags)?;
        match v.as_str() {
            "kubedns" | "none" | "manual" => Some(v),
            _ => {
                diags.push(bad_value(&n, "dns_mode", format!("`{v}` is not supported: bundler deploys `kubedns` (kube-dns 1.14, pinned by digest) or `none`")));
                None
            }
        }
    });
    let dashboard = scope.get("dashboard_enabled", &mut diags).and_then(|n| as_bool(&n, "dashboard_enabled", &mut diags));
    let monitoring = scope.get("monitoring_enabled", &mut diags).and_then(|n| as_bool(&n, "monitoring_enabled", &mut diags));
    let smoke_images = scope.get("bundler_smoke_test_images", &mut diags).and_then(|n| as_bool(&n, "bundler_smoke_test_images", &mut diags));
    if monitoring == Some(true) && dns_mode.as_deref() == Some("none") {
        let loc = scope.raw("dns_mode").map(|n| n.loc.clone());
        diags.warning(loc, "`monitoring_enabled` with `dns_mode: none`: Heapster finds InfluxDB by its service name, which needs cluster DNS; `kubectl top`, the graphs and the HPA will have no numbers");
    }
    let bundle_name = scope.get("bundle_name", &mut diags).and_then(|n| {
        let v = as_string(&n, "bundle_name", &mut diags)?;
        if !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
            Some(v)
        } else {
            diags.push(bad_value(&n, "bundle_name", "use letters, digits, `-`, `_` and `.` only (it names the tarball)"));
            None
        }
    });

    // Network.
    let service_cidr = scope.get("kube_service_addresses", &mut diags).and_then(|n| as_cidr(&n, "kube_service_addresses", &mut diags));
    let pod_cidr = scope.get("kube_pods_subnet", &mut diags).and_then(|n| as_cidr(&n, "kube_pods_subnet", &mut diags));
    let node_prefix = scope.get("kube_network_node_prefix", &mut diags).and_then(|n| as_int(&n, "kube_network_node_prefix", 1, 30, &mut diags));
    // cluster_name is read through dns_domain's default "{{ cluster_name }}"; checked there.
    let dns_domain = scope.get("dns_domain", &mut diags).and_then(|n| {
        let v = as_string(&n, "dns_domain", &mut diags)?;
        if is_dns_name(&v) {
            Some(v)
        } else {
            diags.push(bad_value(&n, "dns_domain", format!("`{v}` is not a DNS domain such as cluster.local")));
            None
        }
    });
    let api_port = scope.get("kube_apiserver_port", &mut diags).and_then(|n| as_int(&n, "kube_apiserver_port", 1, 65535, &mut diags)).map(|p| p as u16);
    let lb_domain = scope.get("apiserver_loadbalancer_domain_name", &mut diags).and_then(|n| {
        let v = as_string(&n, "apiserver_loadbalancer_domain_name", &mut diags)?;
        // It becomes a name in the API server certificate.
        match san_name(&v) {
            Ok(()) => Some(v),
            Err(e) => {
                diags.push(bad_value(&n, "apiserver_loadbalancer_domain_name", e).note("help: use a DNS name such as lb-apiserver.kubernetes.local"));
                None
            }
        }
    });
    let loadbalancer =
        scope.get("loadbalancer_apiserver", &mut diags).and_then(|n| parse_lb(&n, api_port.unwrap_or(6443), lb_domain.clone().unwrap_or_default(), &mut diags));
    let mirrors = match scope.get("bundler_mirrors", &mut diags) {
        Some(n) => {
            let list = as_list(&n, "bundler_mirrors", &mut diags).unwrap_or_default();
            for m in &list {
                if !(m.starts_with("http://") || m.starts_with("https://") || m.starts_with("file://")) {
                    diags.push(bad_value(&n, "bundler_mirrors", format!("mirror `{m}` must start with http://, https:// or file://")));
                }
            }
            list
        }
        None => Vec::new(),
    };
    let os_mirrors = match scope.get("bundler_os_mirrors", &mut diags) {
        Some(n) => {
            let list = as_list(&n, "bundler_os_mirrors", &mut diags).unwrap_or_default();
            for m in &list {
                if !(m.starts_with("http://") || m.starts_with("https://") || m.starts_with("file://")) {
                    diags.push(bad_value(
                        &n,
                        "bundler_os_mirrors",
                        format!("OS mirror `{m}` must start with http://, https:// or file:// (a tree with Packages/)"),
                    ));
                }
            }
            list
        }
        None => Vec::new(),
    };
    let ca_days = scope.get("bundler_ca_validity_days", &mut diags).and_then(|n| as_int(&n, "bundler_ca_validity_days", 1, 36500, &mut diags));
    let cert_days = scope.get("bundler_cert_validity_days", &mut diags).and_then(|n| as_int(&n, "bundler_cert_validity_days", 1, 36500, &mut diags));
    let backup_keep = scope.get("bundler_etcd_backup_keep", &mut diags).and_then(|n| as_int(&n, "bundler_etcd_backup_keep", 1, 1000, &mut diags));
    let supplementary = match scope.get("supplementary_addresses_in_ssl_keys", &mut diags) {
        Some(n) => {
            let list = as_list(&n, "supplementary_addresses_in_ssl_keys", &mut diags).unwrap_or_default();
            // Each becomes a subject alternative name of the API server certificate.
            for item in &list {
                if let Err(e) = san_name(item).or_else(|_| parse_ipv4(item).map(|_| ())) {
                    let why =
                        if item.parse::<Ipv4Addr>().is_ok() || item.chars().all(|c| c.is_ascii_digit() || c == '.') { e } else { san_name(item).unwrap_err() };
                    diags.push(
                        bad_value(&n, "supplementary_addresses_in_ssl_keys", format!("`{}`: {why}", item.escape_debug()))
                            .note("help: list IPv4 addresses and DNS names only (ASCII letters, digits, `-` and `.`)"),
                    );
                }
            }
            list
        }
        None => Vec::new(),
    };

    // Hosts and roles.
    let cp_names = inv.group_hosts(inventory::CONTROL_PLANE);
    let node_names = inv.group_hosts(inventory::NODES);
    let etcd_names = inv.group_hosts(inventory::ETCD);
    // A missing group has no line of its own: point at the start of the inventory.
    let file_start = whole_file.clone();
    let group_loc = |g: &str| inv.groups.get(g).and_then(|g| g.loc.clone()).or_else(|| file_start.clone());
    if cp_names.is_empty() {
        diags
            .error(group_loc(inventory::CONTROL_PLANE), "no control-plane host: the `kube_control_plane` group (or legacy `kube-master`) is missing or empty")
            .notes
            .push("help: add the master to `kube_control_plane`, e.g. `kube_control_plane: {hosts: {master: }}` under `all.children`".into());
    }
    if node_names.is_empty() {
        diags
            .error(group_loc(inventory::NODES), "no node: the `kube_node` group (or legacy `kube-node`) is missing or empty")
            .notes
            .push("help: list the hosts that run pods in `kube_node`".into());
    }
    if etcd_names.is_empty() {
        diags
            .error(group_loc(inventory::ETCD), "the `etcd` group is missing or empty; the cluster needs at least one etcd member")
            .notes
            .push("help: list 1, 3 or 5 hosts in `etcd` (the source document runs etcd on all three hosts)".into());
    } else if etcd_names.len().is_multiple_of(2) {
        diags.warning(
            group_loc(inventory::ETCD),
            format!(
                "the etcd group has {} members, an even number: legal, but it tolerates no more failures than {} members would",
                etcd_names.len(),
                etcd_names.len() - 1
            ),
        );
    }

    let defined: Vec<&str> = inv.hosts.iter().filter(|h| h.defined).map(|h| h.name.as_str()).collect();
    let (etcd_set, cp_set, node_set): (BTreeSet<&String>, BTreeSet<&String>, BTreeSet<&String>) =
        (etcd_names.iter().collect(), cp_names.iter().collect(), node_names.iter().collect());
    let mut hosts = Vec::new();
    let mut ignored_hosts = Vec::new();
    let mut by_addr: BTreeMap<Ipv4Addr, (String, Option<Loc>)> = BTreeMap::new();
    let mut by_lower: BTreeMap<String, String> = BTreeMap::new();
    for h in &inv.hosts {
        let mut roles = Vec::new();
        if etcd_set.contains(&h.name) {
            roles.push(Role::Etcd);
        }
        if cp_set.contains(&h.name) {
            roles.push(Role::ControlPlane);
        }
        if node_set.contains(&h.name) {
            roles.push(Role::Node);
        }
        if roles.is_empty() {
            ignored_hosts.push(h.name.clone());
            continue;
        }
        if let Some(other) = by_lower.insert(h.name.to_ascii_lowercase(), h.name.clone()) {
            diags.error(h.loc.clone(), format!("hosts `{other}` and `{}` have one name (Kubernetes node names are lowercase)", h.name));
        }
        if !is_node_name(&h.name) {
            diags
                .error(h.loc.clone(), format!("host name `{}` cannot be a Kubernetes node name", h.name))
                .notes
                .push("help: use lowercase letters, digits, `-` and `.` (RFC 1123), as `hostname` would report it".into());
        }
        let host_defaults = BTreeMap::new();
        let hscope = Scope { layers: vec![&h.vars, &inv.cluster_vars, &host_defaults] };
        let addr = host_address(h, &hscope, &defined, &mut diags);
        let access = match hscope.raw("access_ip") {
            Some(_) => hscope.get("access_ip", &mut diags).and_then(|n| address_value(&n, "access_ip", &h.name, &mut diags)),
            None => addr,
        };
        let member_name = if roles.contains(&Role::Etcd) {
            let pos = etcd_names.iter().position(|n| *n == h.name).unwrap_or(0) + 1;
            match hscope.raw("etcd_member_name") {
                Some(_) => hscope.get("etcd_member_name", &mut diags).and_then(|n| {
                    let v = as_string(&n, "etcd_member_name", &mut diags)?;
                    // It reaches ETCD_NAME, ETCD_INITIAL_CLUSTER, /etc/bundler/hosts and file names.
                    if is_dns_name(&v) {
                        Some(v)
                    } else {
                        diags.push(
                            bad_value(&n, "etcd_member_name", format!("host `{}`: `{}` is not a valid etcd member name", h.name, v.escape_debug()))
                                .note("help: use lowercase letters, digits, `-` and `.` (a DNS-1123 name such as `etcd1`), or remove it to get `etcd<N>`"),
                        );
                        None
                    }
                }),
                None => Some(format!("etcd{pos}")),
            }
        } else {
            None
        };
        let (Some(address), Some(access_address)) = (addr, access) else {
            continue;
        };
        if let Some((other, _)) = by_addr.get(&address) {
            diags
                .error(h.loc.clone(), format!("hosts `{other}` and `{}` have one address, {address}", h.name))
                .notes
                .push("note: a host range such as `node[1:2] ip=...` gives every host of the range the same address".into());
        } else {
            by_addr.insert(address, (h.name.clone(), h.loc.clone()));
        }
        hosts.push(PlanHost { name: h.name.clone(), address, access_address, roles, etcd_member_name: member_name, apiserver_via: ApiVia::ControlPlaneHost });
    }
    // Hosts named in a cluster group but given no address at all were reported above;
    // two etcd members must not share a member name.
    let mut member_names: BTreeMap<&str, &str> = BTreeMap::new();
    for h in &hosts {
        if let Some(m) = &h.etcd_member_name {
            if let Some(o) = member_names.insert(m, &h.name) {
                let loc = inv.host(&h.name).and_then(|x| x.loc.clone());
                diags.error(loc, format!("hosts `{o}` and `{}` have one etcd_member_name, `{m}`", h.name));
            }
        }
    }

    // Address plan checks.
    let mut pod_subnets_available = 0u64;
    let flannel_hosts = hosts.iter().filter(|h| h.roles.contains(&Role::ControlPlane) || h.roles.contains(&Role::Node)).count();
    if let (Some(svc), Some(pods)) = (service_cidr, pod_cidr) {
        if svc.contains(&pods.network()) || pods.contains(&svc.network()) {
            let loc = scope.raw("kube_pods_subnet").map(|n| n.loc.clone()).or_else(|| whole_file.clone());
            diags
                .error(loc, format!("the pod network {pods} and the service network {svc} overlap"))
                .notes
                .push("help: choose two disjoint ranges, e.g. kube_service_addresses: 10.233.0.0/18 and kube_pods_subnet: 10.233.64.0/18".into());
        }
        for h in &hosts {
            for (net, what, var) in [(svc, "service network", "kube_service_addresses"), (pods, "pod network", "kube_pods_subnet")] {
                if net.contains(&h.address) || net.contains(&h.access_address) {
                    diags
                        .error(
                            inv.host(&h.name).and_then(|x| x.loc.clone()),
                            format!("host `{}` address {} is inside the {what} {net} (`{var}`)", h.name, h.address),
                        )
                        .notes
                        .push(format!("help: move `{var}` to a range no host uses"));
                }
            }
        }
        if let Some(lb) = &loadbalancer {
            for (net, what) in [(svc, "service network"), (pods, "pod network")] {
                if net.contains(&lb.address) {
                    diags.error(
                        scope.raw("loadbalancer_apiserver").map(|n| n.loc.clone()),
                        format!("the load balancer address {} is inside the {what} {net}", lb.address),
                    );
                }
            }
        }
        if svc.prefix_len() > 29 {
            diags.error(
                scope.raw("kube_service_addresses").map(|n| n.loc.clone()),
                format!("the service network {svc} is too small; it needs room for the API service (.1) and cluster DNS (.3)"),
            );
        }
        if let Some(np) = node_prefix {
            let np = np as u8;
            if np < pods.prefix_len() {
                diags
                    .error(
                        scope.raw("kube_network_node_prefix").map(|n| n.loc.clone()),
                        format!("kube_network_node_prefix /{np} is larger than the pod network {pods} itself"),
                    )
                    .notes
                    .push(format!("help: use a prefix between /{} and /30, e.g. /24", pods.prefix_len()));
            } else {
                pod_subnets_available = 1u64 << (np - pods.prefix_len()).min(63);
                if (pod_subnets_available as usize) < flannel_hosts {
                    let loc = scope.raw("kube_network_node_prefix").or_else(|| scope.raw("kube_pods_subnet")).map(|n| n.loc.clone());
                    diags.error(loc, format!(
                        "the pod network {pods} split into /{np} subnets gives {pod_subnets_available} subnets, fewer than the {flannel_hosts} hosts that run flannel"
                    ))
                    .notes.push("help: widen `kube_pods_subnet` or raise `kube_network_node_prefix`".into());
                }
            }
        }
    }

    // Images follow the Kubernetes version.
    let mut images = Vec::new();
    let pause_ver = scope.get("pod_infra_version", &mut diags).and_then(|n| {
        let s = match &n.kind {
            Kind::Float(_) | Kind::Int(_) => n.raw.clone(),
            _ => as_string(&n, "pod_infra_version", &mut diags),
        }?;
        Some(s)
    });
    let image_names: Vec<&str> = {
        let mut v = vec!["pause"];
        if dns_mode.as_deref() == Some("kubedns") {
            v.extend(["kube-dns", "dnsmasq-nanny", "dns-sidecar"]);
        }
        if dashboard == Some(true) {
            v.push("dashboard");
        }
        if monitoring == Some(true) {
            v.extend(["heapster", "influxdb", "grafana"]);
        }
        // What k8s-smoke-test runs: busybox (shell, httpd, nslookup, a CPU loop) at two versions
        // for the rolling update.
        if smoke_images == Some(true) {
            v.extend(["busybox", "busybox-previous"]);
        }
        v
    };
    if let Some(kv) = &kube {
        for name in &image_names {
            let want = if *name == "pause" { pause_ver.clone() } else { None };
            match pick_image(cat, name, kv, want.as_deref()) {
                Ok(e) => images.push(e),
                Err(m) => {
                    // Point at the variable that chose the image, or the inventory's start for a default.
                    let var = if *name == "pause" { "pod_infra_version" } else { "kube_version" };
                    let loc = scope.raw(var).map(|n| n.loc.clone()).filter(|l| l.line > 0).or_else(|| file_start.clone());
                    let d = diags.error(loc, m);
                    if scope.raw(var).is_some_and(|n| n.origin == crate::value::Origin::Default) {
                        d.notes.push(format!("note: `{var}` is not set, so bundler's default applies; set it to a pinned version"));
                    }
                }
            }
        }
    }

    // The operator's own images (`bundler_extra_images`): `name:tag`, pinned on first pull in
    // bundler.lock like the images no one publishes a digest for, or `name:tag@sha256:...`.
    if let Some(n) = scope.get("bundler_extra_images", &mut diags) {
        for item in as_list(&n, "bundler_extra_images", &mut diags).unwrap_or_default() {
            match extra_image(&item) {
                Ok(img) if images.iter().any(|i: &Image| i.name == img.name) => {
                    diags.push(bad_value(&n, "bundler_extra_images", format!("`{item}` is listed twice (or names the same archive as another image)")));
                }
                Ok(img) => images.push(img),
                Err(m) => {
                    diags.push(
                        bad_value(&n, "bundler_extra_images", m).note("help: write each image as `registry/name:tag` or `registry/name:tag@sha256:<64 hex>`"),
                    );
                }
            }
        }
    }

    if diags.has_errors() {
        return Err(Error::Input(diags.sorted()));
    }
    let (kube, etcd, flannel, docker, cni) = (kube.unwrap(), etcd.unwrap(), flannel.unwrap(), docker.unwrap(), cni.unwrap());
    let service_cidr = service_cidr.unwrap();
    let pod_cidr = pod_cidr.unwrap();
    let api_port = api_port.unwrap();
    let first_cp = hosts.iter().find(|h| h.roles.contains(&Role::ControlPlane)).expect("checked above");
    let cps: Vec<&PlanHost> = hosts.iter().filter(|h| h.roles.contains(&Role::ControlPlane)).collect();
    // Several API servers and no load balancer: every kubeconfig points at localhost, which is
    // the API server itself on a control-plane host and the local proxy elsewhere (kubespray
    // v2.5.0 roles/kubespray-defaults/defaults/main.yaml `kube_apiserver_endpoint`).
    let proxied = loadbalancer.is_none() && cps.len() > 1;
    let apiserver_endpoint = match &loadbalancer {
        Some(lb) => format!("https://{}:{}", lb.address, lb.port),
        None if proxied => format!("https://localhost:{api_port}"),
        None => format!("https://{}:{}", first_cp.access_address, api_port),
    };
    // The proxy's image: the newest `nginx` in the catalog (kubespray v2.5.0 runs nginx:1.13
    // here, roles/kubernetes/node/defaults/main.yml; no digest is published for it, so it is
    // pinned on first pull in bundler.lock). It ships in the images package like the others.
    let proxy_image = if proxied { pick_image(cat, "nginx", &kube, None).ok() } else { None };
    let apiserver_proxy = proxied.then(|| ApiProxy {
        upstreams: cps.iter().map(|h| format!("{}:{}", h.access_address, api_port)).collect(),
        hosts: hosts.iter().filter(|h| !h.roles.contains(&Role::ControlPlane) && h.roles.contains(&Role::Node)).map(|h| h.name.clone()).collect(),
        pinned: proxy_image.is_some(),
        image: proxy_image.as_ref().map(|i| i.reference.clone()),
    });
    if let Some(p) = &apiserver_proxy {
        if !p.pinned {
            diags.warning(
                whole_file.clone(),
                "several control-plane hosts and no `loadbalancer_apiserver`: nodes reach the API servers through a local nginx proxy, but the catalog has no `nginx` image, so the bundle cannot carry it (add one with --catalog, or set `loadbalancer_apiserver`)".to_string(),
            );
        }
    }
    if let Some(i) = proxy_image {
        if !images.iter().any(|x: &Image| x.name == i.name) {
            images.push(i);
        }
    }
    for h in hosts.iter_mut() {
        h.apiserver_via = if h.roles.contains(&Role::ControlPlane) {
            ApiVia::LocalApiserver
        } else if loadbalancer.is_some() {
            ApiVia::Loadbalancer
        } else if proxied {
            ApiVia::LocalProxy
        } else {
            ApiVia::ControlPlaneHost
        };
    }
    let nth = |n: u32| Ipv4Addr::from(u32::from(service_cidr.network()) + n);
    let members: Vec<EtcdMember> = etcd_names
        .iter()
        .filter_map(|n| hosts.iter().find(|h| &h.name == n))
        .map(|h| EtcdMember {
            name: h.etcd_member_name.clone().unwrap_or_default(),
            host: h.name.clone(),
            peer_url: format!("https://{}:2380", h.access_address),
            client_url: format!("https://{}:2379", h.access_address),
        })
        .collect();
    let etcd_plan = Etcd {
        initial_cluster: members.iter().map(|m| format!("{}={}", m.name, m.peer_url)).collect::<Vec<_>>().join(","),
        client_endpoints: members.iter().map(|m| m.client_url.clone()).collect::<Vec<_>>().join(","),
        members,
        backup_keep: backup_keep.unwrap(),
    };

    // Packages and the artifacts they carry.
    let defs = &spec.packages;
    let role_hosts = |r: Role| -> BTreeSet<String> { hosts.iter().filter(|h| h.roles.contains(&r)).map(|h| h.name.clone()).collect() };
    let mut packages: Vec<Package> = Vec::new();
    let mut serves: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in defs.iter().filter(|d| !d.roles.is_empty()) {
        let mut hs = BTreeSet::new();
        for r in &d.roles {
            hs.extend(role_hosts(*r));
        }
        let mut reqs = d.requires.clone();
        reqs.extend(cat.os_packages.iter().filter(|o| o.required_by.contains(&d.name)).map(|o| o.name.clone()));
        if d.requires_etcd_when_colocated && !hs.is_empty() {
            let etcd_hosts = role_hosts(Role::Etcd);
            if hs.iter().all(|h| etcd_hosts.contains(h)) {
                if let Some(e) = defs.iter().find(|e| e.kind == PackageKind::Role && e.roles == [Role::Etcd]) {
                    reqs.push(e.name.clone());
                }
            }
        }
        if d.kind == PackageKind::Role && hs.is_empty() {
            continue;
        }
        for r in &reqs {
            serves.entry(r.clone()).or_default().extend(hs.iter().cloned());
        }
        serves.entry(d.name.clone()).or_default().extend(hs.iter().cloned());
        packages.push(Package {
            name: d.name.clone(),
            kind: d.kind,
            summary: d.summary.clone(),
            version: rpm_version(&kube, &d.name, &mut diags),
            requires: reqs,
            artifact: None,
            files: Vec::new(),
            images: Vec::new(),
            hosts: Vec::new(),
            ..package_of(d)
        });
    }
    let version_of = |artifact: &str| -> String {
        match artifact {
            "kubernetes-server" => kube.clone(),
            "etcd" => etcd.clone(),
            "flannel" => flannel.clone(),
            "docker" => docker.clone(),
            "cni-plugins" => cni.clone(),
            _ => String::new(),
        }
    };
    for d in defs.iter().filter(|d| d.roles.is_empty()) {
        let Some(hs) = serves.get(&d.name) else {
            continue;
        };
        if hs.is_empty() {
            continue;
        }
        let (version, images_here) = match d.kind {
            PackageKind::Images => (
                rpm_version(&kube, &d.name, &mut diags),
                images.iter().filter(|i| d.images.contains(&i.name) || i.name.starts_with(EXTRA_PREFIX)).map(|i| i.name.clone()).collect(),
            ),
            // RPM versions cannot hold `-`: 17.12.1-ce becomes 17.12.1.
            _ => (rpm_version(&version_of(d.artifact.as_deref().unwrap_or("")), &d.name, &mut diags), Vec::new()),
        };
        packages.push(Package {
            name: d.name.clone(),
            kind: d.kind,
            summary: d.summary.clone(),
            version,
            requires: d.requires.clone(),
            artifact: d.artifact.clone(),
            files: Vec::new(),
            images: images_here,
            hosts: Vec::new(),
            ..package_of(d)
        });
    }
    for p in &mut packages {
        // Keep host order as in the inventory.
        let hs = serves.get(&p.name).cloned().unwrap_or_default();
        p.hosts = hosts.iter().filter(|h| hs.contains(&h.name)).map(|h| h.name.clone()).collect();
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));

    // What each package installs, resolved and checked before anything is downloaded.
    let cond = contents::Conditions {
        dns: dns_mode.as_deref() == Some("kubedns"),
        dashboard: dashboard == Some(true),
        monitoring: monitoring == Some(true),
        api_proxy: apiserver_proxy.is_some(),
    };
    let mut content_diags = Diagnostics::default();
    for p in &mut packages {
        let d = defs.iter().find(|d| d.name == p.name).expect("plan packages come from the spec");
        p.contents = contents::files(spec, d, &p.images, &cond, &mut content_diags);
        p.dirs = contents::dirs(spec, d, &p.contents, &mut content_diags);
        p.files = p
            .contents
            .iter()
            .filter_map(|f| match &f.source {
                contents::Source::Member { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
    }
    contents::check_owners(spec, packages.iter().map(|p| (p.name.as_str(), p.contents.as_slice())), &mut content_diags);
    let bundle_files = contents::bundle_files(spec, &mut content_diags);
    let host_dir = crate::paths::InstallPath::parse(&spec.bundle.host_dir).map_err(|e| content_diags.push(spec.error(format!("bundle host_dir: {e}")))).ok();
    if content_diags.has_errors() {
        return Err(Error::Input(content_diags.sorted()));
    }

    let mut artifacts = Vec::new();
    for (name, version) in [("kubernetes-server", &kube), ("etcd", &etcd), ("flannel", &flannel), ("docker", &docker), ("cni-plugins", &cni)] {
        let used_by: Vec<String> = packages.iter().filter(|p| p.artifact.as_deref() == Some(name)).map(|p| p.name.clone()).collect();
        if used_by.is_empty() {
            continue;
        }
        let entries = cat.find(name, version);
        artifacts.push(file_artifact(&entries, used_by));
    }
    // Every OS package of the catalog once any package in the plan requires one of them (the
    // rest are their dependencies: conntrack-tools needs the libnetfilter libraries).
    let os_names: BTreeSet<&str> = cat.os_packages.iter().map(|o| o.name.as_str()).collect();
    let os_needed = packages.iter().any(|p| p.requires.iter().any(|r| os_names.contains(r.as_str())));
    let os_packages: Vec<OsPackage> = match (&cat.os_key, os_needed) {
        (Some(k), true) => cat
            .os_packages
            .iter()
            .map(|o| OsPackage {
                name: o.name.clone(),
                nevra: o.nevra.clone(),
                file_name: o.file_name.clone(),
                urls: o.urls.clone(),
                sha256: o.sha256.as_ref().map(|d| d.to_string()),
                signed_by: k.fingerprint.clone(),
                trust_note: match &o.sha256 {
                    Some(_) => format!("signed by {} ({}), and its pinned SHA-256", k.name, k.fingerprint),
                    None => format!("signed by {} ({}); no per-package SHA-256 is published outside repodata", k.name, k.fingerprint),
                },
                license: o.license.clone(),
                required_by: packages.iter().filter(|p| p.requires.contains(&o.name)).map(|p| p.name.clone()).collect(),
            })
            .collect(),
        (None, true) => {
            return Err(Error::input(Diagnostic::error(
                None,
                "the catalog lists OS packages but no `os_key` to verify their signatures; add `os_key:` with the vendor key's URL and fingerprint".to_string(),
            )))
        }
        _ => Vec::new(),
    };
    let images: Vec<Image> = images
        .into_iter()
        .map(|mut i| {
            i.used_by = packages.iter().filter(|p| p.images.contains(&i.name)).map(|p| p.name.clone()).collect();
            i
        })
        .collect();

    Ok(Plan {
        schema_version: SCHEMA_VERSION,
        inventory: shown_path.to_string(),
        inventory_sha256: inv.text_sha256.clone(),
        bundle_name: bundle_name.unwrap(),
        versions: Versions { kubernetes: kube.clone(), etcd, flannel, docker, cni },
        network: Network {
            service_cidr,
            pod_cidr,
            node_prefix: node_prefix.unwrap() as u8,
            pod_subnets_available,
            pod_subnets_needed: flannel_hosts,
            kubernetes_service_ip: nth(1),
            cluster_dns_ip: nth(3),
            dns_domain: dns_domain.unwrap(),
            apiserver_port: api_port,
            apiserver_endpoint,
            loadbalancer,
            apiserver_proxy,
            supplementary_addresses_in_ssl_keys: supplementary,
            proxy_mode: proxy_mode.unwrap(),
            network_plugin: "flannel".into(),
            container_manager: "docker".into(),
        },
        etcd: etcd_plan,
        addons: Addons { dns: dns_mode.unwrap(), dashboard: dashboard.unwrap(), monitoring: monitoring.unwrap() },
        hosts,
        artifacts,
        images,
        packages,
        bundle: BundleFiles { host_dir: host_dir.expect("checked above"), files: bundle_files },
        scriptlet_embeds: spec.scriptlet_embeds.clone(),
        os_key: if os_packages.is_empty() { None } else { cat.os_key.clone() },
        os_packages,
        mirrors,
        os_mirrors,
        certificates: CertLifetimes { ca_days: ca_days.unwrap(), cert_days: cert_days.unwrap() },
        ignored_groups: inv.ignored_groups(),
        ignored_hosts,
        warnings: diags.sorted().0,
    })
}

fn file_artifact(entries: &[&Entry], used_by: Vec<String>) -> Artifact {
    let primary = entries[0];
    let Source::File { url, file_name, .. } = &primary.source else { unreachable!("file artifacts only") };
    let alternate_urls = entries[1..]
        .iter()
        .filter_map(|e| match &e.source {
            Source::File { url: u, file_name: f, .. } if f == file_name && u != url => Some(u.clone()),
            _ => None,
        })
        .collect();
    Artifact {
        name: primary.name.clone(),
        version: primary.version.clone(),
        file_name: file_name.clone(),
        url: url.clone(),
        alternate_urls,
        digest: primary.best_digest().unwrap().clone(),
        trust: primary.trust,
        trust_note: primary.trust.describe().into(),
        single_source: primary.trust.single_source(),
        license: primary.license.clone(),
        used_by,
    }
}

/// Names of the operator's own images (`bundler_extra_images`) in the plan and the images package.
const EXTRA_PREFIX: &str = "extra-";

fn extra_image(item: &str) -> std::result::Result<Image, String> {
    let item = item.trim();
    let (reference, digest) = match item.split_once('@') {
        Some((r, d)) => (
            r,
            Some(
                crate::digest::Digest::parse(crate::digest::Algo::Sha256, d)
                    .ok()
                    .filter(|_| d.starts_with("sha256:"))
                    .ok_or_else(|| format!("`{item}`: `{d}` is not `sha256:` and 64 lowercase hex characters"))?,
            ),
        ),
        None => (item, None),
    };
    let Some((path, tag)) = reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) else {
        return Err(format!("`{item}` has no tag: the image is loaded on the hosts under its `name:tag`"));
    };
    let ok = |s: &str, extra: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c));
    if !ok(path, "._-/:") || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || tag.is_empty() || tag.len() > 128 {
        return Err(format!("`{item}` is not an image reference (lowercase name, `:tag` of letters, digits, `.`, `_`, `-`)"));
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    let name = format!("{EXTRA_PREFIX}{last}-{tag}");
    let trust = if digest.is_some() { Trust::User } else { Trust::FirstPull };
    Ok(Image {
        name,
        version: tag.to_string(),
        reference: reference.to_string(),
        digest: digest.as_ref().map(|d| d.to_string()).unwrap_or_default(),
        manifest_list: false,
        trust,
        trust_note: if digest.is_some() { "from the inventory's bundler_extra_images".into() } else { trust.describe().into() },
        single_source: false,
        license: None,
        used_by: Vec::new(),
        first_pull: digest.is_none().then(|| FirstPull { lock_file: crate::names::IMAGE_LOCK.into(), pinned_on: None }),
    })
}

fn pick_image(cat: &Catalog, name: &str, kube: &str, want: Option<&str>) -> std::result::Result<Image, String> {
    let fits = |e: &Entry| {
        e.kube_min.as_deref().is_none_or(|m| catalog::version_cmp(kube, m).is_ge())
            && e.kube_max.as_deref().is_none_or(|m| catalog::version_cmp(kube, m).is_le())
    };
    let mut cands: Vec<&Entry> =
        cat.entries.iter().filter(|e| e.name == name && matches!(e.source, Source::Image { .. }) && fits(e) && want.is_none_or(|w| e.version == w)).collect();
    cands.sort_by(|a, b| catalog::version_cmp(&b.version, &a.version));
    let Some(e) = cands.first() else {
        return Err(match want {
            Some(w) => format!("the catalog has no `{name}` image {w} pinned by digest (it has: {})", cat.versions_of(name).join(", ")),
            None => {
                format!("the catalog has no `{name}` image for Kubernetes {kube} pinned by digest")
            }
        });
    };
    let Source::Image { reference, digest, manifest_list } = &e.source else { unreachable!() };
    Ok(Image {
        name: e.name.clone(),
        version: e.version.clone(),
        reference: reference.clone(),
        digest: digest.as_ref().map(|d| d.to_string()).unwrap_or_default(),
        manifest_list: *manifest_list,
        trust: e.trust,
        trust_note: e.trust.describe().into(),
        single_source: e.trust.single_source(),
        license: e.license.clone(),
        used_by: Vec::new(),
        first_pull: digest.is_none().then(|| FirstPull { lock_file: crate::names::IMAGE_LOCK.into(), pinned_on: None }),
    })
}

/// `kube_version` and friends: `v1.9.11` or `1.9.11`, present in the catalog.
fn pick_version(
    scope: &Scope,
    var: &str,
    artifact: &str,
    cat: &Catalog,
    diags: &mut Diagnostics,
    allowed: impl Fn(&str) -> bool,
    what: &str,
) -> Option<String> {
    let n = scope.get(var, diags)?;
    if matches!(n.kind, Kind::Float(_) | Kind::Int(_)) && n.origin == crate::value::Origin::Yaml {
        diags.push(bad_value(&n, var, format!("expected a version string such as \"{}\", found a number", cat.versions_of(artifact).last().unwrap_or(&""))));
        return None;
    }
    let s = as_string(&n, var, diags)?;
    let v = if s.starts_with('v') { s.clone() } else { format!("v{s}") };
    let known: Vec<&str> = cat.versions_of(artifact).into_iter().filter(|x| allowed(x)).collect();
    if allowed(&v) && cat.entries.iter().any(|e| e.name == artifact && e.version == v && matches!(e.source, Source::File { .. })) {
        return Some(v);
    }
    diags.push(bad_value(&n, var, format!("`{s}` is not supported: bundler builds {what}; pinned versions: {}", known.join(", "))));
    None
}

/// kubespray writes `docker_version: "17.12"`; the catalog has `17.12.1-ce`.
fn pick_docker(scope: &Scope, cat: &Catalog, diags: &mut Diagnostics) -> Option<String> {
    let n = scope.get("docker_version", diags)?;
    let s = match &n.kind {
        Kind::Float(_) => n.raw.clone()?,
        _ => as_string(&n, "docker_version", diags)?,
    };
    let known = cat.versions_of("docker");
    let norm = s.trim_end_matches("-ce");
    let found = known
        .iter()
        .rev()
        .find(|k| {
            let kb = k.trim_end_matches("-ce");
            kb == norm || kb.starts_with(&format!("{norm}."))
        })
        .map(|s| s.to_string());
    if found.is_none() {
        diags.push(bad_value(
            &n,
            "docker_version",
            format!("`{s}` is not supported: bundler installs Docker 17.12 static binaries; pinned versions: {}", known.join(", ")),
        ));
    }
    found
}

fn parse_lb(n: &Node, default_port: u16, domain: String, diags: &mut Diagnostics) -> Option<LoadBalancer> {
    if n.is_null() {
        return None;
    }
    let Some(_) = n.as_map() else {
        diags.push(bad_value(n, "loadbalancer_apiserver", format!("expected a mapping with `address` and `port`, found {}", n.type_name())));
        return None;
    };
    let Some(a) = n.get("address") else {
        diags.push(bad_value(n, "loadbalancer_apiserver", "has no `address`"));
        return None;
    };
    let addr = address_value(a, "loadbalancer_apiserver.address", "the load balancer", diags)?;
    let port = match n.get("port") {
        Some(p) => as_int(p, "loadbalancer_apiserver.port", 1, 65535, diags)? as u16,
        None => default_port,
    };
    Some(LoadBalancer { address: addr, port, domain_name: domain })
}

fn address_value(n: &Node, var: &str, host: &str, diags: &mut Diagnostics) -> Option<Ipv4Addr> {
    let s = match &n.kind {
        Kind::Null => {
            diags.push(
                bad_value(n, var, format!("`{var}` of {host} is present but empty; Ansible does not fall back to another variable for it"))
                    .note(format!("help: give `{var}` an address or remove the key")),
            );
            return None;
        }
        Kind::Str(s) if s.trim().is_empty() => {
            diags.push(
                bad_value(n, var, format!("`{var}` of {host} is present but empty; Ansible does not fall back to another variable for it"))
                    .note(format!("help: give `{var}` an address or remove the key")),
            );
            return None;
        }
        Kind::Seq(_) | Kind::Map(_) | Kind::Vault(_) | Kind::Bool(_) => {
            diags.push(
                bad_value(n, var, format!("`{var}` of {host} is {}, not an IPv4 address", n.type_name()))
                    .note(format!("help: write one address, e.g. `{var}: 10.0.0.12`")),
            );
            return None;
        }
        _ => match n.scalar_text() {
            Some(t) => t,
            None => {
                diags.push(bad_value(n, var, format!("`{var}` of {host} is not an IPv4 address")));
                return None;
            }
        },
    };
    match parse_ipv4(&s).and_then(|a| unicast(a).map(|()| a)) {
        Ok(a) => {
            if a.is_loopback() {
                diags.warning(
                    Some(n.loc.clone()),
                    format!("`{var}` of {host} is the loopback address {a}: only a test cluster on one machine can use it, and the packages' host check passes on any machine with it"),
                );
            }
            Some(a)
        }
        Err(e) => {
            diags.push(bad_value(n, var, e));
            None
        }
    }
}

/// An address a host can have: not 0.0.0.0, broadcast, multicast, link-local or reserved.
/// Loopback (127/8) is accepted with a warning: the tests run real etcd clusters on 127.0.0.11-13.
fn unicast(a: Ipv4Addr) -> std::result::Result<(), String> {
    let why = if a.is_unspecified() {
        "is the unspecified address (0.0.0.0), which no host has"
    } else if a.is_broadcast() {
        "is the broadcast address"
    } else if a.is_multicast() {
        "is a multicast address (224.0.0.0/4)"
    } else if a.is_link_local() {
        "is a link-local address (169.254.0.0/16), which changes with the link"
    } else if a.octets()[0] >= 240 {
        "is in the reserved range 240.0.0.0/4"
    } else if a.octets()[0] == 0 {
        "is in 0.0.0.0/8, which means \"this network\""
    } else {
        return Ok(());
    };
    Err(format!("`{a}` {why}; a host needs a unicast address"))
}

/// A name for a certificate's subject alternative names: an ASCII DNS name (letters, digits,
/// `-` and `.`, labels of 1 to 63 characters), nothing a shell, a config file or a PEM could misread.
fn san_name(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("a DNS name has 1 to 253 characters".into());
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Err(format!("`{}` is not allowed in a DNS name", c.escape_debug()));
    }
    if s.split('.').any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-')) {
        return Err("each dot-separated part of a DNS name has 1 to 63 characters and neither starts nor ends with `-`".into());
    }
    Ok(())
}

fn host_address(h: &inventory::Host, scope: &Scope, defined: &[&str], diags: &mut Diagnostics) -> Option<Ipv4Addr> {
    // Ansible connects to the last of `ansible_host`, `ansible_ssh_host` that is set
    // (ansible-core lib/ansible/plugins/connection/ssh.py, option `host`, and config/manager.py
    // `_loop_entries`: a later entry wins), so the legacy name comes first here.
    for var in ["ip", "access_ip", "ansible_ssh_host", "ansible_host"] {
        if scope.raw(var).is_none() {
            continue;
        }
        let n = scope.get(var, diags)?;
        if var.starts_with("ansible") {
            // The SSH target may be a name; only an IPv4 literal tells where services bind.
            if let Some(s) = n.scalar_text() {
                if parse_ipv4(&s).is_err() && s.parse::<std::net::Ipv6Addr>().is_err() && !s.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    diags.push(
                        bad_value(&n, var, format!("host `{}`: `{s}` is a name, so it does not say which address services bind to", h.name))
                            .note("help: set `ip=` (or `access_ip=`) to the host's IPv4 address"),
                    );
                    return None;
                }
            }
        }
        return address_value(&n, var, &format!("host `{}`", h.name), diags);
    }
    if !h.defined {
        let mut d =
            Diagnostic::error(h.loc.clone(), format!("host `{}` is named in a group but never defined: it has no variables anywhere, so no address", h.name));
        if let Some(near) = nearest(&h.name, defined) {
            d = d.note(format!("help: did you mean `{near}`?"));
        } else {
            d = d.note("help: define it under `all.hosts` (or `[all]`) with `ip` or `ansible_host`");
        }
        diags.push(d);
    } else {
        diags
            .error(h.loc.clone(), format!("host `{}` has no address: none of `ip`, `access_ip`, `ansible_host`, `ansible_ssh_host` is set", h.name))
            .notes
            .push("help: add `ip: <IPv4>` to the host's variables".into());
    }
    None
}

fn nearest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().map(|c| (levenshtein(name, c), *c)).filter(|(d, c)| *d <= 2.max(c.len() / 4) && *c != name).min().map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_dns_label(l: &str) -> bool {
    !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_node_name(s: &str) -> bool {
    is_dns_name(s)
}
