//! k8s-smoke-test's own logic, run as rendered against a stub `kubectl` that answers like a
//! healthy 1.9 cluster, or like one where chosen rows are broken: one PASS/FAIL line per row
//! of the source document's table, the exit code, and the cleanup. A real cluster is needed to
//! see the rows pass for real; this shows the script judges what kubectl says correctly.

use std::path::Path;
use std::process::Command;

use crate::render::{materialise, rendered};
use crate::util::root;

/// Answers the smoke test's kubectl calls. `STUB_FAIL` (comma-separated) breaks rows; every
/// call is logged to `$STUB_DIR/calls`.
const STUB: &str = r#"#!/bin/sh
d="$STUB_DIR"
echo "$*" >> "$d/calls"
broken() { case ",${STUB_FAIL:-}," in *",$1,"*) return 0;; esac; return 1; }
args="$*"
case "$args" in
  "delete namespace bundler-smoke --ignore-not-found") echo deleted >> "$d/deleted"; exit 0;;
  "get namespace bundler-smoke") exit 1;;
  "create namespace bundler-smoke") exit 0;;
  "-n bundler-smoke apply -f "*)
    if [ -e "$d/applied" ]; then
      if broken orchestration; then echo 'deployment "web" configured'; fi
      for o in pod/shared pod/probe deployment/web service/web deployment/roll service/roll deployment/cpu hpa/cpu pod/client serviceaccount/nobody; do echo "${o%/*} \"${o#*/}\" unchanged"; done
    else
      touch "$d/applied"; cp "$5" "$d/workload.yaml"
      for o in pod/shared pod/probe deployment/web service/web deployment/roll service/roll deployment/cpu hpa/cpu pod/client serviceaccount/nobody; do echo "${o%/*} \"${o#*/}\" created"; done
    fi; exit 0;;
  "-n bundler-smoke exec shared -c reader -- cat /data/msg") if broken volumes; then echo 'cat: can'"'"'t open '"'"'/data/msg'"'"': No such file or directory' >&2; exit 1; fi; echo bundler-smoke;;
  "-n bundler-smoke get pod probe -o jsonpath={.status.containerStatuses[0].restartCount}") if broken health; then echo 0; else echo 2; fi;;
  "-n bundler-smoke get deployment web -o jsonpath={.status.readyReplicas}") if [ -e "$d/web-deleted" ] && broken replicas; then echo 1; else echo 2; fi;;
  "-n bundler-smoke get pods -l app=web -o jsonpath={.items[*].metadata.name}") if [ -e "$d/web-deleted" ]; then echo "web-b web-c"; else echo "web-a web-b"; fi;;
  "-n bundler-smoke delete pod web-a") touch "$d/web-deleted";;
  "-n bundler-smoke get service web -o jsonpath={.spec.clusterIP}") echo 10.233.0.50;;
  "-n bundler-smoke get service roll -o jsonpath={.spec.clusterIP}") echo 10.233.0.51;;
  "-n bundler-smoke exec client -- nslookup web.bundler-smoke.svc.cluster.local")
    if broken dns; then echo "nslookup: can't resolve 'web.bundler-smoke.svc.cluster.local'"; exit 1; fi
    printf 'Server:    10.233.0.3\nAddress 1: 10.233.0.3 kube-dns.kube-system.svc.cluster.local\n\nName:      web.bundler-smoke.svc.cluster.local\nAddress 1: 10.233.0.50 web.bundler-smoke.svc.cluster.local\n';;
  "-n bundler-smoke exec client -- sh -c for i in"*"http://10.233.0.50/; done")
    i=0; while [ $i -lt 15 ]; do echo web-b; broken lb && echo web-b || echo web-c; i=$((i+1)); done;;
  "-n bundler-smoke get deployment roll -o jsonpath={.status.readyReplicas}") echo 2;;
  "-n bundler-smoke exec client -- sh -c ok=0; bad=0;"*"http://10.233.0.51/"*) if broken rolling; then echo ok=193 failed=7; else echo ok=200 failed=0; fi;;
  "-n bundler-smoke set image deployment/roll roll="*) echo "${args##*roll=}" > "$d/new-image";;
  "-n bundler-smoke rollout status deployment/roll") echo 'deployment "roll" successfully rolled out';;
  "-n bundler-smoke get pods -l app=roll -o jsonpath={.items[*].spec.containers[0].image}") img=$(cat "$d/new-image"); echo "$img $img";;
  "-n kube-system get secrets --as=system:serviceaccount:bundler-smoke:nobody")
    if broken rbac; then printf 'NAME TYPE DATA AGE\ndefault-token-x kubernetes.io/service-account-token 3 1d\n'; exit 0; fi
    echo 'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:bundler-smoke:nobody" cannot list secrets in the namespace "kube-system"' >&2; exit 1;;
  "-n bundler-smoke get hpa cpu -o jsonpath={.status.currentReplicas}") if broken autoscaling; then echo 1; else echo 3; fi;;
  "-n bundler-smoke get hpa cpu -o jsonpath={.status.currentCPUUtilizationPercentage}") if broken autoscaling; then echo ""; else echo 250; fi;;
  "top nodes")
    if broken top; then echo 'error: metrics not available yet' >&2; exit 1; fi
    printf 'NAME      CPU(cores)   CPU%%      MEMORY(bytes)   MEMORY%%\nmaster    142m         7%%        1102Mi          29%%\n';;
  "-n bundler-smoke top pods") printf 'NAME                   CPU(cores)   MEMORY(bytes)\ncpu-5d8f9-abcde        498m         1Mi\n';;
  "get --raw /api/v1/namespaces/kube-system/services/monitoring-grafana/proxy/api/datasources")
    if broken grafana; then echo 'Error from server (ServiceUnavailable): the server is currently unable to handle the request' >&2; exit 1; fi
    echo '[{"id":1,"orgId":1,"name":"influxdb-datasource","type":"influxdb","access":"proxy","url":"http://monitoring-influxdb:8086"}]';;
  *) echo "stub kubectl: unexpected call: $args" >&2; echo "UNEXPECTED $args" >> "$d/unexpected"; exit 3;;
