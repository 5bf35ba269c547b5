//! PKI with the real tools: openssl verifies every leaf and shows its names and usages, a
//! real etcd cluster runs on the generated certificates, kubectl reads every kubeconfig,
//! and a second run reuses what still fits.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd;
use crate::util::{bundler, root, run, Run};

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(inventory: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hosts.yaml"), inventory).unwrap();
        Pki { dir }
    }
    fn example() -> Pki {
        Pki::new(&std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap())
    }
    fn issue(&self, extra: &[&str]) -> Run {
        run(bundler().current_dir(self.dir.path()).args(["certs", "issue", "--inventory", "hosts.yaml"]).args(extra))
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join("bundler-state/pki").join(name)
    }
    fn kubeconfig(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("bundler-state/kubeconfig/{name}.kubeconfig"))
    }
}

fn openssl(args: &[&str]) -> (bool, String) {
    etcd::require("openssl");
    let o = Command::new("openssl").args(args).output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn x509_text(p: &Path) -> String {
    let (ok, t) = openssl(&["x509", "-noout", "-text", "-in", p.to_str().unwrap()]);
    assert!(ok, "{t}");
    t
}

const LEAVES: [(&str, &str); 10] = [
    ("etcd-server", "etcd-ca"),
    ("etcd-peer", "etcd-ca"),
    ("apiserver-etcd-client", "etcd-ca"),
    ("flannel-etcd-client", "etcd-ca"),
    ("apiserver", "kubernetes-ca"),
    ("apiserver-kubelet-client", "kubernetes-ca"),
    ("admin", "kubernetes-ca"),
    ("kube-controller-manager", "kubernetes-ca"),
    ("kube-scheduler", "kubernetes-ca"),
    ("kube-proxy", "kubernetes-ca"),
];

#[test]
fn openssl_verifies_every_leaf_and_shows_names_and_usages() {
    let k = Pki::example();
    k.issue(&[]).code(0);
    for (leaf, ca) in LEAVES {
        let (ok, out) =
            openssl(&["verify", "-x509_strict", "-CAfile", k.p(&format!("{ca}.crt")).to_str().unwrap(), k.p(&format!("{leaf}.crt")).to_str().unwrap()]);
        assert!(ok && out.contains(": OK"), "{leaf}: {out}");
        let t = x509_text(&k.p(&format!("{leaf}.crt")));
        assert!(t.contains("Subject Key Identifier") && t.contains("Authority Key Identifier"), "{leaf} key ids");
        assert!(t.contains("CA:FALSE"), "{leaf} is not a CA");
        assert!(t.contains("Digital Signature, Key Encipherment"), "{leaf} key usage");
        // A leaf from another CA does not verify.
        let other = if ca == "etcd-ca" { "kubernetes-ca" } else { "etcd-ca" };
        let (ok, _) = openssl(&["verify", "-CAfile", k.p(&format!("{other}.crt")).to_str().unwrap(), k.p(&format!("{leaf}.crt")).to_str().unwrap()]);
        assert!(!ok, "{leaf} must not verify against {other}");
    }
    let api = x509_text(&k.p("apiserver.crt"));
    for n in [
        "DNS:kubernetes,",
        "DNS:kubernetes.default,",
        "DNS:kubernetes.default.svc,",
        "DNS:kubernetes.default.svc.cluster.local",
        "DNS:master",
        "IP Address:192.168.0.211",
        "IP Address:127.0.0.1",
        "IP Address:10.233.0.1",
        "TLS Web Server Authentication",
    ] {
        assert!(api.contains(n), "apiserver cert lacks {n}:\n{api}");
    }
    assert!(!api.contains("TLS Web Client Authentication"));
    let srv = x509_text(&k.p("etcd-server.crt"));
    for n in [
        "DNS:localhost",
        "DNS:master",
        "DNS:node01",
        "DNS:node02",
        "IP Address:192.168.0.212",
        "IP Address:192.168.0.213",
        "IP Address:127.0.0.1",
        "TLS Web Server Authentication, TLS Web Client Authentication",
    ] {
        assert!(srv.contains(n), "etcd server cert lacks {n}");
    }
    for (leaf, subject) in [
        ("admin", "O = system:masters, CN = admin"),
        ("apiserver-kubelet-client", "O = system:masters, CN = kube-apiserver-kubelet-client"),
        ("kube-controller-manager", "CN = system:kube-controller-manager"),
        ("kube-scheduler", "CN = system:kube-scheduler"),
        ("kube-proxy", "CN = system:kube-proxy"),
    ] {
        let t = x509_text(&k.p(&format!("{leaf}.crt")));
        assert!(t.contains(&format!("Subject: {subject}")), "{leaf}:\n{t}");
        assert!(t.contains("TLS Web Client Authentication") && !t.contains("TLS Web Server Authentication"), "{leaf} client only");
    }
    // CAs: 10 years; leaves: 5 years; serials random (all different).
    let ca = x509_text(&k.p("kubernetes-ca.crt"));
    assert!(ca.contains("CA:TRUE") && ca.contains("Certificate Sign"));
    let serials: std::collections::BTreeSet<String> =
        LEAVES.iter().map(|(l, _)| openssl(&["x509", "-noout", "-serial", "-in", k.p(&format!("{l}.crt")).to_str().unwrap()]).1).collect();
    assert_eq!(serials.len(), LEAVES.len());
    // The service-account key pair and the bootstrap token file.
    let (ok, out) = openssl(&["pkey", "-in", k.p("service-account.key").to_str().unwrap(), "-pubout"]);
    assert!(ok);
    assert_eq!(out, std::fs::read_to_string(k.p("service-account.pub")).unwrap());
    let csv = std::fs::read_to_string(k.p("token-auth.csv")).unwrap();
    assert!(csv.ends_with(",kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n"), "{csv}");
    let rbac = std::fs::read_to_string(k.p("kubelet-bootstrap-rbac.yaml")).unwrap();
    for role in ["system:node-bootstrapper", "certificatesigningrequests:nodeclient", "certificatesigningrequests:selfnodeclient"] {
        assert!(rbac.contains(role), "{role}");
    }
}

#[test]
fn state_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let k = Pki::example();
    k.issue(&[]).code(0);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&k.dir.path().join("bundler-state")), 0o700);
    assert_eq!(mode(&k.dir.path().join("bundler-state/pki")), 0o700);
    for e in std::fs::read_dir(k.dir.path().join("bundler-state/pki")).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

