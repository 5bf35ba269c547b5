//! What CentOS 7.4's own tools do with what we ship: every private key a host's shell tool is
//! given must be one that tool's el7 build can read, and (see `lint`) every option a helper
//! script passes to a host tool exists in that tool's el7 version.

use std::collections::BTreeMap;
use std::path::Path;

use crate::render::{plan_of, rendered};
use crate::util::root;

/// What kind of private key a PEM file holds, as the readers below see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    Ec,
    Other,
}

/// rsaEncryption (1.2.840.113549.1.1.1) and id-ecPublicKey (1.2.840.10045.2.1), DER-encoded.
const OID_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn key_kind(pem: &str) -> KeyKind {
    use base64::Engine;
    let label = pem.lines().find_map(|l| l.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----"))).unwrap_or("");
    match label {
        "RSA PRIVATE KEY" => KeyKind::Rsa,
        "EC PRIVATE KEY" => KeyKind::Ec,
        "PRIVATE KEY" => {
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap_or_default();
            // PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE { OID algorithm, ... }, ... }: the first OID names it.
            let head = &der[..der.len().min(32)];
            if head.windows(OID_RSA.len()).any(|w| w == OID_RSA) {
                KeyKind::Rsa
            } else if head.windows(OID_EC.len()).any(|w| w == OID_EC) {
                KeyKind::Ec
            } else {
                KeyKind::Other
            }
        }
        _ => KeyKind::Other,
    }
}

/// A host tool, the options by which it is given a private key, and the key kinds its el7
/// build reads.
struct KeyReader {
    tool: &'static str,
    options: &'static [&'static str],
    reads: &'static [KeyKind],
    why: &'static str,
}

const READERS: &[KeyReader] = &[
    // curl 7.29.0-42.el7 is built on NSS; PEM files go through nss-pem 1.0.3, which loads
    // private keys only when they are RSA (kdudka/nss-pem tag nss-pem-1.0.3, src/pobject.c
    // "for now only support RSA"; src/prsa.c refuses a non-RSA PKCS#8 key). `--cert FILE`
    // (-E) may carry the key too.
    KeyReader {
        tool: "curl",
        options: &["--key", "--cert", "-E"],
        reads: &[KeyKind::Rsa],
        why: "CentOS 7's curl (NSS, nss-pem 1.0.3) reads only RSA private keys",
    },
    // Go's crypto/tls (tls.X509KeyPair) reads PKCS#1 RSA, PKCS#8 RSA/ECDSA and SEC1 EC keys.
    KeyReader { tool: "etcdctl", options: &["--key-file", "--key"], reads: &[KeyKind::Rsa, KeyKind::Ec], why: "Go TLS" },
    KeyReader { tool: "kubectl", options: &["--client-key"], reads: &[KeyKind::Rsa, KeyKind::Ec], why: "Go TLS" },
    KeyReader { tool: "flanneld", options: &["--etcd-keyfile"], reads: &[KeyKind::Rsa, KeyKind::Ec], why: "Go TLS" },
    // openssl 1.0.2k reads RSA and EC keys in every PEM form.
    KeyReader { tool: "openssl", options: &["-key", "-inkey"], reads: &[KeyKind::Rsa, KeyKind::Ec], why: "OpenSSL 1.0.2k" },
];

/// `NAME=value` assignments of a script; `${X:-default}` values resolve to their default.
fn assignments(script: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for l in script.lines() {
        let l = l.trim();
        let Some((name, value)) = l.split_once('=') else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let value = value.split_whitespace().next().unwrap_or("").trim_matches(['"', '\'']);
        vars.insert(name.to_string(), default_of(value));
    }
    vars
}

fn default_of(value: &str) -> String {
    match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')).and_then(|v| v.split_once(":-")) {
        Some((_, d)) => d.to_string(),
        None => value.to_string(),
    }
}

