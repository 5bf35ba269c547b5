//! The human-readable form of the plan (the JSON form is the serde serialisation).

use std::fmt::Write;

use super::Plan;

impl Plan {
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let n = &self.network;
        let v = &self.versions;
        let _ = writeln!(o, "Plan for {} (bundle `{}`)", self.inventory, self.bundle_name);
        let _ = writeln!(o, "\nVersions: Kubernetes {}, etcd {}, flannel {}, Docker {}, CNI plugins {}", v.kubernetes, v.etcd, v.flannel, v.docker, v.cni);
        let _ = writeln!(o, "\nHosts:");
        let w = self.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(o, "  {:w$}  {:15}  {:15}  {:20}  roles", "name", "address", "access address", "API server via");
        for h in &self.hosts {
            let mut roles: Vec<String> = h.roles.iter().map(|r| r.as_str().to_string()).collect();
            if let Some(m) = &h.etcd_member_name {
                roles = roles.into_iter().map(|r| if r == "etcd" { format!("etcd ({m})") } else { r }).collect();
            }
            let _ = writeln!(
                o,
                "  {:w$}  {:15}  {:15}  {:20}  {}",
                h.name,
                h.address.to_string(),
                h.access_address.to_string(),
                h.apiserver_via.as_str(),
                roles.join(", ")
            );
        }
        let _ = writeln!(o, "\nNetwork:");
        let _ = writeln!(o, "  service network    {} (kubernetes service {}, cluster DNS {})", n.service_cidr, n.kubernetes_service_ip, n.cluster_dns_ip);
        let _ = writeln!(
            o,
            "  pod network        {} split into /{} per host ({} subnets for {} hosts running flannel, vxlan)",
            n.pod_cidr, n.node_prefix, n.pod_subnets_available, n.pod_subnets_needed
        );
        let _ = writeln!(o, "  DNS domain         {}", n.dns_domain);
        let _ = writeln!(o, "  API server         {}", n.apiserver_endpoint);
        if let Some(lb) = &n.loadbalancer {
            let _ = writeln!(o, "  load balancer      {}:{} ({})", lb.address, lb.port, lb.domain_name);
        }
        if let Some(p) = &n.apiserver_proxy {
            let image = match &p.image {
                Some(i) if p.pinned => i.clone(),
                _ => "NONE: no `nginx` image in the catalog".to_string(),
            };
            let _ = writeln!(o, "  API proxy          local nginx on {} -> {} (image {image})", p.hosts.join(", "), p.upstreams.join(", "));
        }
        if !n.supplementary_addresses_in_ssl_keys.is_empty() {
            let _ = writeln!(o, "  extra cert names   {}", n.supplementary_addresses_in_ssl_keys.join(", "));
        }
        let _ = writeln!(o, "  kube-proxy mode    {}", n.proxy_mode);
        let _ = writeln!(o, "  etcd cluster       {}", self.etcd.initial_cluster);
        let _ = writeln!(o, "  etcd backups       daily on every member, newest {} kept (k8s-etcd-restore restores)", self.etcd.backup_keep);
        let yes = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(
            o,
            "  addons             DNS: {}, Dashboard: {}, monitoring: {}",
            self.addons.dns,
            yes(self.addons.dashboard),
            yes(self.addons.monitoring)
        );
        let _ = writeln!(o, "\nArtifacts (downloaded once, verified before use):");
        for a in &self.artifacts {
            let _ = writeln!(o, "  {} {}\n    {}\n    {}\n    trust: {}", a.name, a.version, a.url, a.digest, a.trust_note);
            for u in &a.alternate_urls {
                let _ = writeln!(o, "    also from: {u}");
            }
        }
        let _ = writeln!(o, "\nImages (pinned by digest):");
        for i in &self.images {
            match &i.first_pull {
                Some(fp) => {
                    let when = match &fp.pinned_on {
                        Some(d) => format!("pinned on first pull, {d} ({}): {}", fp.lock_file, i.digest),
                        None => format!("pinned on first pull: not pulled yet, the next build records its digest in {}", fp.lock_file),
                    };
                    let _ = writeln!(o, "  {} {}\n    {}\n    {when}", i.name, i.version, i.reference);
                }
                None => {
                    let _ = writeln!(o, "  {} {}\n    {}@{}\n    trust: {}", i.name, i.version, i.reference, i.digest, i.trust_note);
                }
            }
        }
        if let Some(k) = &self.os_key {
            let _ = writeln!(o, "\nOS packages (CentOS RPMs carried unchanged, checked by the vendor's RPM signature):");
            let _ = writeln!(o, "  key {}  fingerprint {}\n    {}", k.name, k.fingerprint, k.url);
            for p in &self.os_packages {
                let by = if p.required_by.is_empty() { "a dependency".to_string() } else { format!("required by {}", p.required_by.join(", ")) };
                let _ = writeln!(o, "  {} ({by})\n    {}", p.nevra, p.urls.first().map(String::as_str).unwrap_or(""));
                if let Some(d) = &p.sha256 {
                    let _ = writeln!(o, "    {d}");
                }
            }
        }
        let _ = writeln!(o, "\nPackages:");
        for p in &self.packages {
            let kind = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let _ = writeln!(o, "  {:24} {:10} {:7} -> {}", p.name, p.version, kind, p.hosts.join(", "));
        }
        let single: Vec<String> = self
            .artifacts
            .iter()
            .filter(|a| a.single_source)
            .map(|a| format!("{} {}", a.name, a.version))
            .chain(self.images.iter().filter(|i| i.single_source).map(|i| format!("{} {}", i.name, i.version)))
            .collect();
        if !single.is_empty() {
            let _ = writeln!(o, "\nDigest from one third-party source (no upstream-published digest exists): {}", single.join(", "));
        }
        if !self.ignored_groups.is_empty() {
            let _ = writeln!(o, "\nIgnored groups (kubespray groups this bundle has no use for): {}", self.ignored_groups.join(", "));
        }
        if !self.ignored_hosts.is_empty() {
            let _ = writeln!(o, "Ignored hosts (in no control-plane, node or etcd group): {}", self.ignored_hosts.join(", "));
        }
        for w in &self.warnings {
            let _ = writeln!(o, "\n{w}");
        }
        o
    }
}
