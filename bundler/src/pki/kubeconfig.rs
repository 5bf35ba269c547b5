//! Kubeconfig files (certificates embedded) and the RBAC bindings that let kubelets
//! bootstrap with a token and have their client certificates approved automatically.

use base64::Engine as _;
use serde_json::json;

fn encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn doc(server: &str, ca_pem: &str, user: &str, creds: serde_json::Value) -> String {
    let v = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": server, "certificate-authority-data": encode(ca_pem.as_bytes())}}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": "default", "context": {"cluster": "kubernetes", "user": user}}],
        "current-context": "default",
        "preferences": {},
    });
    crate::yaml::to_string(&v)
}

pub fn with_cert(server: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    doc(server, ca_pem, user, json!({"client-certificate-data": encode(cert_pem.as_bytes()), "client-key-data": encode(key_pem.as_bytes())}))
}

pub fn with_token(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    doc(server, ca_pem, user, json!({"token": token}))
}

/// kubelet-bootstrap may create CSRs; CSRs from that group and renewals from nodes are
/// approved by the controller manager itself (the 1.9 built-in cluster roles).
pub fn bootstrap_rbac() -> String {
    let binding = |name: &str, role: &str, group: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "bundler"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
        })
    };
    [
        binding("kubelet-bootstrap", "system:node-bootstrapper", "system:kubelet-bootstrap"),
        binding("auto-approve-csrs-for-group", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:kubelet-bootstrap"),
        binding("auto-approve-renewals-for-nodes", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
    ]
    .iter()
    .map(|b| format!("---\n{}", crate::yaml::to_string(b)))
    .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::encode(b"hello"), "aGVsbG8=");
        assert_eq!(super::encode(b"hi"), "aGk=");
        assert_eq!(super::encode(b"abc"), "YWJj");
    }
}
