//! Several control-plane hosts and no external load balancer: a local API proxy on every
//! host that is not a control-plane host, kubeconfigs at https://localhost:6443, the API
//! server certificate valid for that name; with `loadbalancer_apiserver`, the load balancer.

use std::path::Path;
use std::process::Command;

use crate::etcd;
use crate::render::{materialise, plan_of};
use crate::util::root;

const TWO_MASTERS: &str = "all:
  hosts:
    m1: {ip: 10.0.0.11}
    m2: {ip: 10.0.0.12, access_ip: 192.168.1.12}
    n1: {ip: 10.0.0.21}
    n2: {ip: 10.0.0.22}
  children:
    kube_control_plane: {hosts: {m1: , m2: }}
    kube_node: {hosts: {m2: , n1: , n2: }}
    etcd: {hosts: {m1: , m2: , n1: }}
";

fn inventory(dir: &Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("hosts.yaml");
    std::fs::write(&p, format!("{TWO_MASTERS}{extra}")).unwrap();
    p
}

fn via(plan: &bundler::plan::Plan) -> Vec<(String, &'static str)> {
    plan.hosts.iter().map(|h| (h.name.clone(), h.apiserver_via.as_str())).collect()
}

#[test]
fn two_masters_without_a_load_balancer_get_a_local_proxy_on_the_other_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    let plan = plan_of(&inv);
    let n = &plan.network;
    assert_eq!(n.apiserver_endpoint, "https://localhost:6443");
    let p = n.apiserver_proxy.as_ref().expect("a proxy");
    assert_eq!(p.upstreams, ["10.0.0.11:6443", "192.168.1.12:6443"]);
    assert_eq!(p.hosts, ["n1", "n2"], "m2 is a node too, but a control-plane host: it uses its own API server");
    // nginx:1.13 has no published digest: it is pinned on first pull (bundler.lock) and carried
    // in k8s-images like every other image.
    assert!(p.pinned && p.image.as_deref() == Some("nginx:1.13"), "{p:?}");
    assert!(!plan.warnings.iter().any(|w| w.message.contains("no `nginx` image")), "{:?}", plan.warnings);
    let nginx = plan.images.iter().find(|i| i.name == "nginx").expect("the proxy's image is in the plan");
    assert_eq!(nginx.used_by, ["k8s-images"]);
    assert_eq!(via(&plan), [("m1".into(), "local-apiserver"), ("m2".into(), "local-apiserver"), ("n1".into(), "local-proxy"), ("n2".into(), "local-proxy")]);

    // The plan shows it, per host and as a line of its own, in both forms.
    let o = Command::new(env!("CARGO_BIN_EXE_bundler")).arg("plan").arg("--inventory").arg(&inv).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("API server via"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("n1 ") && l.contains("local-proxy")), "{text}");
    assert!(text.contains("API proxy          local nginx on n1, n2 -> 10.0.0.11:6443, 192.168.1.12:6443 (image nginx:1.13)"), "{text}");
    let o = Command::new(env!("CARGO_BIN_EXE_bundler")).args(["--json", "plan", "--inventory"]).arg(&inv).output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["hosts"][2]["apiserver_via"], "local-proxy");
    assert_eq!(j["network"]["apiserver_proxy"]["pinned"], true);

    // Rendered: the proxy's config and unit (k8s-node), snapshots reviewed on purpose.
    let files = bundler::render::render(&plan).unwrap();
    let get = |path: &str| files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} not rendered"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for path in ["/etc/kubernetes/api-proxy/nginx.conf", "/usr/lib/systemd/system/k8s-api-proxy.service"] {
            let f = get(path);
            assert_eq!(f.package, "k8s-node");
            let name = format!("two-masters__{}", path.trim_start_matches('/').replace('/', "__"));
            insta::assert_snapshot!(name, format!("# package: {}  mode: {:o}  config: {}\n{}", f.package, f.mode, f.config, f.content));
        }
    });
    assert!(get("/etc/kubernetes/kubelet.env").content.contains("--pod-manifest-path=/etc/kubernetes/manifests"));
    assert!(get("/etc/bundler/cluster.env").content.contains("APISERVER_ENDPOINT=https://localhost:6443\n"));

    // Which host starts it: host-identity, as each host would run it.
    let hroot = dir.path().join("root");
    materialise(&files, &hroot);
    let services = |addr: &str| {
        let o = Command::new("sh")
            .arg(hroot.join("usr/libexec/bundler/host-identity"))
            .args(["--services", "node"])
            .env("BUNDLER_ROOT", &hroot)
            .env("BUNDLER_HOST_ADDRESSES", addr)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect::<Vec<_>>()
    };
    let all: Vec<String> = plan.services(bundler::specs::Role::Node);
    assert_eq!(services("10.0.0.21"), all, "n1 runs the proxy, in the order of the package's list");
    let without: Vec<String> = all.iter().filter(|s| *s != "k8s-api-proxy.service").cloned().collect();
    assert_eq!(services("10.0.0.12"), without, "m2 is a control-plane host: no proxy");

    // systemd 219's view is checked on Debian's systemd-analyze, with stand-ins for the executables.
    etcd::require("systemd-analyze");
    let sys = hroot.join("usr/lib/systemd/system");
    for src in ["/lib/systemd/system", "/usr/lib/systemd/system"] {
        for e in std::fs::read_dir(src).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".target") && !sys.join(&n).exists() {
                let _ = std::fs::copy(e.path(), sys.join(&n));
            }
        }
    }
    let docker = hroot.join("usr/bin/docker");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    std::fs::write(&docker, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    for u in ["k8s-api-proxy.service", "etcd-backup.service", "etcd-backup.timer"] {
        let o = Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", hroot.display())).arg(sys.join(u)).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && !err.contains("Unknown"), "{u}: {err}");
    }
}