/// A word with its quotes removed and every `$NAME`, `${NAME}` and `${NAME:-default}` in it
/// replaced from the script's assignments, as the shell expands them: anywhere in the word
/// (`"$ROOT/etc/x.key"`), and again inside the values and defaults they give
/// (`KEY="${ETCD_KEY:-$ROOT/etc/etcd/pki/member/server.key}"` with `ROOT="${BUNDLER_ROOT:-}"`).
/// A name the script does not assign is empty (an unset variable); `$1`, `$(`... stay as written.
fn resolve(word: &str, vars: &BTreeMap<String, String>) -> String {
    expand(&word.replace(['"', '\''], ""), vars, 0)
}

fn expand(w: &str, vars: &BTreeMap<String, String>, depth: usize) -> String {
    let value = |name: &str, default: &str| -> String {
        let v = vars.get(name).map(String::as_str).unwrap_or("");
        let v = if v.is_empty() { default } else { v };
        // A value that names itself (X=$X/y) stops here rather than looping.
        if depth < 8 {
            expand(v, vars, depth + 1)
        } else {
            v.to_string()
        }
    };
    let cs: Vec<char> = w.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] == '$' && cs.get(i + 1) == Some(&'{') {
            // `${...}`, to its matching brace.
            let mut d = 0;
            let mut j = i + 1;
            while j < cs.len() {
                match cs[j] {
                    '{' => d += 1,
                    '}' => {
                        d -= 1;
                        if d == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let inner: String = cs[i + 2..j.min(cs.len())].iter().collect();
            let (name, default) = inner.split_once(":-").unwrap_or((&inner, ""));
            out += &value(name, default);
            i = j + 1;
        } else if cs[i] == '$' && cs.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') {
            let mut j = i + 1;
            while j < cs.len() && (cs[j].is_ascii_alphanumeric() || cs[j] == '_') {
                j += 1;
            }
            let name: String = cs[i + 1..j].iter().collect();
            out += &value(&name, "");
            i = j;
        } else {
            out.push(cs[i]);
            i += 1;
        }
    }
    out
}

/// The words of a line, shell punctuation turned into spaces (good enough for our scripts).
fn words(line: &str) -> Vec<String> {
    let l: String = line.chars().map(|c| if "();|&`".contains(c) { ' ' } else { c }).collect();
    l.split_whitespace().filter(|w| *w != "{" && *w != "}").map(str::to_string).collect()
}

