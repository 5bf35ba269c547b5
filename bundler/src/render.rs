//! Render: every systemd unit, config file, addon manifest, host setting and operator tool a
//! host needs, from the templates in `packaging/` and the plan. Cluster-wide values are
//! filled in here; per-host values come from the host-identity step at install time.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;

use crate::error::{Error, Result};
pub use crate::model::{File, Scriptlets};
use crate::plan::contents::Source;
use crate::plan::Plan;
use crate::specs::Role;

/// Every file under packaging/, by its path there (embedded by build.rs).
mod packaging {
    include!(concat!(env!("OUT_DIR"), "/packaging.rs"));
}

/// The text of `packaging/<name>`.
pub fn template_text(name: &str) -> Option<&'static str> {
    packaging::FILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// What each package renders: its template contents, as the plan resolved them from
/// specs/packages.yaml.
fn package_templates(plan: &Plan) -> Vec<File> {
    let mut out = Vec::new();
    for p in &plan.packages {
        for f in &p.contents {
            if let Source::Template(t) = &f.source {
                out.push(File {
                    path: f.dst.to_string(),
                    package: p.name.clone(),
                    mode: f.mode.bits(),
                    config: f.config,
                    template: t.clone(),
                    content: String::new(),
                });
            }
        }
    }
    out
}

/// What the bundle renders beside its repository: its files from specs/packages.yaml and the
/// `.repo` file. `package` is "bundle" for these.
fn bundle_templates(plan: &Plan) -> Vec<File> {
    let mut out = Vec::new();
    for f in &plan.bundle.files {
        out.push(File {
            path: f.dst.to_string(),
            package: BUNDLE.into(),
            mode: f.mode.bits(),
            config: false,
            template: f.template.clone(),
            content: String::new(),
        });
    }
    out.push(File { path: repo_file_name(plan), package: BUNDLE.into(), mode: 0o644, config: false, template: REPO_TEMPLATE.into(), content: String::new() });
    out
}

/// The bundle's yum repository file, at the top of the bundle.
pub fn repo_file_name(plan: &Plan) -> String {
    format!("{}.repo", plan.bundle_name)
}

/// The `package` of the bundle's own files.
pub const BUNDLE: &str = "bundle";

/// The image name:tag kubelet and the manifests use (the archives are tagged so).
fn image_ref(plan: &Plan, name: &str) -> Option<String> {
    plan.images.iter().find(|i| i.name == name).map(|i| i.reference.clone())
}

/// The values templates see. Everything is cluster-wide; nothing here is per host. The
/// bundle's release (and so its file stem) is known only once the packages are built; a
/// package template that asks for it fails to render (strict undefined values).
pub fn context(plan: &Plan, bundle_release: Option<u32>) -> serde_json::Value {
    let n = &plan.network;
    let flannel = json!({"Network": n.pod_cidr.to_string(), "SubnetLen": n.node_prefix, "Backend": {"Type": "vxlan"}});
    let version = |name: &str| plan.images.iter().find(|i| i.name == name).map(|i| i.version.clone());
    json!({
        "addons": {"monitoring": plan.addons.monitoring, "dns": plan.addons.dns},
        "cluster": {
            "name": plan.bundle_name,
            "dns_domain": n.dns_domain,
            "cluster_dns_ip": n.cluster_dns_ip.to_string(),
            "service_cidr": n.service_cidr.to_string(),
            "pod_cidr": n.pod_cidr.to_string(),
            "apiserver_endpoint": n.apiserver_endpoint,
            "apiserver_port": n.apiserver_port,
            "apiserver_count": plan.hosts.iter().filter(|h| h.roles.contains(&crate::specs::Role::ControlPlane)).count(),
            "proxy_mode": n.proxy_mode,
        },
        "versions": plan.versions,
        "etcd": {
            "initial_cluster": plan.etcd.initial_cluster,
            "client_endpoints": plan.etcd.client_endpoints,
            "token": format!("{}-etcd", plan.bundle_name),
            "backup_keep": plan.etcd.backup_keep,
        },
        "api_proxy": {
            "enabled": n_proxy(plan),
            "upstreams": n.apiserver_proxy.as_ref().map(|p| p.upstreams.clone()).unwrap_or_default(),
            // Unpinned (no catalog entry yet): kubespray v2.5.0's image, which the bundle cannot carry; the plan warns.
            "image": n.apiserver_proxy.as_ref().and_then(|p| p.image.clone()).unwrap_or_else(|| "nginx:1.13".into()),
        },
        "flannel_config": serde_json::to_string(&flannel).unwrap(),
        "services": services_context(plan),
        "key_file": crate::names::KEY_FILE,
        "os_key_file": plan.os_key.as_ref().map(|k| k.file_name.clone()).unwrap_or_default(),
        "bundle": bundle_context(plan, bundle_release),
        "images": {
            "pause": image_ref(plan, "pause"),
            "kube_dns": image_ref(plan, "kube-dns"),
            "kube_dns_version": version("kube-dns"),
            "dnsmasq_nanny": image_ref(plan, "dnsmasq-nanny"),
            "dns_sidecar": image_ref(plan, "dns-sidecar"),
            "dashboard": image_ref(plan, "dashboard"),
            "dashboard_version": version("dashboard"),
            "smoke": image_ref(plan, "dnsmasq-nanny").unwrap_or_default(),
            "heapster": image_ref(plan, "heapster"),
            "heapster_version": version("heapster"),
            "influxdb": image_ref(plan, "influxdb"),
            "influxdb_version": version("influxdb"),
            "grafana": image_ref(plan, "grafana"),
            "grafana_version": version("grafana"),
            "busybox": image_ref(plan, "busybox").unwrap_or_default(),
            "busybox_previous": image_ref(plan, "busybox-previous").unwrap_or_default(),
        },
        "hosts": plan.hosts.iter().map(|h| json!({
            "name": h.name,
            "address": h.address.to_string(),
            "access_address": h.access_address.to_string(),
            "roles": h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "etcd_member_name": h.etcd_member_name,
        })).collect::<Vec<_>>(),
    })
}