#[test]
fn kubeconfigs_point_at_localhost_and_the_api_certificate_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    let plan = plan_of(&inv);
    let state = dir.path().join("state");
    bundler::pki::ensure(&plan, &bundler::pki_options(&plan, &state, false)).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    // Embedded certificates, keys and the token change every run; everything else is the snapshot.
    settings.bind(|| {
        for name in ["bootstrap", "kube-proxy", "admin", "kube-controller-manager", "kube-scheduler"] {
            let text = std::fs::read_to_string(state.join(format!("kubeconfig/{name}.kubeconfig"))).unwrap();
            assert!(text.contains("server: https://localhost:6443"), "{name}: {text}");
            let redacted: String = text
                .lines()
                .map(|l| match l.split_once(": ") {
                    Some((k, _)) if ["certificate-authority-data", "client-certificate-data", "client-key-data", "token"].contains(&k.trim()) => {
                        format!("{k}: [redacted]\n")
                    }
                    _ => format!("{l}\n"),
                })
                .collect();
            insta::assert_snapshot!(format!("two-masters__{name}.kubeconfig"), redacted);
        }
    });
    // localhost is the API server on a control-plane host and the proxy elsewhere: the certificate must name it.
    etcd::require("openssl");
    let o = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(state.join("pki/apiserver.crt")).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"), "{text}");
    assert!(text.contains("IP Address:10.0.0.11") && text.contains("IP Address:192.168.1.12"), "{text}");
}

#[test]
fn with_a_load_balancer_every_host_uses_it_and_there_is_no_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "  vars:\n    loadbalancer_apiserver: {address: 10.0.0.100, port: 8443}\n");
    let plan = plan_of(&inv);
    assert_eq!(plan.network.apiserver_endpoint, "https://10.0.0.100:8443");
    assert!(plan.network.apiserver_proxy.is_none());
    assert_eq!(via(&plan)[2], ("n1".into(), "loadbalancer"));
    assert!(!plan.warnings.iter().any(|w| w.message.contains("no `nginx` image")));
    assert!(!plan.images.iter().any(|i| i.name == "nginx"), "no proxy, no nginx image");
    let files = bundler::render::render(&plan).unwrap();
    assert!(!files.iter().any(|f| f.path.contains("api-proxy")), "no proxy files with a load balancer");
    // And one control-plane host without a load balancer stays as it was: that host.
    let one = dir.path().join("one.yaml");
    std::fs::write(&one, TWO_MASTERS.replace("kube_control_plane: {hosts: {m1: , m2: }}", "kube_control_plane: {hosts: {m1: }}")).unwrap();
    let plan = plan_of(&one);
    assert_eq!(plan.network.apiserver_endpoint, "https://10.0.0.11:6443");
    assert!(plan.network.apiserver_proxy.is_none());
    assert_eq!(via(&plan)[2], ("n1".into(), "control-plane-host"));
}
