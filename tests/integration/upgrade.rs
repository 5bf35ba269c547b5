//! The rolling-upgrade playbook (ansible/upgrade.yml) run by the real ansible-playbook, without
//! booted hosts: every host is a local connection with its own bundle folder, and yum,
//! systemctl, kubectl, etcd-health and the bundle's install.sh are stand-ins that record what
//! they were asked to do. This proves the order (etcd one by one with a health gate, control
//! plane one by one, nodes drained/upgraded/Ready/uncordoned in batches) and the stop at the
//! first failure. The upgrade of booted hosts belongs to the acceptance test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::etcd;
use crate::render::{materialise, plan_of};
use crate::util::root;

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct Run {
    ok: bool,
    out: String,
    log: Vec<String>,
}

fn run_playbook(dir: &Path, playbook: &Path, stem: &str, fail_node: &str, batch: u32) -> Run {
    let log = dir.join(format!("calls-{fail_node}-{batch}.log"));
    let _ = std::fs::remove_file(&log);
    let bin = dir.join("bin");
    let l = log.display();
    script(&bin.join("yum"), &format!("echo \"yum $*\" >> '{l}'\n"));
    script(&bin.join("systemctl"), &format!("echo \"systemctl $*\" >> '{l}'\n"));
    script(
        &bin.join("kubectl"),
        &format!(
            "echo \"kubectl $*\" >> '{l}'\ncase \"$*\" in\n  *--raw=/healthz*) printf ok ;;\n  *'get node {fail_node} '*) printf False ;;\n  *'get node '*) printf True ;;\nesac\n"
        ),
    );
    script(&dir.join("libexec/etcd-health"), &format!("echo etcd-health >> '{l}'\n"));
    // The bundle: only install.sh, which says which host (its folder) and role it was run for.
    let tree = dir.join("tarball");
    script(
        &tree.join(stem).join("install.sh"),
        &format!("h=$(basename \"$(dirname \"$(dirname \"$0\")\")\")\necho \"install $h $*\" >> '{l}'\necho 'Nothing to do'\n"),
    );
    let tarball = dir.join("bundle.tar");
    assert!(Command::new("tar").arg("-cf").arg(&tarball).arg("-C").arg(&tree).arg(stem).status().unwrap().success());
    let hosts: String = ["e1", "m1", "n1", "n2", "n3"].iter().map(|h| format!("    {h}: {{bundler_dir: {}}}\n", dir.join("hosts").join(h).display())).collect();
    let inv = dir.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "all:\n  hosts:\n{hosts}  vars:\n    ansible_connection: local\n    ansible_become: false\n    ansible_python_interpreter: python3\n  children:\n    etcd: {{hosts: {{e1: , m1: }}}}\n    kube_control_plane: {{hosts: {{m1: }}}}\n    kube_node: {{hosts: {{n1: , n2: , n3: }}}}\n"
        ),
    )
    .unwrap();
    let o = Command::new("ansible-playbook")
        .arg("-i")
        .arg(&inv)
        .arg(playbook)
        .arg("-e")
        .arg(format!(
            "bundle_tarball={} bundler_libexec={} upgrade_retries=2 upgrade_delay=0 upgrade_node_batch={batch}",
            tarball.display(),
            dir.join("libexec").display()
        ))
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_string).collect();
    Run { ok: o.status.success(), out, log }
}

/// The calls that matter for the order, as short words.
fn steps(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["install", h, "--role", r] => Some(format!("install {h} {r}")),
                ["etcd-health"] => Some("etcd-health".into()),
                ["kubectl", .., "get", "--raw=/healthz"] => Some("api-health".into()),
                ["kubectl", _, "drain", n, ..] => Some(format!("drain {n}")),
                ["kubectl", _, "get", "node", n, ..] => Some(format!("ready? {n}")),
                ["kubectl", _, "uncordon", n] => Some(format!("uncordon {n}")),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn upgrade_playbook_goes_in_order_and_stops_at_the_first_failure() {
    etcd::require("ansible-playbook");
    let plan = plan_of(&root().join("examples/hosts.yaml"));
    let files = bundler::render::render(&plan).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    materialise(&files.iter().filter(|f| f.package == "bundle").cloned().collect::<Vec<_>>(), &bundle);
    let playbook = bundle.join("ansible/upgrade.yml");
    let stem = format!("{}-{}-1", plan.bundle_name, plan.versions.kubernetes.trim_start_matches('v'));

    // Ansible's own parser accepts it.
    let o = Command::new("ansible-playbook").arg("--syntax-check").arg("-i").arg(root().join("examples/hosts.yaml")).arg(&playbook).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));

    let r = run_playbook(dir.path(), &playbook, &stem, "none", 2);
    assert!(r.ok, "{}", r.out);
    let want = [
        "install e1 etcd",
        "etcd-health",
        "install m1 etcd",
        "etcd-health",
        "install m1 control-plane",
        "api-health",
        // Nodes two at a time: each step for the batch, then the next batch.
        "drain n1",
        "drain n2",
        "install n1 node",
        "install n2 node",
        "ready? n1",
        "ready? n2",
        "uncordon n1",
        "uncordon n2",
        "drain n3",
        "install n3 node",
        "ready? n3",
        "uncordon n3",
    ];
    let got = steps(&r.log);
    // Within a batch Ansible runs the hosts of one task in parallel: compare each batch as a set per step.
    assert_eq!(got.len(), want.len(), "{got:#?}\n{}", r.out);
    for (i, chunk) in [(0..6), (6..8), (8..10), (10..12), (12..14), (14..18)].into_iter().enumerate() {
        let mut a = got[chunk.clone()].to_vec();
        let mut b: Vec<String> = want[chunk].iter().map(|s| s.to_string()).collect();
        if i > 0 {
            a.sort();
            b.sort();
        }
        assert_eq!(a, b, "{got:#?}");
    }
    assert!(r.log.iter().any(|l| l == "systemctl enable --now etcd-backup.timer"), "{:?}", r.log);
    assert!(r.log.iter().any(|l| l.starts_with("yum --disablerepo=* --enablerepo=k8s clean metadata")), "{:?}", r.log);

    // n1 never becomes Ready: the run stops there, says where, and touches nothing after it.
    let r = run_playbook(dir.path(), &playbook, &stem, "n1", 1);
    assert!(!r.ok, "{}", r.out);
    assert!(r.out.contains("upgrade stopped at node n1, step 'wait until the node is Ready'") && r.out.contains("The node stays cordoned"), "{}", r.out);
    let got = steps(&r.log);
    assert_eq!(got.last().map(String::as_str), Some("ready? n1"), "{got:#?}");
    assert!(!got.iter().any(|s| s.contains("n2") || s.contains("n3") || s == "uncordon n1"), "{got:#?}");
    assert!(got.iter().filter(|s| *s == "ready? n1").count() >= 2, "the Ready check is retried: {got:#?}");
}