#[test]
fn real_etcd_cluster_runs_on_the_generated_certificates() {
    let inv = "all:\n  hosts:\n    e1: {ip: 127.0.0.11}\n    e2: {ip: 127.0.0.12}\n    e3: {ip: 127.0.0.13}\n  children:\n    kube_control_plane: {hosts: {e1: }}\n    kube_node: {hosts: {e2: , e3: }}\n    etcd: {hosts: {e1: , e2: , e3: }}\n";
    let k = Pki::new(inv);
    k.issue(&[]).code(0);
    let other = Pki::new(inv);
    other.issue(&[]).code(0);
    let ca = k.p("etcd-ca.crt");
    let tls = etcd::Tls {
        ca: &ca,
        server_cert: &k.p("etcd-server.crt"),
        server_key: &k.p("etcd-server.key"),
        peer_cert: &k.p("etcd-peer.crt"),
        peer_key: &k.p("etcd-peer.key"),
    };
    let client = (k.p("apiserver-etcd-client.crt"), k.p("apiserver-etcd-client.key"));
    let _cl = etcd::start(etcd::tls_flags(&tls), &[], |ip| etcd::ctl3(ip, &ca, &client.0, &client.1, &["endpoint", "health"]).0);
    let (ok, out) = etcd::ctl3("127.0.0.11", &ca, &client.0, &client.1, &["put", "/bundler/test", "hello"]);
    assert!(ok, "{out}");
    let (ok, out) = etcd::ctl3("127.0.0.13", &ca, &client.0, &client.1, &["get", "/bundler/test", "--print-value-only"]);
    assert!(ok && out.trim() == "hello", "{out}");
    // flannel's client certificate works too.
    let (ok, out) =
        etcd::ctl3("127.0.0.12", &ca, &k.p("flannel-etcd-client.crt"), &k.p("flannel-etcd-client.key"), &["get", "/bundler/test", "--print-value-only"]);
    assert!(ok && out.trim() == "hello", "{out}");
    // A client certificate from another cluster's CA is refused.
    let (ok, out) = etcd::ctl3("127.0.0.11", &ca, &other.p("apiserver-etcd-client.crt"), &other.p("apiserver-etcd-client.key"), &["get", "/bundler/test"]);
    assert!(!ok, "a foreign client certificate was accepted: {out}");
}

