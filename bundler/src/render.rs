//! Render: every systemd unit, config file, addon manifest, host setting and operator tool a
//! host needs, from the templates in `packaging/` and the plan. Cluster-wide values are
//! filled in here; per-host values come from the host-identity step at install time.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;

use crate::error::{Error, Result};
pub use crate::model::File;
use crate::plan::Plan;

/// When a template is rendered at all.
#[derive(Clone, Copy)]
enum When {
    Always,
    Dns,
    Dashboard,
    Monitoring,
    ApiProxy,
}

struct Tpl {
    name: &'static str,
    text: &'static str,
    path: &'static str,
    package: &'static str,
    mode: u32,
    config: bool,
    when: When,
}

macro_rules! tpl {
    ($name:literal, $path:literal, $pkg:literal, $mode:literal, $config:literal) => {
        tpl!($name, $path, $pkg, $mode, $config, When::Always)
    };
    ($name:literal, $path:literal, $pkg:literal, $mode:literal, $config:literal, $when:expr) => {
        Tpl { name: $name, text: include_str!(concat!("../../packaging/", $name)), path: $path, package: $pkg, mode: $mode, config: $config, when: $when }
    };
}

fn templates() -> Vec<Tpl> {
    vec![
        // Every host: who am I, host settings, flannel, preflight.
        tpl!("host/hosts", "/etc/bundler/hosts", "k8s-common", 0o644, false),
        tpl!("host/cluster.env", "/etc/bundler/cluster.env", "k8s-common", 0o644, false),
        tpl!("libexec/host-identity", "/usr/libexec/bundler/host-identity", "k8s-common", 0o755, false),
        tpl!("units/bundler-host-identity.service", "/usr/lib/systemd/system/bundler-host-identity.service", "k8s-common", 0o644, false),
        tpl!("host/sysctl.conf", "/etc/sysctl.d/90-kubernetes.conf", "k8s-common", 0o644, true),
        tpl!("host/modules-load.conf", "/etc/modules-load.d/kubernetes.conf", "k8s-common", 0o644, true),
        tpl!("tools/k8s-preflight", "/usr/sbin/k8s-preflight", "k8s-common", 0o755, false),
        tpl!("units/flanneld.service", "/usr/lib/systemd/system/flanneld.service", "k8s-common", 0o644, false),
        tpl!("config/flanneld.conf", "/etc/flannel/flanneld.conf", "k8s-common", 0o644, true),
        // etcd members.
        tpl!("units/etcd.service", "/usr/lib/systemd/system/etcd.service", "k8s-etcd", 0o644, false),
        tpl!("config/etcd.conf", "/etc/etcd/etcd.conf", "k8s-etcd", 0o644, true),
        tpl!("config/etcd-backup.env", "/etc/etcd/backup.env", "k8s-etcd", 0o644, true),
        tpl!("units/etcd-backup.service", "/usr/lib/systemd/system/etcd-backup.service", "k8s-etcd", 0o644, false),
        tpl!("units/etcd-backup.timer", "/usr/lib/systemd/system/etcd-backup.timer", "k8s-etcd", 0o644, false),
        tpl!("libexec/etcd-backup", "/usr/libexec/bundler/etcd-backup", "k8s-etcd", 0o755, false),
        tpl!("tools/k8s-etcd-restore", "/usr/sbin/k8s-etcd-restore", "k8s-etcd", 0o755, false),
        tpl!("libexec/etcd-health", "/usr/libexec/bundler/etcd-health", "k8s-etcd", 0o755, false),
        // Control plane.
        tpl!("units/kube-apiserver.service", "/usr/lib/systemd/system/kube-apiserver.service", "k8s-master", 0o644, false),
        tpl!("config/apiserver.env", "/etc/kubernetes/apiserver.env", "k8s-master", 0o644, true),
        tpl!("config/audit-policy.yaml", "/etc/kubernetes/audit-policy.yaml", "k8s-master", 0o644, true),
        tpl!("units/kube-controller-manager.service", "/usr/lib/systemd/system/kube-controller-manager.service", "k8s-master", 0o644, false),
        tpl!("config/controller-manager.env", "/etc/kubernetes/controller-manager.env", "k8s-master", 0o644, true),
        tpl!("units/kube-scheduler.service", "/usr/lib/systemd/system/kube-scheduler.service", "k8s-master", 0o644, false),
        tpl!("config/scheduler.env", "/etc/kubernetes/scheduler.env", "k8s-master", 0o644, true),
        tpl!("units/flannel-network-config.service", "/usr/lib/systemd/system/flannel-network-config.service", "k8s-master", 0o644, false),
        tpl!("libexec/flannel-network-config", "/usr/libexec/bundler/flannel-network-config", "k8s-master", 0o755, false),
        tpl!("units/k8s-addons.service", "/usr/lib/systemd/system/k8s-addons.service", "k8s-master", 0o644, false),
        tpl!("libexec/apply-addons", "/usr/libexec/bundler/apply-addons", "k8s-master", 0o755, false),
        tpl!("addons/kube-dns.yaml", "/etc/kubernetes/addons/kube-dns.yaml", "k8s-master", 0o644, false, When::Dns),
        tpl!("addons/dashboard.yaml", "/etc/kubernetes/addons/dashboard.yaml", "k8s-master", 0o644, false, When::Dashboard),
        tpl!("addons/monitoring.yaml", "/etc/kubernetes/addons/monitoring.yaml", "k8s-master", 0o644, false, When::Monitoring),
        tpl!("host/kubectl.sh", "/etc/profile.d/kubectl.sh", "k8s-master", 0o644, false),
        tpl!("tools/k8s-status", "/usr/sbin/k8s-status", "k8s-master", 0o755, false),
        tpl!("tools/k8s-smoke-test", "/usr/sbin/k8s-smoke-test", "k8s-master", 0o755, false),
        // Nodes.
        tpl!("units/docker.service", "/usr/lib/systemd/system/docker.service", "k8s-node", 0o644, false),
        tpl!("config/daemon.json", "/etc/docker/daemon.json", "k8s-node", 0o644, true),
        tpl!("units/k8s-load-images.service", "/usr/lib/systemd/system/k8s-load-images.service", "k8s-node", 0o644, false),
        tpl!("libexec/load-images", "/usr/libexec/bundler/load-images", "k8s-node", 0o755, false),
        tpl!("units/kubelet.service", "/usr/lib/systemd/system/kubelet.service", "k8s-node", 0o644, false),
        tpl!("config/kubelet.env", "/etc/kubernetes/kubelet.env", "k8s-node", 0o644, true),
        tpl!("units/kube-proxy.service", "/usr/lib/systemd/system/kube-proxy.service", "k8s-node", 0o644, false),
        tpl!("config/kube-proxy.env", "/etc/kubernetes/kube-proxy.env", "k8s-node", 0o644, true),
        tpl!("units/k8s-api-proxy.service", "/usr/lib/systemd/system/k8s-api-proxy.service", "k8s-node", 0o644, false, When::ApiProxy),
        tpl!("config/api-proxy-nginx.conf", "/etc/kubernetes/api-proxy/nginx.conf", "k8s-node", 0o644, true, When::ApiProxy),
        // The bundle itself (paths relative to the bundle's top folder).
        tpl!("bundle/install.sh", "install.sh", "bundle", 0o755, false),
        tpl!("bundle/README.md", "README.md", "bundle", 0o644, false),
        tpl!("bundle/ansible/site.yml", "ansible/site.yml", "bundle", 0o644, false),
        tpl!("bundle/ansible/install.yml", "ansible/tasks/install.yml", "bundle", 0o644, false),
        tpl!("bundle/ansible/upgrade.yml", "ansible/upgrade.yml", "bundle", 0o644, false),
        tpl!("bundle/ansible/upgrade-host.yml", "ansible/tasks/upgrade-host.yml", "bundle", 0o644, false),
        tpl!("host/hosts", "hosts", "bundle", 0o644, false),
        tpl!("libexec/host-identity", "lib/host-identity", "bundle", 0o755, false),
    ]
}