fn bundle_context(plan: &Plan, release: Option<u32>) -> serde_json::Value {
    match release {
        Some(r) => {
            let stem = crate::names::bundle_stem(&plan.bundle_name, &plan.versions.kubernetes, r);
            json!({"file_stem": stem, "host_dir": plan.bundle.host_dir})
        }
        None => json!({"host_dir": plan.bundle.host_dir}),
    }
}

fn n_proxy(plan: &Plan) -> bool {
    plan.network.apiserver_proxy.is_some()
}

/// Every template that applies to this plan, packages' and the bundle's (at release 1),
/// sorted by install path: what `build` renders, in one list.
pub fn render(plan: &Plan) -> Result<Vec<File>> {
    let mut all = packages(plan)?;
    all.extend(bundle_files(plan, 1)?);
    all.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(all)
}

/// Every package's template files, sorted by install path. None depends on the bundle's
/// release, so the packages are rendered once, before anything is downloaded.
pub fn packages(plan: &Plan) -> Result<Vec<File>> {
    fill(package_templates(plan), &context(plan, None))
}

/// The bundle's own files (install.sh, its README, the playbooks, the .repo file) for this
/// release, which they name; rendered once the packages are built and the release is known.
pub fn bundle_files(plan: &Plan, bundle_release: u32) -> Result<Vec<File>> {
    let mut ctx = context(plan, Some(bundle_release));
    let stem = ctx["bundle"]["file_stem"].as_str().unwrap_or_default().to_string();
    ctx["repo"] = json!({"name": plan.bundle_name, "dir": format!("{}/{stem}/repo", plan.bundle.host_dir)});
    fill(bundle_templates(plan), &ctx)
}

fn fill(mut all: Vec<File>, ctx: &serde_json::Value) -> Result<Vec<File>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build().expect("valid syntax config"));
    env.set_loader(|name| Ok(template_text(name).map(str::to_string)));
    if let Some(t) = all.iter().find(|t| template_text(&t.template).is_none()) {
        return Err(Error::Template {
            template: t.template.clone(),
            problem: format!("{}: no template packaging/{} (named by the package spec)", t.path, t.template),
        });
    }
    for t in &mut all {
        let tmpl = env.get_template(&t.template).map_err(|e| template_error(&t.template, "template", &e))?;
        t.content = tmpl.render(minijinja::value::Serde(ctx)).map_err(|e| template_error(&t.template, "rendering", &e))?;
    }
    all.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(all)
}

