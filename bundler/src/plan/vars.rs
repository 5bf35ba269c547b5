//! Variable lookup for the plan: layered scopes, kubespray defaults, plain `{{ var }}`
//! references, and typed reads whose errors point at the line that set the value.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ipnet::Ipv4Net;

use crate::error::{Diagnostic, Diagnostics, Loc};
use crate::value::{Kind, Node, Origin};

/// kubespray v2.4/v2.5 defaults for the names this tool reads.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("kube_version", "v1.9.11"),
    ("etcd_version", "v3.0.17"),
    ("flannel_version", "v0.10.0"),
    ("docker_version", "17.12.1-ce"),
    ("cni_version", "v0.6.0"),
    ("kube_service_addresses", "10.233.0.0/18"),
    ("kube_pods_subnet", "10.233.64.0/18"),
    ("kube_network_node_prefix", "24"),
    ("cluster_name", "cluster.local"),
    ("dns_domain", "{{ cluster_name }}"),
    ("kube_apiserver_port", "6443"),
    ("apiserver_loadbalancer_domain_name", "lb-apiserver.kubernetes.local"),
    ("kube_proxy_mode", "iptables"),
    ("kube_network_plugin", "flannel"),
    ("container_manager", "docker"),
    ("dashboard_enabled", "true"),
    ("monitoring_enabled", "true"),
    // bundler's own: ship the images k8s-smoke-test runs.
    ("bundler_smoke_test_images", "true"),
    ("dns_mode", "kubedns"),
    ("pod_infra_version", "3.0"),
    ("bundle_name", "k8s"),
    // bundler's own: CA 10 years, leaves 5 years.
    ("bundler_ca_validity_days", "3650"),
    ("bundler_cert_validity_days", "1825"),
    // bundler's own: daily etcd backups, a week of them kept on every member.
    ("bundler_etcd_backup_keep", "7"),
];

fn default_loc() -> Loc {
    static F: OnceLock<Arc<PathBuf>> = OnceLock::new();
    Loc::new(F.get_or_init(|| Arc::new(PathBuf::from("(kubespray default)"))), 0, 0)
}

pub fn defaults() -> BTreeMap<String, Node> {
    DEFAULTS
        .iter()
        .map(|(k, v)| {
            let kind = match crate::yaml::resolve_plain(v) {
                Kind::Float(_) => Kind::Str(v.to_string()),
                k => k,
            };
            (k.to_string(), Node::new(kind, default_loc(), Origin::Default))
        })
        .collect()
}

/// A view of variables: the first layer that has a name wins.
pub struct Scope<'a> {
    pub layers: Vec<&'a BTreeMap<String, Node>>,
}