/// Every (script, tool, option, key path) where a script hands a key file to a tool, and every
/// line that mentions a key file without a tool this check knows.
/// (where, tool, option, key path)
type KeyUse = (String, &'static KeyReader, String, String);

fn key_uses(name: &str, script: &str) -> (Vec<KeyUse>, Vec<String>) {
    let vars = assignments(script);
    let mut uses = Vec::new();
    let mut unknown = Vec::new();
    for (n, line) in script.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        let ws: Vec<String> = words(line).iter().map(|w| resolve(w, &vars)).collect();
        let mut tool: Option<&'static KeyReader> = None;
        let mut found_tool = false;
        for (i, w) in ws.iter().enumerate() {
            let base = w.rsplit('/').next().unwrap_or(w);
            if let Some(r) = READERS.iter().find(|r| r.tool == base) {
                tool = Some(r);
                found_tool = true;
                continue;
            }
            let Some(r) = tool else { continue };
            let (opt, inline) = match w.split_once('=') {
                Some((o, v)) if o.starts_with('-') => (o.to_string(), Some(v.to_string())),
                _ => (w.clone(), None),
            };
            if r.options.contains(&opt.as_str()) {
                let path = inline.or_else(|| ws.get(i + 1).cloned()).unwrap_or_default();
                uses.push((format!("{name}:{}", n + 1), r, opt, path));
            }
        }
        // A key file named on a line that is not an assignment and runs no known tool.
        let is_assignment = t.split_once('=').is_some_and(|(a, _)| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !found_tool && !is_assignment && ws.iter().any(|w| w.ends_with(".key")) {
            unknown.push(format!("{name}:{}: {line}", n + 1));
        }
    }
    (uses, unknown)
}

/// Check every shell file against the keys the packages install; returns the problems.
fn check_keys(scripts: &[(String, String)], keys: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in scripts {
        let (uses, unknown) = key_uses(name, text);
        problems.extend(unknown.into_iter().map(|u| format!("{u}: a key file is used by a tool this check does not know; add it to READERS")));
        for (at, r, opt, path) in uses {
            if opt == "--cert" || opt == "-E" {
                // A certificate file: only a problem if it also carries a key (ours never do).
                if let Some(pem) = keys.get(&path) {
                    if !r.reads.contains(&key_kind(pem)) {
                        problems.push(format!("{at}: {} {opt} {path}: {} ({:?} key)", r.tool, r.why, key_kind(pem)));
                    }
                }
                continue;
            }
            match keys.get(&path) {
                None => problems.push(format!("{at}: {} {opt} {path}: not a key any package installs", r.tool)),
                Some(pem) => {
                    let k = key_kind(pem);
                    if !r.reads.contains(&k) {
                        problems.push(format!("{at}: {} {opt} {path}: {} and this is a {k:?} key", r.tool, r.why));
                    }
                }
            }
        }
    }
    problems
}

/// The shell scripts the packages install (helpers, tools, the installer).
fn shell_files(files: &[bundler::render::File]) -> Vec<(String, String)> {
    files.iter().filter(|f| f.content.starts_with("#!/bin/sh") || f.content.starts_with("#!/bin/bash")).map(|f| (f.path.clone(), f.content.clone())).collect()
}

/// Every private key the packages install, by install path.
fn installed_keys(plan: &bundler::plan::Plan, state: &Path) -> BTreeMap<String, String> {
    let pki = bundler::pki::ensure(plan, &bundler::pki_options(plan, state, false)).expect("pki");
    pki.items
        .iter()
        .filter_map(|i| plan.pki_install_path(&i.id).map(|dst| (dst, i)))
        .filter(|(dst, _)| dst.ends_with(".key"))
        .map(|(dst, i)| (dst, std::fs::read_to_string(&i.path).unwrap()))
        .collect()
}

#[test]
fn every_key_a_host_shell_tool_is_given_is_one_its_el7_build_reads() {
    let inv = root().join("examples/hosts.yaml");
    let plan = plan_of(&inv);
    let files = rendered(&inv);
    let state = tempfile::tempdir().unwrap();
    let keys = installed_keys(&plan, state.path());
    assert!(keys.len() > 5, "{keys:?}");
    assert_eq!(key_kind(&keys["/etc/flannel/pki/etcd-client.key"]), KeyKind::Ec, "the flannel etcd client key");
    let scripts = shell_files(&files);
    assert!(scripts.iter().any(|(p, _)| p.ends_with("/flannel-network-config")) && scripts.iter().any(|(p, _)| p.ends_with("/k8s-status")));
    let problems = check_keys(&scripts, &keys);
    assert!(problems.is_empty(), "keys the host tools cannot read:\n{}", problems.join("\n"));
    // The tools that are given keys are found at all.
    let found: usize = scripts.iter().map(|(n, t)| key_uses(n, t).0.len()).sum();
    assert!(found >= 2, "no key uses found: the check sees nothing");

    // The check fails on what shipped before: curl given the ECDSA client key.
    let old = "#!/bin/sh\nKEYFILE=\"${ETCD_KEY:-/etc/flannel/pki/etcd-client.key}\"\nreq() {\n  curl -sS --max-time 10 --cacert \"$CA\" --cert \"$CERT\" --key \"$KEYFILE\" -X \"$m\" \"$u\" \"$@\"\n}\n";
    let p = check_keys(&[("old".into(), old.into())], &keys);
    assert!(p.len() == 1 && p[0].contains("old:4: curl --key /etc/flannel/pki/etcd-client.key") && p[0].contains("Ec key"), "{p:?}");
    // Also when the path comes through a `$ROOT` prefix and a `--key=VALUE` word, as the etcd
    // backup scripts write it; etcdctl (Go TLS) reads that same EC key.
    let rooted = "#!/bin/sh\nROOT=\"${BUNDLER_ROOT:-}\"\nKEY=\"${ETCD_KEY:-$ROOT/etc/flannel/pki/etcd-client.key}\"\ncurl -sS --key=\"$KEY\" https://x\nETCDCTL_API=3 etcdctl --key=\"$KEY\" endpoint health\n";
    let p = check_keys(&[("rooted".into(), rooted.into())], &keys);
    assert!(p.len() == 1 && p[0].contains("rooted:4: curl --key /etc/flannel/pki/etcd-client.key") && p[0].contains("Ec key"), "{p:?}");
    // And on a key handed to a tool it does not know.
    let p = check_keys(&[("odd".into(), "#!/bin/sh\nwget --private-key=/etc/flannel/pki/etcd-client.key https://x\n".into())], &keys);
    assert!(p.len() == 1 && p[0].contains("does not know"), "{p:?}");
}

#[test]
fn the_key_reader_models_match_what_openssl_says_the_keys_are() {
    crate::etcd::require("openssl");
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"][..], KeyKind::Rsa),
        (&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..], KeyKind::Ec),
    ] {
        let out = dir.path().join("k.pem");
        let o = std::process::Command::new("openssl").args(args).arg("-out").arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(key_kind(&std::fs::read_to_string(&out).unwrap()), want);
        // The traditional forms too.
        let alg = if want == KeyKind::Rsa { "rsa" } else { "ec" };
        let trad = dir.path().join("t.pem");
        let mut c = std::process::Command::new("openssl");
        c.arg(alg).arg("-in").arg(&out).arg("-out").arg(&trad);
        if alg == "rsa" {
            c.arg("-traditional");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(key_kind(&std::fs::read_to_string(&trad).unwrap()), want);
    }
}