fn kubectl_view(kc: &Path) -> serde_json::Value {
    etcd::require("kubectl");
    let o = Command::new("kubectl").args(["config", "view", "--raw", "-o", "json", "--kubeconfig"]).arg(kc).output().unwrap();
    assert!(o.status.success(), "kubectl: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn kubectl_reads_every_kubeconfig_and_embedded_certs_verify() {
    let k = Pki::example();
    k.issue(&[]).code(0);
    for (name, user) in [
        ("admin", "admin"),
        ("kube-controller-manager", "system:kube-controller-manager"),
        ("kube-scheduler", "system:kube-scheduler"),
        ("kube-proxy", "system:kube-proxy"),
        ("bootstrap", "kubelet-bootstrap"),
    ] {
        let v = kubectl_view(&k.kubeconfig(name));
        assert_eq!(v["clusters"][0]["cluster"]["server"], "https://192.168.0.211:6443", "{name}");
        assert_eq!(v["users"][0]["name"], user);
        let ca = b64d(v["clusters"][0]["cluster"]["certificate-authority-data"].as_str().unwrap());
        assert_eq!(ca, std::fs::read(k.p("kubernetes-ca.crt")).unwrap());
        if name == "bootstrap" {
            assert_eq!(v["users"][0]["user"]["token"].as_str().unwrap(), std::fs::read_to_string(k.p("bootstrap-token")).unwrap().trim());
            continue;
        }
        let cert = b64d(v["users"][0]["user"]["client-certificate-data"].as_str().unwrap());
        let f = k.dir.path().join(format!("{name}-embedded.crt"));
        std::fs::write(&f, cert).unwrap();
        let (ok, out) = openssl(&["verify", "-CAfile", k.p("kubernetes-ca.crt").to_str().unwrap(), f.to_str().unwrap()]);
        assert!(ok, "{name}: {out}");
    }
    // With a load balancer the kubeconfigs point at it.
    let inv = std::fs::read_to_string(k.dir.path().join("hosts.yaml")).unwrap() + "  vars:\n    loadbalancer_apiserver: {address: 192.168.0.250, port: 8443}\n";
    std::fs::write(k.dir.path().join("hosts.yaml"), inv).unwrap();
    k.issue(&[]).code(0);
    assert_eq!(kubectl_view(&k.kubeconfig("kube-proxy"))["clusters"][0]["cluster"]["server"], "https://192.168.0.250:8443");
}

#[test]
fn second_run_reuses_and_a_new_address_reissues_only_the_api_server_cert() {
    let k = Pki::example();
    k.issue(&[]).code(0);
    let snapshot = |k: &Pki| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(k.dir.path().join("bundler-state/pki"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&k);
    let r = k.issue(&["--json"]);
    r.code(0);
    assert_eq!(r.json()["changes"], serde_json::json!([]));
    assert_eq!(snapshot(&k), before, "second run changes nothing");

    let inv =
        std::fs::read_to_string(k.dir.path().join("hosts.yaml")).unwrap() + "  vars:\n    supplementary_addresses_in_ssl_keys: [10.0.0.99, api.example.com]\n";
    std::fs::write(k.dir.path().join("hosts.yaml"), inv).unwrap();
    let r = k.issue(&["--json"]);
    r.code(0);
    let changes = r.json()["changes"].clone();
    assert_eq!(changes, serde_json::json!([{"id": "apiserver", "action": "re-issued", "reason": "names changed (+10.0.0.99, +api.example.com)"}]));
    let after = snapshot(&k);
    let differ: Vec<&String> = before.iter().zip(&after).filter(|(a, b)| a != b).map(|(a, _)| &a.0).collect();
    assert_eq!(differ, ["apiserver.crt", "apiserver.json", "apiserver.key"]);
    for ca in ["kubernetes-ca.crt", "kubernetes-ca.key", "etcd-ca.crt", "etcd-ca.key"] {
        assert_eq!(before.iter().find(|x| x.0 == ca), after.iter().find(|x| x.0 == ca), "{ca} byte for byte");
    }
    assert!(x509_text(&k.p("apiserver.crt")).contains("IP Address:10.0.0.99"));
    // Renew re-issues every leaf from the same CAs.
    let r = run(bundler().current_dir(k.dir.path()).args(["certs", "renew", "--json", "--inventory", "hosts.yaml"]));
    r.code(0);
    assert_eq!(r.json()["changes"].as_array().unwrap().len(), LEAVES.len());
    assert_eq!(std::fs::read(k.p("kubernetes-ca.crt")).unwrap(), before.iter().find(|x| x.0 == "kubernetes-ca.crt").unwrap().1);
}

#[test]
fn no_package_item_is_a_root_ca_key() {
    let k = Pki::example();
    let r = k.issue(&["--json"]);
    r.code(0);
    let items = r.json()["items"].as_array().unwrap().clone();
    let roots = [std::fs::read(k.p("kubernetes-ca.key")).unwrap(), std::fs::read(k.p("etcd-ca.key")).unwrap()];
    for it in &items {
        let bytes = std::fs::read(it["path"].as_str().unwrap()).unwrap();
        for rk in &roots {
            assert!(!bytes.windows(rk.len()).any(|w| w == &rk[..]), "{} contains a root CA key", it["id"]);
        }
        if it["secret"] == true {
            assert_eq!(it["mode"], 0o600);
        }
    }
    assert!(items.iter().any(|i| i["id"] == "kubelet-signing-ca.key" && i["packages"] == serde_json::json!(["k8s-master"])));
}

#[test]
fn certs_lists_and_warns_before_expiry() {
    let k = Pki::new(
        &(std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap()
            + "  vars:\n    bundler_ca_validity_days: 300\n    bundler_cert_validity_days: 1000\n"),
    );
    let r = k.issue(&[]);
    r.code(0).has("lifetime clamped from 1000 to 300 days so it does not outlive CA").has("CA kubernetes-ca expires in 300 days; plan a CA rotation");
    let r = run(bundler().current_dir(k.dir.path()).args(["certs", "--json", "--state", "bundler-state"]));
    r.code(0);
    let doc = r.json();
    let api = doc["certificates"].as_array().unwrap().iter().find(|c| c["file"].as_str().unwrap().ends_with("apiserver.crt")).unwrap();
    assert_eq!(api["packages"], serde_json::json!(["k8s-master"]));
    assert!((298..=300).contains(&api["days_left"].as_i64().unwrap()));
    let r = run(bundler().current_dir(k.dir.path()).args(["certs", "--state", "bundler-state", "--warn-days", "500"]));
    r.code(1).has("certificate(s) expire within 500 days");
    assert!(r.stdout.contains("apiserver.crt") && r.stdout.contains("packages  k8s-master"));
}

#[test]
fn half_a_ca_is_never_overwritten() {
    let k = Pki::example();
    k.issue(&[]).code(0);
    std::fs::remove_file(k.p("etcd-ca.key")).unwrap();
    let crt = std::fs::read(k.p("etcd-ca.crt")).unwrap();
    k.issue(&[]).code(1).has("etcd-ca.crt exists but").has("refusing to make a new CA over half of an old one");
    assert_eq!(std::fs::read(k.p("etcd-ca.crt")).unwrap(), crt);
}