/// Each role's services for host-identity's `--services`, in start order: a service only
/// some hosts run (`why` says which) is a shell variable set on those hosts.
fn services_context(plan: &Plan) -> serde_json::Value {
    let mut out = Vec::new();
    for role in [Role::Etcd, Role::ControlPlane, Role::Node] {
        let Some(p) = plan.role_package(role) else { continue };
        let cond = crate::plan::contents::Conditions::of(plan);
        let var = |name: &str| name.split('.').next().unwrap_or(name).rsplit('-').next().unwrap_or(name).replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let narrowed: Vec<_> = p
            .services
            .iter()
            .filter(|s| s.why.is_some())
            .map(|s| {
                json!({"name": s.name, "var": var(&s.name), "why": s.why, "enabled": cond.holds(s.when), "not_with_role": s.not_with_role.map(|r| r.as_str())})
            })
            .collect();
        let services: Vec<_> = p.services.iter().map(|s| json!({"name": s.name, "var": if s.why.is_some() { Some(var(&s.name)) } else { None }})).collect();
        out.push(json!({"role": role.as_str(), "services": services, "narrowed": narrowed}));
    }
    serde_json::Value::Array(out)
}

/// A template error, with minijinja's chain of causes in one line (`rendering packaging/x: ...`).
fn template_error(template: &str, doing: &str, e: &minijinja::Error) -> Error {
    let mut problem = format!("{doing} packaging/{template}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        problem.push_str(&format!(": {s}"));
        src = s.source();
    }
    Error::Template { template: template.to_string(), problem }
}

/// The template of the bundle's .repo file (`<bundle_name>.repo`, for a bundle unpacked in
/// `plan.bundle.host_dir`); install.sh includes it for wherever it was unpacked.
const REPO_TEMPLATE: &str = "bundle/yum.repo";

/// Render every package's scriptlets. They see the package's name, role, services (and, for
/// each, the files whose presence says another installed role still runs it), the services
/// an upgrade restarts, and `embed`: rendered files they carry as data.
pub fn scriptlets(plan: &Plan, files: &[File]) -> Result<Vec<Scriptlets>> {
    let env = scriptlet_env()?;
    let embed: serde_json::Map<String, serde_json::Value> = plan
        .scriptlet_embeds
        .iter()
        .map(|(k, path)| (k.clone(), json!(files.iter().find(|f| &f.path == path).map(|f| f.content.clone()).unwrap_or_default())))
        .collect();
    // A file a role's package owns and drops when erased (not an admin-edited one, which may
    // stay behind as .rpmsave): its presence says that role is installed.
    let marker = |role: Role| -> Option<String> {
        let p = plan.role_package(role)?;
        p.contents.iter().find(|f| matches!(f.source, Source::Template(_)) && !f.config).map(|f| f.dst.to_string())
    };
    let mut out = Vec::new();
    for p in &plan.packages {
        let role = if p.kind == crate::specs::PackageKind::Role { p.roles.first().copied() } else { None };
        let services: Vec<String> = p.services.iter().map(|s| s.name.clone()).collect();
        // On erase, a service another installed role also runs (flanneld on a host that is both
        // control plane and node) keeps running.
        let stop: Vec<serde_json::Value> = match role {
            Some(r) => services
                .iter()
                .rev()
                .map(|s| {
                    let keep_if: Vec<String> = [Role::Etcd, Role::ControlPlane, Role::Node]
                        .into_iter()
                        .filter(|o| *o != r && plan.services(*o).contains(s))
                        .filter_map(marker)
                        .collect();
                    json!({"name": s, "keep_if": keep_if})
                })
                .collect(),
            None => Vec::new(),
        };
        let ctx = json!({
            "name": p.name,
            "role": role.map(|r| r.as_str()),
            "services": services,
            "stop": stop,
            "restart": p.restart,
            "embed": embed,
        });
        let one = |t: &Option<String>| -> Result<Option<String>> {
            let Some(t) = t else { return Ok(None) };
            let name = format!("scriptlets/{t}");
            let tmpl = env.get_template(&name).map_err(|e| template_error(&name, &format!("package {}: scriptlet template", p.name), &e))?;
            tmpl.render(minijinja::value::Serde(&ctx)).map(Some).map_err(|e| template_error(&name, &format!("package {}: rendering", p.name), &e))
        };
        let n = &p.scriptlets;
        out.push(Scriptlets {
            package: p.name.clone(),
            pretrans: one(&n.pretrans)?,
            pre: one(&n.pre)?,
            post: one(&n.post)?,
            preun: one(&n.preun)?,
            postun: one(&n.postun)?,
        });
    }
    Ok(out)
}

fn scriptlet_env() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build().expect("valid syntax config"));
    for (name, text) in packaging::FILES.iter().filter(|(n, _)| n.starts_with("scriptlets/")) {
        env.add_template(name, text).map_err(|e| template_error(name, "template", &e))?;
    }
    Ok(env)
}