/// Run the rendered k8s-preflight with stand-ins for CentOS 7.4's `ss` (iproute 3.10: no -H) and
/// `xfs_info` (an XFS made with ftype=0), on a machine where `port` listens.
fn preflight_as_el7(args: &[&str], docker_root: &Path) -> (i32, String, String) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let files = rendered(&root().join("examples/hosts.yaml"));
    crate::render::materialise(&files, dir.path());
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("xfs_info.log");
    // iproute 3.10's ss: getopt_long with "dhaletuwxnro460spbf:miA:D:F:vV" (misc/ss.c at v3.10.0);
    // an unknown option prints usage and exits 255.
    let ss = "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --*) ;; -*H*) echo \"ss: invalid option -- 'H'\" >&2; echo 'Usage: ss [ OPTIONS ]' >&2; exit 255 ;; esac; done\necho 'State      Recv-Q Send-Q        Local Address:Port          Peer Address:Port'\n";
    let xfs = format!("#!/bin/sh\necho \"$@\" >> {}\necho 'naming   =version 2              bsize=4096   ascii-ci=0 ftype=0'\n", log.display());
    for (n, body) in [("ss", ss.to_string()), ("xfs_info", xfs)] {
        std::fs::write(bin.join(n), body).unwrap();
        std::fs::set_permissions(bin.join(n), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = std::process::Command::new("sh")
        .arg(dir.path().join("usr/sbin/k8s-preflight"))
        .args(args)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .env("DOCKER_ROOT", docker_root)
        .output()
        .unwrap();
    let called = std::fs::read_to_string(&log).unwrap_or_default();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), called)
}

#[test]
fn preflight_sees_a_used_port_and_an_ftype0_xfs_on_a_fresh_centos_7_4_host() {
    // Something else listens on the scheduler's port (any address works: /proc/net/tcp lists it).
    let held = std::net::TcpListener::bind("127.0.0.1:10251");
    let scratch = tempfile::tempdir().unwrap();
    // A fresh host: no /var/lib/docker yet.
    let docker_root = scratch.path().join("var/lib/docker");
    let (code, out, called) = preflight_as_el7(&["--fatal-only", "control-plane", "node"], &docker_root);
    if held.is_ok() {
        assert!(out.lines().any(|l| l.starts_with("FATAL") && l.contains("port 10251") && l.contains("in use")), "{out}");
    }
    assert!(
        out.lines().any(|l| l.starts_with("FATAL") && l.contains("overlay2 ftype") && l.contains("ftype=0")),
        "the ftype check must run with --fatal-only:\n{out}"
    );
    assert_eq!(code, 1, "{out}");
    // xfs_info was asked about the mount point that holds the nearest existing parent.
    let mnt = String::from_utf8_lossy(&std::process::Command::new("df").arg("-P").arg(scratch.path()).output().unwrap().stdout)
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(called.trim(), mnt, "xfs_info arguments");
    drop(held);
    // A free port reads free, and a host that is not a node gets no ftype check.
    let (_, out, called) = preflight_as_el7(&["--fatal-only", "etcd"], &docker_root);
    assert!(!out.contains("overlay2") && called.is_empty(), "{out}");
}

