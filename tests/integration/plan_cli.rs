//! `bundler plan` on the shipped examples: both forms give one plan, and that plan is the
//! source document's environment.

use crate::util::{bundler, root, run, Case};

fn plan_of(rel: &str) -> serde_json::Value {
    let r = run(bundler().current_dir(root()).args(["plan", "--json", "--inventory", rel]));
    r.code(0);
    r.json()
}

#[test]
fn yaml_and_ini_examples_give_the_same_plan() {
    let mut a = plan_of("examples/hosts.yaml");
    let mut b = plan_of("examples/inventory.ini");
    assert_eq!(a["inventory"], "examples/hosts.yaml");
    assert_eq!(b["inventory"], "examples/inventory.ini");
    a.as_object_mut().unwrap().remove("inventory");
    b.as_object_mut().unwrap().remove("inventory");
    assert_eq!(a, b);
}

#[test]
fn example_plan_is_the_source_documents_environment() {
    let p = plan_of("examples/hosts.yaml");
    assert_eq!(p["schema_version"], 1);
    let hosts: Vec<(String, String, Vec<String>, Option<String>)> = p["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().into(),
                h["address"].as_str().unwrap().into(),
                h["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().into()).collect(),
                h["etcd_member_name"].as_str().map(Into::into),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("master".into(), "192.168.0.211".into(), vec!["etcd".into(), "control-plane".into()], Some("etcd1".into())),
            ("node01".into(), "192.168.0.212".into(), vec!["etcd".into(), "node".into()], Some("etcd2".into())),
            ("node02".into(), "192.168.0.213".into(), vec!["etcd".into(), "node".into()], Some("etcd3".into())),
        ]
    );
    // Kubernetes 1.9, etcd 3.0, Docker 17.12-ce, flannel.
    assert_eq!(p["versions"], serde_json::json!({"kubernetes": "v1.9.11", "etcd": "v3.0.17", "flannel": "v0.10.0", "docker": "17.12.1-ce", "cni": "v0.6.0"}));
    assert_eq!(p["network"]["apiserver_endpoint"], "https://192.168.0.211:6443");
    assert_eq!(p["network"]["kubernetes_service_ip"], "10.233.0.1");
    assert_eq!(p["network"]["cluster_dns_ip"], "10.233.0.3");
    assert_eq!(p["network"]["network_plugin"], "flannel");
    assert_eq!(p["etcd"]["initial_cluster"], "etcd1=https://192.168.0.211:2380,etcd2=https://192.168.0.212:2380,etcd3=https://192.168.0.213:2380");
    let pk = |n: &str| p["packages"].as_array().unwrap().iter().find(|x| x["name"] == n).unwrap_or_else(|| panic!("package {n}")).clone();
    assert_eq!(pk("k8s-master")["hosts"], serde_json::json!(["master"]));
    assert_eq!(pk("k8s-node")["hosts"], serde_json::json!(["node01", "node02"]));
    assert!(pk("k8s-master")["requires"].as_array().unwrap().contains(&"k8s-etcd".into()));
    assert_eq!(pk("k8s-docker-bin")["version"], "17.12.1");
    // Every artifact names its digest and how it is known; flannel's digest has one third-party source.
    let flannel = p["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == "flannel").unwrap();
    assert_eq!(flannel["single_source"], true);
    assert_eq!(flannel["digest"], "sha256:f34c2debec5d92bc2d9a1ed6616f30560f9a22f3c6a116441ddb764b122bdcb7");
    let k8s = p["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == "kubernetes-server").unwrap();
    assert!(k8s["digest"].as_str().unwrap().starts_with("sha512:0d1d6bf7"));
    let images: Vec<&str> = p["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(images, ["pause", "kube-dns", "dnsmasq-nanny", "dns-sidecar", "dashboard", "heapster", "influxdb", "grafana", "busybox", "busybox-previous"]);
    // No one publishes a digest for monitoring's and the smoke test's images: bundler.lock pins them.
    for i in &p["images"].as_array().unwrap()[5..] {
        assert_eq!(i["trust"], "first-pull", "{i}");
        assert_eq!(i["first_pull"]["lock_file"], "bundler.lock");
    }
    assert_eq!(p["addons"]["monitoring"], true);
}

#[test]
fn text_plan_says_what_it_will_do() {
    let r = run(bundler().current_dir(root()).args(["plan", "--inventory", "examples/inventory.ini"]));
    r.code(0);
    for needle in [
        "master  192.168.0.211",
        "pod network        10.233.64.0/18 split into /24 per host",
        "Digest from one third-party source (no upstream-published digest exists): flannel v0.10.0",
        "k8s-node",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle:?} in\n{}", r.stdout);
    }
    let q = run(bundler().current_dir(root()).args(["plan", "--quiet", "--inventory", "examples/inventory.ini"]));
    q.code(0);
    assert_eq!(q.stdout, "");
}

#[test]
fn json_errors_are_a_document_too() {
    let c = Case::new();
    c.file("hosts.yaml", "all:\n  hosts:\n    a: {ip: 10.0.0.1}\n");
    let r = c.plan("hosts.yaml", &["--json"]);
    r.code(2);
    let d = r.json();
    assert_eq!(d["ok"], false);
    assert_eq!(d["exit_code"], 2);
    let msgs: Vec<&str> = d["diagnostics"].as_array().unwrap().iter().map(|x| x["message"].as_str().unwrap()).collect();
    assert!(msgs.iter().any(|m| m.starts_with("no control-plane host")), "{msgs:?}");
}