impl<'a> Scope<'a> {
    pub fn raw(&self, name: &str) -> Option<&'a Node> {
        self.layers.iter().find_map(|l| l.get(name))
    }

    /// The value with `{{ var }}` references replaced; errors name the file and line.
    pub fn get(&self, name: &str, diags: &mut Diagnostics) -> Option<Node> {
        self.get_inner(name, diags, &mut Vec::new())
    }

    fn get_inner(&self, name: &str, diags: &mut Diagnostics, stack: &mut Vec<String>) -> Option<Node> {
        let node = self.raw(name)?;
        if let Kind::Vault(_) = node.kind {
            diags
                .error(Some(node.loc.clone()), format!("`{name}` is encrypted with ansible-vault (an inline `!vault` value), which bundler cannot open"))
                .notes
                .push(format!("help: bundler needs no secrets; write `{name}` as a plain value"));
            return None;
        }
        let Kind::Str(s) = &node.kind else {
            return Some(node.clone());
        };
        if !s.contains("{{") && !s.contains("{%") {
            return Some(node.clone());
        }
        if stack.iter().any(|x| x == name) {
            stack.push(name.to_string());
            diags.error(Some(node.loc.clone()), format!("variables refer to each other in a loop: {}", stack.join(" -> ")));
            return None;
        }
        stack.push(name.to_string());
        let out = self.render(name, s, node, diags, stack);
        stack.pop();
        out
    }

    fn render(&self, name: &str, s: &str, node: &Node, diags: &mut Diagnostics, stack: &mut Vec<String>) -> Option<Node> {
        let rich = |diags: &mut Diagnostics, what: &str| {
            diags
                .error(Some(node.loc.clone()), format!("`{name}`: `{s}`: {what}; bundler resolves only plain `{{{{ variable }}}}` references"))
                .notes
                .push("help: write the value itself here, or refer to one variable by name".into());
            None
        };
        if s.contains("{%") || s.contains("{#") {
            return rich(diags, "Jinja statements and comments are not supported");
        }
        let mut out = String::new();
        let mut rest = s;
        let mut whole: Option<Node> = None;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                return rich(diags, "an unclosed `{{`");
            };
            let expr = after[..j].trim();
            if expr.is_empty() || !expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || expr.starts_with(|c: char| c.is_ascii_digit()) {
                return rich(diags, &format!("`{{{{ {expr} }}}}` is an expression (filters, lookups or operators)"));
            }
            if self.raw(expr).is_none() {
                diags
                    .error(Some(node.loc.clone()), format!("`{name}`: `{s}` refers to `{expr}`, which is not defined"))
                    .notes
                    .push(format!("help: define `{expr}` in the inventory's vars or group_vars/, or write the value itself"));
                return None;
            }
            let v = self.get_inner(expr, diags, stack)?;
            let only = i == 0 && rest[i + 2 + j + 2..].is_empty() && out.is_empty();
            if only {
                whole = Some(v.clone());
            }
            match python_str(&v) {
                Some(t) => out.push_str(&t),
                None => return rich(diags, &format!("`{expr}` is {}, which cannot be put into a string", v.type_name())),
            }
            if out.len() > MAX_TEMPLATE_OUTPUT {
                diags.error(Some(node.loc.clone()), format!("`{name}`: `{s}` expands to more than {MAX_TEMPLATE_OUTPUT} bytes; refusing to expand it further"));
                return None;
            }
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        // `"{{ other }}"` alone keeps the other value's type, as Ansible's native types do for lists.
        if let Some(mut w) = whole.filter(|_| rest.is_empty()) {
            // A default (`dns_domain: "{{ cluster_name }}"`) has no line: keep the referenced one's.
            if node.origin != Origin::Default {
                w.loc = node.loc.clone();
            }
            return Some(w);
        }
        let mut n = Node::str(&out, node.loc.clone(), node.origin);
        n.raw = None;
        Some(n)
    }
}

/// The longest text one variable may expand to (`"{{v}}{{v}}"` chains double at each step).
pub const MAX_TEMPLATE_OUTPUT: usize = 64 << 10;

/// A value as Jinja2 prints it inside a string, i.e. Python's `str()`: `8` for the YAML number
/// written `010`, `True` for a boolean, `1.3` for `1.30`. Lists and mappings are refused.
fn python_str(n: &Node) -> Option<String> {
    match &n.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Int(i) => Some(i.to_string()),
        Kind::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Kind::Null => Some("None".into()),
        Kind::Float(f) if f.is_nan() => Some("nan".into()),
        Kind::Float(f) if f.is_infinite() => Some(if *f > 0.0 { "inf" } else { "-inf" }.into()),
        Kind::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => Some(format!("{f:.1}")),
        Kind::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// An error about a value, with the INI trailing-comment note where it applies.
pub fn bad_value(node: &Node, name: &str, msg: impl Into<String>) -> Diagnostic {
    let mut d = Diagnostic::error(Some(node.loc.clone()), format!("`{name}`: {}", msg.into()));
    if node.origin == Origin::IniVars {
        if let Kind::Str(s) = &node.kind {
            if s.contains(" #") || s.contains("\t#") {
                d = d.note(format!(
                    "note: in an INI `:vars` section a trailing `# ...` is part of the value (Ansible reads `{}` as the whole string); move the comment to its own line",
                    s
                ));
            }
        }
    }
    if let (Some(raw), Kind::Float(_) | Kind::Int(_)) = (&node.raw, &node.kind) {
        if node.origin == Origin::Yaml {
            d = d.note(format!("note: YAML reads the unquoted `{raw}` as a number ({}); quote it: `{name}: \"{raw}\"`", node.scalar_number()));
        }
    }
    d
}

impl Node {
    fn scalar_number(&self) -> String {
        match self.kind {
            Kind::Float(f) => f.to_string(),
            Kind::Int(i) => i.to_string(),
            _ => String::new(),
        }
    }
}

pub fn as_string(node: &Node, name: &str, diags: &mut Diagnostics) -> Option<String> {
    match &node.kind {
        Kind::Str(s) => Some(s.trim().to_string()),
        Kind::Int(_) | Kind::Float(_) if node.origin == Origin::Yaml => {
            diags.push(bad_value(node, name, format!("expected a string, found {}", node.type_name())));
            None
        }
        Kind::Int(_) | Kind::Float(_) => node.raw.clone().or_else(|| node.scalar_text()),
        _ => {
            diags.push(bad_value(node, name, format!("expected a string, found {}", node.type_name())));
            None
        }
    }
}

/// Ansible's `| bool`: true/false/yes/no/on/off/1/0 as strings too.
pub fn as_bool(node: &Node, name: &str, diags: &mut Diagnostics) -> Option<bool> {
    match &node.kind {
        Kind::Bool(b) => Some(*b),
        Kind::Int(1) => Some(true),
        Kind::Int(0) => Some(false),
        Kind::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "y" => Some(true),
            "false" | "no" | "off" | "0" | "n" => Some(false),
            _ => {
                diags.push(bad_value(node, name, format!("`{s}` is not true or false")));
                None
            }
        },
        _ => {
            diags.push(bad_value(node, name, format!("expected true or false, found {}", node.type_name())));
            None
        }
    }
}