fn file_of<'a>(files: &'a [bundler::render::File], path: &str) -> &'a bundler::render::File {
    files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is not rendered"))
}

fn args_of(env: &str, var: &str) -> Vec<String> {
    let l = env.lines().find(|l| l.starts_with(&format!("{var}="))).unwrap_or_else(|| panic!("{var}"));
    l.split_once('=').unwrap().1.trim_matches('"').split_whitespace().map(str::to_string).collect()
}

/// The audit policy fields kube-apiserver 1.9 reads: audit.k8s.io/v1beta1 as of 1.9
/// (k8s.io/apiserver pkg/apis/audit/v1beta1/types.go; read in the cosmoskitten/kubernetes
/// mirror of kubernetes/kubernetes, staging/src/k8s.io/apiserver/..., commit 26c2c8fe7e14):
/// Policy {metadata, rules}; PolicyRule {level, users, userGroups, verbs, resources, namespaces,
/// nonResourceURLs, omitStages}; GroupResources {group, resources, resourceNames}. Policy-level
/// `omitStages` came later (1.10).
const POLICY_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "rules"];
const RULE_KEYS: &[&str] = &["level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages"];
const GROUP_RESOURCE_KEYS: &[&str] = &["group", "resources", "resourceNames"];
const LEVELS: &[&str] = &["None", "Metadata", "Request", "RequestResponse"];
const STAGES: &[&str] = &["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];

#[test]
fn the_apiserver_records_audit_events_by_a_1_9_policy() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let api = args_of(&file_of(&files, "/etc/kubernetes/apiserver.env").content, "KUBE_APISERVER_ARGS");
    assert!(api.iter().any(|a| a.starts_with("--audit-log-path=")));
    // Without a policy file 1.9 logs "no events will be recorded".
    let path = api.iter().find_map(|a| a.strip_prefix("--audit-policy-file=")).expect("--audit-log-path without --audit-policy-file records nothing in 1.9");
    let f = file_of(&files, path);
    assert_eq!(f.package, "k8s-master");
    let v: serde_json::Value = bundler::yaml::from_str(&f.content, Path::new(path)).expect("the policy is YAML");
    assert_eq!(v["apiVersion"], "audit.k8s.io/v1beta1");
    assert_eq!(v["kind"], "Policy");
    for k in v.as_object().unwrap().keys() {
        assert!(POLICY_KEYS.contains(&k.as_str()), "Policy.{k} is not a 1.9 field");
    }
    let rules = v["rules"].as_array().unwrap();
    assert!(rules.len() >= 3);
    for r in rules {
        for (k, val) in r.as_object().unwrap() {
            assert!(RULE_KEYS.contains(&k.as_str()), "PolicyRule.{k} is not a 1.9 field");
            if k == "resources" {
                for g in val.as_array().unwrap() {
                    for gk in g.as_object().unwrap().keys() {
                        assert!(GROUP_RESOURCE_KEYS.contains(&gk.as_str()), "GroupResources.{gk}");
                    }
                }
            }
            if k == "omitStages" {
                for s in val.as_array().unwrap() {
                    assert!(STAGES.contains(&s.as_str().unwrap()), "stage {s}");
                }
            }
        }
        assert!(LEVELS.contains(&r["level"].as_str().unwrap()), "level {}", r["level"]);
    }
    // The last rule catches everything and records it: the default level is None.
    let last = rules.last().unwrap().as_object().unwrap();
    assert!(last.keys().all(|k| k == "level" || k == "omitStages") && last["level"] != "None", "{last:?}");
    // Secrets never at Request level or above (their bodies would land in the log).
    let secrets_rule = rules
        .iter()
        .find(|r| r["resources"].as_array().is_some_and(|g| g.iter().any(|g| g["resources"].as_array().is_some_and(|rs| rs.iter().any(|x| x == "secrets")))))
        .unwrap();
    assert_eq!(secrets_rule["level"], "Metadata");
}