/// The image name:tag kubelet and the manifests use (the archives are tagged so).
fn image_ref(plan: &Plan, name: &str) -> Option<String> {
    plan.images.iter().find(|i| i.name == name).map(|i| i.reference.clone())
}

/// The values templates see. Everything is cluster-wide; nothing here is per host.
pub fn context(plan: &Plan, bundle_release: u32) -> serde_json::Value {
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
        "key_file": crate::names::KEY_FILE,
        "os_key_file": plan.os_key.as_ref().map(|k| k.file_name.clone()).unwrap_or_default(),
        "bundle": {"file_stem": crate::names::bundle_stem(&plan.bundle_name, &plan.versions.kubernetes, bundle_release)},
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

fn n_proxy(plan: &Plan) -> bool {
    plan.network.apiserver_proxy.is_some()
}

/// Render every template that applies to this plan, sorted by install path.
pub fn render(plan: &Plan) -> Result<Vec<File>> {
    render_with(plan, 1)
}

/// Render with the bundle's release known (it names the tarball the bundle files mention).
pub fn render_with(plan: &Plan, bundle_release: u32) -> Result<Vec<File>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build().expect("valid syntax config"));
    let all = templates();
    for t in &all {
        env.add_template(t.name, t.text).map_err(|e| Error::Failed(format!("template packaging/{}: {e}", t.name)))?;
    }
    let ctx = context(plan, bundle_release);
    let mut out = Vec::new();
    for t in &all {
        let wanted = match t.when {
            When::Always => true,
            When::Dns => plan.addons.dns == "kubedns",
            When::Dashboard => plan.addons.dashboard,
            When::Monitoring => plan.addons.monitoring,
            When::ApiProxy => n_proxy(plan),
        };
        if !wanted {
            continue;
        }
        let tmpl = env.get_template(t.name).expect("added above");
        let content = tmpl.render(minijinja::value::Serde(&ctx)).map_err(|e| {
            let mut msg = format!("rendering packaging/{}: {e}", t.name);
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            Error::Failed(msg)
        })?;
        out.push(File { path: t.path.into(), package: t.package.into(), mode: t.mode, config: t.config, template: t.name.into(), content });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The services a role runs, in start order (the host-identity script holds the same list).
pub fn services(role: crate::specs::Role) -> &'static [&'static str] {
    use crate::specs::Role::*;
    match role {
        Etcd => &["etcd.service", "etcd-backup.timer"],
        ControlPlane => &[
            "flannel-network-config.service",
            "flanneld.service",
            "kube-apiserver.service",
            "kube-controller-manager.service",
            "kube-scheduler.service",
            "k8s-addons.service",
        ],
        // k8s-api-proxy.service runs only on nodes that are not control-plane hosts, and only
        // with several of those and no load balancer (host-identity picks it).
        Node => &["flanneld.service", "docker.service", "k8s-load-images.service", "k8s-api-proxy.service", "kubelet.service", "kube-proxy.service"],
    }
}
