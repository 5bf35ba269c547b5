//! The addon manifests and k8s-smoke-test's workload use only API versions and kinds a
//! Kubernetes 1.9 API server serves by default, so `kubectl apply` on the installed cluster
//! cannot fail with "no matches for kind".

use std::collections::BTreeMap;

use crate::render::rendered;
use crate::util::root;

/// Group versions a 1.9 kube-apiserver enables by default, with the kinds our manifests may use.
/// From Kubernetes 1.9's API groups (pkg/master/master.go DefaultAPIResourceConfigSource: the
/// beta and GA versions; apps/v1 is new in 1.9, alpha versions are off), cross-checked with the
/// 1.9 controller policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go)
/// which grants the HPA controller `autoscaling` and `*/scale`. Later versions are absent on
/// purpose: networking.k8s.io/v1 Ingress (1.19), autoscaling/v2beta2 (1.12).
fn served_by_1_9() -> BTreeMap<&'static str, &'static [&'static str]> {
    const CORE: &[&str] = &["ConfigMap", "Namespace", "Pod", "Secret", "Service", "ServiceAccount", "Endpoints", "PersistentVolumeClaim"];
    const WORKLOADS: &[&str] = &["Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"];
    const RBAC: &[&str] = &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
    BTreeMap::from([
        ("v1", CORE),
        ("apps/v1", WORKLOADS),
        ("apps/v1beta2", WORKLOADS),
        ("apps/v1beta1", &["Deployment", "StatefulSet"][..]),
        ("extensions/v1beta1", &["Deployment", "DaemonSet", "ReplicaSet", "Ingress"][..]),
        ("autoscaling/v1", &["HorizontalPodAutoscaler"][..]),
        ("autoscaling/v2beta1", &["HorizontalPodAutoscaler"][..]),
        ("rbac.authorization.k8s.io/v1", RBAC),
        ("rbac.authorization.k8s.io/v1beta1", RBAC),
    ])
}

/// `(apiVersion, kind)` of every document in a multi-document YAML text.
fn kinds(text: &str, file: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for doc in text.split("\n---\n") {
        let v: serde_json::Value = bundler::yaml::from_str(doc, std::path::Path::new(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        if v.is_null() {
            continue;
        }
        let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{file}: a document without {k}:\n{doc}")).to_string();
        out.push((s("apiVersion"), s("kind")));
        // The HPA's target must be a kind 1.9's scale client can reach.
        if s("kind") == "HorizontalPodAutoscaler" {
            let t = &v["spec"]["scaleTargetRef"];
            out.push((t["apiVersion"].as_str().unwrap().to_string(), t["kind"].as_str().unwrap().to_string()));
        }
    }
    out
}

#[test]
fn every_manifest_uses_api_versions_kubernetes_1_9_serves() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let served = served_by_1_9();
    let mut checked = Vec::new();
    for f in files.iter().filter(|f| f.path.starts_with("/etc/kubernetes/addons/")) {
        checked.extend(kinds(&f.content, &f.path).into_iter().map(|k| (f.path.clone(), k)));
    }
    let smoke = files.iter().find(|f| f.path == "/usr/sbin/k8s-smoke-test").unwrap();
    let body = smoke.content.split_once("<<YAML\n").unwrap().1.split_once("\nYAML\n").unwrap().0;
    // The shell fills in the image names; any value will do for the check.
    checked.extend(kinds(&body.replace('$', ""), "k8s-smoke-test workload").into_iter().map(|k| ("k8s-smoke-test".to_string(), k)));
    assert!(checked.iter().any(|(p, _)| p.ends_with("monitoring.yaml")), "the monitoring addon is rendered for the example");
    for (path, (version, kind)) in &checked {
        let ok = served.get(version.as_str()).is_some_and(|ks| ks.contains(&kind.as_str()));
        assert!(ok, "{path}: {version} {kind} is not served by a Kubernetes 1.9 API server");
    }
    // The check can fail: a version 1.9 does not serve is caught.
    assert!(!served.get("autoscaling/v2beta2").is_some_and(|ks| ks.contains(&"HorizontalPodAutoscaler")));
    assert!(kinds("apiVersion: networking.k8s.io/v1\nkind: Ingress\n", "t")
        .iter()
        .all(|(v, k)| !served.get(v.as_str()).is_some_and(|ks| ks.contains(&k.as_str()))));
}

#[test]
fn monitoring_is_wired_to_heapster_end_to_end() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let get = |p: &str| files.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("{p}")).content.clone();
    let m = get("/etc/kubernetes/addons/monitoring.yaml");
    let plan = crate::render::plan_of(&root().join("examples/hosts.yaml"));
    for n in ["heapster", "influxdb", "grafana"] {
        let r = &plan.images.iter().find(|i| i.name == n).unwrap().reference;
        assert!(m.contains(&format!("image: {r}\n")), "{n} runs the bundled image {r}");
    }
    // kubelet's read-only port is closed: Heapster reads the authenticated 10250 summary API.
    assert!(m.contains("kubernetes.summary_api:?kubeletHttps=true&kubeletPort=10250"));
    assert!(!m.contains("kubeletPort=10255") && !m.contains("summary_api:''\n"));
    assert!(m.contains("resources: [\"nodes/stats\"]"));
    // kubectl top, the Dashboard and the HPA's legacy client look for service `heapster` in kube-system.
    assert!(m.contains("kind: Service\nmetadata:\n  name: heapster\n  namespace: kube-system"));
    // The HPA reads Heapster: 1.9's default (REST clients, metrics API) is turned off.
    assert!(get("/etc/kubernetes/controller-manager.env").contains("--horizontal-pod-autoscaler-use-rest-clients=false"));
    // The Dashboard may proxy to Heapster for its graphs.
    assert!(get("/etc/kubernetes/addons/dashboard.yaml").contains("\"http:heapster:\""));
}