#[test]
fn kubelet_has_no_unauthenticated_port_and_stats_stay_on_10250() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let kubelet = args_of(&file_of(&files, "/etc/kubernetes/kubelet.env").content, "KUBELET_ARGS");
    let has = |a: &str| kubelet.iter().any(|x| x == a);
    // 1.9 defaults: --read-only-port=10255 and --cadvisor-port=4194, both without authentication.
    assert!(has("--read-only-port=0"), "{kubelet:?}");
    assert!(has("--cadvisor-port=0"), "{kubelet:?}");
    // 10250 stays, authenticated (client certificates, bearer tokens by webhook) and authorized.
    assert!(has("--anonymous-auth=false") && has("--authentication-token-webhook=true") && has("--authorization-mode=Webhook"));
    assert!(kubelet.iter().any(|a| a.starts_with("--client-ca-file=")) && !kubelet.iter().any(|a| a.starts_with("--port=")));
    // The preflight no longer wants 10255 free, since nothing listens there.
    assert!(!file_of(&files, "/usr/sbin/k8s-preflight").content.contains("10255"));
}

#[test]
fn a_pod_reaches_itself_through_its_service_and_no_unused_cni_plugins_ship() {
    let inv = root().join("examples/hosts.yaml");
    let files = rendered(&inv);
    let kubelet = args_of(&file_of(&files, "/etc/kubernetes/kubelet.env").content, "KUBELET_ARGS");
    // The kubelet's default (no-op) network plugin and Docker's bridge: hairpin needs Docker's
    // userland proxy off: libnetwork's bridge driver then sets hairpin mode on each container's
    // bridge port (drivers/bridge/bridge.go, CreateEndpoint: `if !config.EnableUserlandProxy {
    // setHairpinMode(..., true) }`, as vendored in Docker 17.12).
    assert!(!kubelet.iter().any(|a| a.starts_with("--network-plugin")), "{kubelet:?}");
    let daemon: serde_json::Value = serde_json::from_str(&file_of(&files, "/etc/docker/daemon.json").content).unwrap();
    assert_eq!(daemon["userland-proxy"], serde_json::json!(false));
    // No CNI plugins are carried when nothing uses them.
    let plan = plan_of(&inv);
    assert!(!plan.artifacts.iter().any(|a| a.name == "cni-plugins"), "the plan still downloads the CNI plugins");
    assert!(!plan.packages.iter().any(|p| p.files.iter().any(|f| f == "bridge" || f == "host-local")));
}

#[test]
fn kubelet_and_docker_have_the_cgroups_kubelet_reads_stats_from() {
    let files = rendered(&root().join("examples/hosts.yaml"));
    let kubelet = args_of(&file_of(&files, "/etc/kubernetes/kubelet.env").content, "KUBELET_ARGS");
    let flags = kubelet.iter().any(|a| a.starts_with("--kubelet-cgroups=")) && kubelet.iter().any(|a| a.starts_with("--runtime-cgroups="));
    for unit in ["/usr/lib/systemd/system/kubelet.service", "/usr/lib/systemd/system/docker.service"] {
        let u = &file_of(&files, unit).content;
        let accounting = u.lines().any(|l| l == "CPUAccounting=yes") && u.lines().any(|l| l == "MemoryAccounting=yes");
        assert!(accounting || flags, "{unit}: systemd 219 makes no cpu/memory cgroup for it, and kubelet logs \"Failed to get system container stats\"");
    }
}