esac
exit 0
"#;

struct Outcome {
    code: i32,
    stdout: String,
    calls: String,
    deleted: bool,
    unexpected: String,
}

fn smoke(inventory: &Path, fail: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    materialise(&rendered(inventory), &dir.path().join("root"));
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let stub = bin.join("kubectl");
    std::fs::write(&stub, STUB).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let out = Command::new("sh")
        .arg(dir.path().join("root/usr/sbin/k8s-smoke-test"))
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .env("BUNDLER_CLUSTER_ENV", dir.path().join("root/etc/bundler/cluster.env"))
        .env("STUB_DIR", &state)
        .env("STUB_FAIL", fail)
        .env("SMOKE_TRIES", "3")
        .env("SMOKE_PAUSE", "0")
        .output()
        .unwrap();
    let read = |f: &str| std::fs::read_to_string(state.join(f)).unwrap_or_default();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        calls: read("calls"),
        deleted: !read("deleted").is_empty(),
        unexpected: read("unexpected") + &String::from_utf8_lossy(&out.stderr),
    }
}

const ROWS: &[&str] = &[
    "orchestration",
    "volumes",
    "health check",
    "replicas",
    "service discovery",
    "load balancing",
    "rolling update",
    "RBAC",
    "autoscaling",
    "monitoring: kubectl top",
    "monitoring: Grafana",
];

fn row<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout.lines().find(|l| l[6..].starts_with(name)).unwrap_or_else(|| panic!("no line for {name} in\n{stdout}"))
}

#[test]
fn a_healthy_cluster_passes_every_row_of_the_feature_table() {
    let o = smoke(&root().join("examples/hosts.yaml"), "");
    assert_eq!(o.unexpected, "", "{}", o.stdout);
    assert_eq!(o.stdout.lines().count(), ROWS.len(), "one line per row:\n{}", o.stdout);
    for r in ROWS {
        assert!(row(&o.stdout, r).starts_with("PASS  "), "{r}:\n{}", o.stdout);
    }
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.deleted, "the namespace is removed at the end");
    assert!(row(&o.stdout, "load balancing").contains("reached 2 replicas"));
    assert!(row(&o.stdout, "rolling update").contains("ok=200 failed=0"));
    assert!(row(&o.stdout, "monitoring: kubectl top").contains("142m"));
    // Bundled images only, never pulled: every container of the workload says so.
    let plan = crate::render::plan_of(&root().join("examples/hosts.yaml"));
    let busybox = &plan.images.iter().find(|i| i.name == "busybox").unwrap().reference;
    assert!(o.calls.contains(&format!("set image deployment/roll roll={busybox}")), "{}", o.calls);
}

#[test]
fn each_broken_row_fails_alone_with_what_it_saw_and_still_cleans_up() {
    let o = smoke(&root().join("examples/hosts.yaml"), "volumes,health,replicas,dns,lb,rolling,rbac,autoscaling,top,grafana,orchestration");
    assert_eq!(o.unexpected, "");
    assert_eq!(o.code, 1);
    assert!(o.deleted);
    for r in ROWS {
        assert!(row(&o.stdout, r).starts_with("FAIL  "), "{r}:\n{}", o.stdout);
    }
    assert!(row(&o.stdout, "volumes").contains("No such file"), "{}", o.stdout);
    assert!(row(&o.stdout, "load balancing").contains("reached 1 replica(s)"));
    assert!(row(&o.stdout, "rolling update").contains("failed=7"));
    assert!(row(&o.stdout, "RBAC").contains("listed secrets"));
    assert!(row(&o.stdout, "monitoring: kubectl top").contains("metrics not available"));
    assert!(row(&o.stdout, "orchestration").contains("configured"));
    // One broken row: only that line fails, and the exit code says so.
    let o = smoke(&root().join("examples/hosts.yaml"), "rbac");
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout.lines().filter(|l| l.starts_with("FAIL")).count(), 1, "{}", o.stdout);
}

#[test]
fn without_monitoring_the_monitoring_rows_fail_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.yaml");
    let text = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    std::fs::write(&inv, text.replace("dashboard_enabled: true", "dashboard_enabled: true\n        monitoring_enabled: false")).unwrap();
    let files = rendered(&inv);
    assert!(!files.iter().any(|f| f.path == "/etc/kubernetes/addons/monitoring.yaml"));
    let o = smoke(&inv, "");
    assert_eq!(o.code, 1);
    for r in ["autoscaling", "monitoring: kubectl top", "monitoring: Grafana"] {
        assert!(row(&o.stdout, r).starts_with("FAIL") && row(&o.stdout, r).contains("monitoring_enabled is false"), "{}", o.stdout);
    }
    assert!(!o.calls.contains("top nodes"));
}

#[test]
fn monitoring_without_cluster_dns_is_warned_about() {
    let c = crate::util::Case::new();
    let text = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    c.file("hosts.yaml", &text.replace("dashboard_enabled: true", "dashboard_enabled: false\n        dns_mode: none"));
    let r = c.plan("hosts.yaml", &[]);
    r.code(0);
    assert!(
        r.stdout.contains("`monitoring_enabled` with `dns_mode: none`") || r.stderr.contains("`monitoring_enabled` with `dns_mode: none`"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}