pub fn as_int(node: &Node, name: &str, lo: i64, hi: i64, diags: &mut Diagnostics) -> Option<i64> {
    let v = match &node.kind {
        Kind::Int(i) => Some(*i),
        Kind::Str(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match v {
        Some(v) if (lo..=hi).contains(&v) => Some(v),
        Some(v) => {
            diags.push(bad_value(node, name, format!("{v} is outside {lo}..{hi}")));
            None
        }
        None => {
            diags.push(bad_value(node, name, format!("expected a whole number, found {}", describe(node))));
            None
        }
    }
}

fn describe(node: &Node) -> String {
    match node.scalar_text() {
        Some(t) => format!("`{t}`"),
        None => node.type_name().to_string(),
    }
}

/// A dotted-quad IPv4 address; leading zeros (`10.74.8.090`) are refused, as Ansible's ipaddr does.
pub fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    let s = s.trim();
    let octets: Vec<&str> = s.split('.').collect();
    let plausible = octets.len() == 4 && octets.iter().all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()));
    if plausible {
        if octets.iter().any(|o| o.len() > 1 && o.starts_with('0')) {
            return Err(format!("`{s}` is not a valid IPv4 address: an octet has a leading zero"));
        }
        return s.parse::<Ipv4Addr>().map_err(|_| format!("`{s}` is not a valid IPv4 address: an octet is above 255"));
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(format!("`{s}` is an IPv6 address; flannel 0.10 and Kubernetes 1.9 as built here are IPv4 only"));
    }
    Err(format!("`{s}` is not an IPv4 address"))
}

pub fn as_cidr(node: &Node, name: &str, diags: &mut Diagnostics) -> Option<Ipv4Net> {
    let s = as_string(node, name, diags)?;
    let Some((addr, len)) = s.split_once('/') else {
        diags.push(bad_value(node, name, format!("`{s}` is not a CIDR such as 10.233.0.0/18")));
        return None;
    };
    let ip = match parse_ipv4(addr) {
        Ok(ip) => ip,
        Err(e) => {
            diags.push(bad_value(node, name, e));
            return None;
        }
    };
    let Ok(len) = len.parse::<u8>() else {
        diags.push(bad_value(node, name, format!("`{s}` has a bad prefix length")));
        return None;
    };
    match Ipv4Net::new(ip, len) {
        Ok(n) if n.network() == ip => Some(n),
        Ok(n) => {
            diags.push(bad_value(node, name, format!("`{s}` has host bits set; the network is {}", n.trunc())));
            None
        }
        Err(_) => {
            diags.push(bad_value(node, name, format!("`{s}` has a prefix length above 32")));
            None
        }
    }
}

pub fn as_list(node: &Node, name: &str, diags: &mut Diagnostics) -> Option<Vec<String>> {
    match &node.kind {
        Kind::Null => Some(Vec::new()),
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for i in items {
                out.push(i.scalar_text().or_else(|| {
                    diags.push(bad_value(i, name, format!("list items must be addresses or names, not {}", i.type_name())));
                    None
                })?);
            }
            Some(out)
        }
        Kind::Str(s) => {
            // A frequent mistake: a scalar where kubespray wants a list. Take it, and say so.
            let items: Vec<String> = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
            diags.warning(Some(node.loc.clone()), format!("`{name}` should be a list; reading `{s}` as {} item(s)", items.len()));
            Some(items)
        }
        _ => {
            diags.push(bad_value(node, name, format!("expected a list, found {}", node.type_name())));
            None
        }
    }
}
