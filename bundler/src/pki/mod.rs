//! PKI: the cluster's CAs, certificates, keys, bootstrap token and kubeconfigs, kept in the
//! state folder, reused while still valid and still matching the plan, re-issued (and
//! said why) when not. Root CA private keys never leave the state folder.
//!
//! Keys are ECDSA P-256: every TLS stack involved (etcd 3.0, Kubernetes 1.9, flannel 0.10,
//! all Go 1.6-1.9) accepts P-256 certificates and PKCS#8 keys, generation is instant, and
//! the same algorithm serves the service-account tokens (ES256).

mod kubeconfig;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, SanType,
    SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};
use crate::files::{random_bytes, write_private};
pub use crate::model::{Change, ChangeAction, Item, Pki};
use crate::plan::{Plan, PlanHost};
use crate::specs::Role;
pub use store::{list, lock_state, CertInfo};

pub const DEFAULT_CA_DAYS: i64 = 3650;
pub const DEFAULT_LEAF_DAYS: i64 = 1825;

#[derive(Clone, Debug)]
pub struct Options {
    pub state: PathBuf,
    /// "Now" for validity periods, passed in so nothing deep inside reads the clock.
    pub now: OffsetDateTime,
    pub ca_days: i64,
    pub leaf_days: i64,
    /// Re-issue every leaf (`bundler certs renew`).
    pub renew_all: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaId {
    Kubernetes,
    Etcd,
    /// Signs kubelet client certificates from CSRs; its key goes to control-plane hosts.
    KubeletSigning,
}

impl CaId {
    fn file(self) -> &'static str {
        match self {
            CaId::Kubernetes => "kubernetes-ca",
            CaId::Etcd => "etcd-ca",
            CaId::KubeletSigning => "kubelet-signing-ca",
        }
    }
    fn cn(self) -> &'static str {
        match self {
            CaId::Kubernetes => "kubernetes-ca",
            CaId::Etcd => "etcd-ca",
            CaId::KubeletSigning => "kubelet-signing-ca",
        }
    }
}

/// What a leaf must say; stored beside it so a later run can tell whether it still fits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafSpec {
    pub id: String,
    pub ca: CaId,
    pub cn: String,
    pub orgs: Vec<String>,
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub server: bool,
    pub client: bool,
    pub days: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeafMeta {
    pub spec: LeafSpec,
    /// sha256 of the issuing CA certificate (a new CA invalidates the leaf).
    pub ca_sha256: String,
    pub packages: Vec<String>,
    pub install_path: String,
}

fn uniq<T: Ord + Clone>(v: impl IntoIterator<Item = T>) -> Vec<T> {
    v.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Every leaf the plan needs, with its names and usages.
pub fn leaf_specs(plan: &Plan, days: i64) -> Vec<LeafSpec> {
    let hosts_with = |r: Role| -> Vec<&PlanHost> { plan.hosts.iter().filter(|h| h.roles.contains(&r)).collect() };
    let names_of = |hs: &[&PlanHost]| -> (Vec<String>, Vec<IpAddr>) {
        let dns = hs.iter().map(|h| h.name.clone()).collect();
        let ips = hs.iter().flat_map(|h| [IpAddr::V4(h.address), IpAddr::V4(h.access_address)]).collect();
        (dns, ips)
    };
    let local_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let etcd = hosts_with(Role::Etcd);
    let (mut etcd_dns, mut etcd_ips) = names_of(&etcd);
    etcd_dns.push("localhost".into());
    etcd_ips.push(local_ip);
    let cps = hosts_with(Role::ControlPlane);
    let (mut api_dns, mut api_ips) = names_of(&cps);
    let n = &plan.network;
    if let Some(lb) = &n.loadbalancer {
        api_ips.push(IpAddr::V4(lb.address));
        api_dns.push(lb.domain_name.clone());
    }
    for extra in &n.supplementary_addresses_in_ssl_keys {
        match ip(extra) {
            Some(a) => api_ips.push(a),
            None => api_dns.push(extra.clone()),
        }
    }
    api_ips.push(local_ip);
    api_ips.push(IpAddr::V4(n.kubernetes_service_ip));
    api_dns.push("localhost".into());
    for d in ["kubernetes", "kubernetes.default", "kubernetes.default.svc"] {
        api_dns.push(d.into());
    }
    api_dns.push(format!("kubernetes.default.svc.{}", n.dns_domain));

    let leaf = |id: &str, ca, cn: &str, orgs: &[&str], dns: Vec<String>, ips: Vec<IpAddr>, server, client| LeafSpec {
        id: id.into(),
        ca,
        cn: cn.into(),
        orgs: orgs.iter().map(|s| s.to_string()).collect(),
        dns: uniq(dns),
        ips: uniq(ips),
        server,
        client,
        days,
    };
    use CaId::*;
    vec![
        leaf("etcd-server", Etcd, "etcd-server", &[], etcd_dns.clone(), etcd_ips.clone(), true, true),
        leaf("etcd-peer", Etcd, "etcd-peer", &[], etcd_dns, etcd_ips, true, true),
        leaf("apiserver-etcd-client", Etcd, "kube-apiserver-etcd-client", &[], vec![], vec![], false, true),
        leaf("flannel-etcd-client", Etcd, "flannel-etcd-client", &[], vec![], vec![], false, true),
        leaf("apiserver", Kubernetes, "kube-apiserver", &[], api_dns, api_ips, true, false),
        leaf("apiserver-kubelet-client", Kubernetes, "kube-apiserver-kubelet-client", &["system:masters"], vec![], vec![], false, true),
        leaf("admin", Kubernetes, "admin", &["system:masters"], vec![], vec![], false, true),
        leaf("kube-controller-manager", Kubernetes, "system:kube-controller-manager", &[], vec![], vec![], false, true),
        leaf("kube-scheduler", Kubernetes, "system:kube-scheduler", &[], vec![], vec![], false, true),
        leaf("kube-proxy", Kubernetes, "system:kube-proxy", &[], vec![], vec![], false, true),
    ]
}

fn dn(cn: &str, orgs: &[String]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for o in orgs {
        d.push(DnType::OrganizationName, o.as_str());
    }
    d.push(DnType::CommonName, cn);
    d
}

fn serial() -> Result<SerialNumber> {
    let mut b = random_bytes(16)?;
    b[0] &= 0x7f; // positive
    b[0] |= 0x01; // and never shorter than 16 bytes
    Ok(SerialNumber::from_slice(&b))
}

fn ca_params(id: CaId, now: OffsetDateTime, days: i64) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(id.cn(), &["bundler".to_string()]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![Ku::KeyCertSign, Ku::CrlSign, Ku::DigitalSignature];
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(days);
    p.serial_number = Some(serial()?);
    p.use_authority_key_identifier_extension = false;
    Ok(p)
}

struct Ca {
    id: CaId,
    cert_pem: String,
    key: KeyPair,
    not_after: OffsetDateTime,
    sha256: String,
}

fn pki_err(files: &[&Path], what: &str, e: impl std::fmt::Display) -> Error {
    Error::Pki { files: files.iter().map(|p| p.to_path_buf()).collect(), problem: format!("{what}: {e}") }
}

/// Load a CA from the state folder, or create it when neither file exists.
fn load_or_create_ca(st: &store::State, id: CaId, opts: &Options, changes: &mut Vec<Change>) -> Result<Ca> {
    let (crt, key) = (st.pki(&format!("{}.crt", id.file())), st.pki(&format!("{}.key", id.file())));
    match (crt.exists(), key.exists()) {
        (true, true) => {
            let cert_pem = st.read(&crt)?;
            let key_pem = st.read(&key)?;
            let kp = KeyPair::from_pem(&key_pem).map_err(|e| pki_err(&[&key], &format!("{} is not a private key", key.display()), e))?;
            let info = store::parse_cert(&cert_pem).map_err(|e| pki_err(&[&crt], &crt.display().to_string(), e))?;
            if info.public_key_der != kp.public_key_raw() {
                return Err(Error::Pki {
                    files: vec![crt.clone(), key.clone()],
                    problem: format!("{} and {} do not belong together; restore the pair from a backup", crt.display(), key.display()),
                });
            }
            Ok(Ca { id, sha256: store::sha256_hex(cert_pem.as_bytes()), cert_pem, key: kp, not_after: info.not_after })
        }
        (false, false) => {
            let kp = KeyPair::generate().map_err(|e| pki_err(&[], "key generation", e))?;
            let params = ca_params(id, opts.now, opts.ca_days)?;
            let cert = params.self_signed(&kp).map_err(|e| pki_err(&[], "CA certificate", e))?;
            // Key and certificate as one: a kill in between must not leave half a CA.
            st.write_set(&[(key.as_path(), kp.serialize_pem().as_bytes()), (crt.as_path(), cert.pem().as_bytes())])?;
            changes.push(Change {
                id: id.file().into(),
                action: ChangeAction::Created,
                reason: format!("no CA in the state folder; valid {} days", opts.ca_days),
            });
            Ok(Ca { id, sha256: store::sha256_hex(cert.pem().as_bytes()), cert_pem: cert.pem(), key: kp, not_after: params.not_after })
        }
        (c, _) => {
            let (have, missing) = if c { (&crt, &key) } else { (&key, &crt) };
            Err(Error::Pki {
                files: vec![have.clone(), missing.clone()],
                problem: format!(
                    "{} exists but {} does not; refusing to make a new CA over half of an old one\nhelp: restore the missing file from a backup, or move both away to start a new CA (every host then needs the new bundle)",
                    have.display(),
                    missing.display()
                ),
            })
        }
    }
}

/// Make sure the state folder holds everything the plan needs; reuse what still fits.
pub fn ensure(plan: &Plan, opts: &Options) -> Result<Pki> {
    // Create it (0700) first, then work with its absolute path.
    store::State::open(&opts.state)?;
    let state = std::fs::canonicalize(&opts.state).map_err(|source| Error::Read { path: opts.state.clone(), source })?;
    let st = store::State::open(&state)?;
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let cas: Vec<Ca> =
        [CaId::Kubernetes, CaId::Etcd, CaId::KubeletSigning].into_iter().map(|id| load_or_create_ca(&st, id, opts, &mut changes)).collect::<Result<_>>()?;
    let ca = |id: CaId| cas.iter().find(|c| c.id == id).unwrap();
    for c in &cas {
        let left = (c.not_after - opts.now).whole_days();
        if left < 365 {
            warnings.push(format!("CA {} expires in {left} days; plan a CA rotation (bundler does not rotate CAs by itself yet)", c.id.file()));
        }
    }

    let mut items = vec![
        Item { id: "kubernetes-ca.crt".into(), path: st.pki("kubernetes-ca.crt"), mode: 0o644, secret: false },
        Item { id: "etcd-ca.crt".into(), path: st.pki("etcd-ca.crt"), mode: 0o644, secret: false },
        Item { id: "kubelet-signing-ca.crt".into(), path: st.pki("kubelet-signing-ca.crt"), mode: 0o644, secret: false },
        // The only CA key that leaves the state folder: the controller manager signs kubelet CSRs with it.
        Item { id: "kubelet-signing-ca.key".into(), path: st.pki("kubelet-signing-ca.key"), mode: 0o600, secret: true },
    ];
    // The API server trusts client certificates from both the cluster CA and the kubelet signing CA.
    let bundle = format!("{}{}", ca(CaId::Kubernetes).cert_pem, ca(CaId::KubeletSigning).cert_pem);
    st.write_if_changed(&st.pki("client-ca.crt"), bundle.as_bytes())?;
    items.push(Item { id: "client-ca.crt".into(), path: st.pki("client-ca.crt"), mode: 0o644, secret: false });

    for mut spec in leaf_specs(plan, opts.leaf_days) {
        let issuer = ca(spec.ca);
        // A leaf never outlives its CA.
        let max_days = (issuer.not_after - opts.now).whole_days();
        if spec.days > max_days {
            warnings.push(format!("{}: lifetime clamped from {} to {max_days} days so it does not outlive CA {}", spec.id, spec.days, issuer.id.file()));
            spec.days = max_days;
        }
        let crt = st.pki(&format!("{}.crt", spec.id));
        let key = st.pki(&format!("{}.key", spec.id));
        let meta_path = st.pki(&format!("{}.json", spec.id));
        let old_meta: Option<LeafMeta> = st.read(&meta_path).ok().and_then(|t| serde_json::from_str(&t).ok());
        let reason =
            if opts.renew_all { Some("renewal requested".to_string()) } else { why_reissue(&st, &spec, issuer, old_meta.as_ref(), &crt, &key, opts.now) };
        if let Some(reason) = reason {
            let kp = KeyPair::generate().map_err(|e| pki_err(&[], "key generation", e))?;
            let mut p = CertificateParams::default();
            p.distinguished_name = dn(&spec.cn, &spec.orgs);
            p.subject_alt_names = spec
                .dns
                .iter()
                .map(|d| SanType::DnsName(d.clone().try_into().expect("validated DNS name")))
                .chain(spec.ips.iter().map(|i| SanType::IpAddress(*i)))
                .collect();
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![Ku::DigitalSignature, Ku::KeyEncipherment];
            p.extended_key_usages = [(spec.server, Eku::ServerAuth), (spec.client, Eku::ClientAuth)].into_iter().filter(|(b, _)| *b).map(|(_, e)| e).collect();
            p.not_before = opts.now - Duration::hours(1);
            p.not_after = opts.now + Duration::days(spec.days);
            p.serial_number = Some(serial()?);
            p.use_authority_key_identifier_extension = true;
            let iss = Issuer::from_ca_cert_pem(&issuer.cert_pem, &issuer.key).map_err(|e| pki_err(&[], "CA certificate", e))?;
            let cert = p.signed_by(&kp, &iss).map_err(|e| pki_err(&[], &format!("signing {}", spec.id), e))?;
            st.write_set(&[(key.as_path(), kp.serialize_pem().as_bytes()), (crt.as_path(), cert.pem().as_bytes())])?;
            changes.push(Change { id: spec.id.clone(), action: if old_meta.is_some() { ChangeAction::ReIssued } else { ChangeAction::Issued }, reason });
        }
        let meta = LeafMeta {
            spec: spec.clone(),
            ca_sha256: issuer.sha256.clone(),
            packages: plan.pki_carriers(&format!("{}.crt", spec.id)),
            install_path: plan.pki_install_path(&format!("{}.crt", spec.id)).unwrap_or_default(),
        };
        st.write_if_changed(&meta_path, serde_json::to_string_pretty(&meta).unwrap().as_bytes())?;
        items.push(Item { id: format!("{}.crt", spec.id), path: crt, mode: 0o644, secret: false });
        items.push(Item { id: format!("{}.key", spec.id), path: key, mode: 0o600, secret: true });
    }

    // Service-account signing key pair (ES256 tokens).
    let (sa_key, sa_pub) = (st.pki("service-account.key"), st.pki("service-account.pub"));
    if !(sa_key.exists() && sa_pub.exists()) {
        let kp = KeyPair::generate().map_err(|e| pki_err(&[], "key generation", e))?;
        st.write_set(&[(sa_key.as_path(), kp.serialize_pem().as_bytes()), (sa_pub.as_path(), kp.public_key_pem().as_bytes())])?;
        changes.push(Change { id: "service-account".into(), action: ChangeAction::Created, reason: "no service-account key pair in the state folder".into() });
    }
    items.push(Item { id: "service-account.key".into(), path: sa_key, mode: 0o600, secret: true });
    items.push(Item { id: "service-account.pub".into(), path: sa_pub, mode: 0o644, secret: false });

    // Kubelet TLS bootstrapping: a token in the API server's token file, group system:kubelet-bootstrap.
    let token_path = st.pki("bootstrap-token");
    let token = match st.read(&token_path) {
        Ok(t) if t.trim().len() == 32 && t.trim().bytes().all(|b| b.is_ascii_hexdigit()) => t.trim().to_string(),
        _ => {
            let t = hex::encode(random_bytes(16)?);
            st.write_secret(&token_path, format!("{t}\n").as_bytes())?;
            changes.push(Change {
                id: "bootstrap-token".into(),
                action: ChangeAction::Created,
                reason: "no kubelet bootstrap token in the state folder".into(),
            });
            t
        }
    };
    let csv = format!("{token},kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n");
    st.write_if_changed(&st.pki("token-auth.csv"), csv.as_bytes())?;
    items.push(Item { id: "token-auth.csv".into(), path: st.pki("token-auth.csv"), mode: 0o600, secret: true });
    st.write_if_changed(&st.pki("kubelet-bootstrap-rbac.yaml"), kubeconfig::bootstrap_rbac().as_bytes())?;
    items.push(Item { id: "kubelet-bootstrap-rbac.yaml".into(), path: st.pki("kubelet-bootstrap-rbac.yaml"), mode: 0o644, secret: false });

    // Kubeconfigs, rebuilt from the certificates every time (they change only when those do).
    let server = &plan.network.apiserver_endpoint;
    let kca = &ca(CaId::Kubernetes).cert_pem;
    for (name, user, leaf) in [
        ("admin", "admin", "admin"),
        ("kube-controller-manager", "system:kube-controller-manager", "kube-controller-manager"),
        ("kube-scheduler", "system:kube-scheduler", "kube-scheduler"),
        ("kube-proxy", "system:kube-proxy", "kube-proxy"),
    ] {
        let cert = st.read(&st.pki(&format!("{leaf}.crt")))?;
        let key = st.read(&st.pki(&format!("{leaf}.key")))?;
        let text = kubeconfig::with_cert(server, kca, user, &cert, &key);
        let p = st.kubeconfig(name);
        st.write_if_changed(&p, text.as_bytes())?;
        items.push(Item { id: format!("{name}.kubeconfig"), path: p, mode: 0o600, secret: true });
    }
    let p = st.kubeconfig("bootstrap");
    st.write_if_changed(&p, kubeconfig::with_token(server, kca, "kubelet-bootstrap", &token).as_bytes())?;
    items.push(Item { id: "bootstrap.kubeconfig".into(), path: p, mode: 0o600, secret: true });

    // Never ship a root CA key.
    debug_assert!(items.iter().all(|i| !i.id.ends_with("-ca.key") || i.id == "kubelet-signing-ca.key"));
    if !changes.is_empty() {
        let mut h = history(&state);
        h.extend(changes.iter().map(|c| (c.id.clone(), c.clone())));
        write_private(&state.join(HISTORY), serde_json::to_string_pretty(&h).unwrap().as_bytes())?;
    }
    Ok(Pki { state, items, changes, warnings })
}

/// The state folder's record of why each certificate and key was last made, for `bundler certs`.
const HISTORY: &str = "certificate-changes.json";

/// What last happened to each certificate (by id, e.g. `apiserver` or `kubernetes-ca.crt`) and why.
pub fn history(state: &Path) -> BTreeMap<String, Change> {
    std::fs::read_to_string(state.join(HISTORY)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn why_reissue(st: &store::State, spec: &LeafSpec, ca: &Ca, old: Option<&LeafMeta>, crt: &Path, key: &Path, now: OffsetDateTime) -> Option<String> {
    let Some(old) = old else {
        return Some("not issued before".into());
    };
    if !crt.exists() || !key.exists() {
        return Some("certificate or key missing from the state folder".into());
    }
    if old.ca_sha256 != ca.sha256 {
        return Some(format!("CA {} changed", ca.id.file()));
    }
    let o = &old.spec;
    if o.dns != spec.dns || o.ips != spec.ips {
        let mut diff = Vec::new();
        let fmt_ips = |v: &[IpAddr]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        let (old_names, new_names): (BTreeSet<String>, BTreeSet<String>) =
            (o.dns.iter().cloned().chain(fmt_ips(&o.ips)).collect(), spec.dns.iter().cloned().chain(fmt_ips(&spec.ips)).collect());
        for n in new_names.difference(&old_names) {
            diff.push(format!("+{n}"));
        }
        for n in old_names.difference(&new_names) {
            diff.push(format!("-{n}"));
        }
        return Some(format!("names changed ({})", diff.join(", ")));
    }
    if o.cn != spec.cn || o.orgs != spec.orgs || o.server != spec.server || o.client != spec.client {
        return Some("subject or usage changed".into());
    }
    if o.days != spec.days {
        return Some(format!("lifetime changed from {} to {} days", o.days, spec.days));
    }
    let Ok(info) = st.read(crt).map_err(|_| ()).and_then(|p| store::parse_cert(&p).map_err(|_| ())) else {
        return Some("stored certificate cannot be read".into());
    };
    // A key that is not the certificate's (a state folder written by an older bundler that
    // was killed between the two files) is re-issued, not shipped.
    let matches = st.read(key).ok().and_then(|k| KeyPair::from_pem(&k).ok()).is_some_and(|k| k.public_key_raw() == info.public_key_der.as_slice());
    if !matches {
        return Some("the stored key does not belong to the stored certificate".into());
    }
    let left = (info.not_after - now).whole_days();
    let margin = (spec.days / 10).clamp(1, 30);
    if left < margin {
        return Some(format!("expires in {left} days"));
    }
    None
}
