//! What the user sees when a command fails: `error:` and each cause once on stderr, the
//! exit code of the CLI contract, the facts as fields in `--json`, and a machine with no
//! network recognised and told, once, what to do.

use std::process::Command;

use crate::fixtures;
use crate::util::{bundler, root, run, Run};

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn a_missing_internal_file_is_a_failure_and_its_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    // A state folder without its pki/ folder: bundler's own file is missing, not the user's input.
    let r = run(bundler().args(["certs", "--state"]).arg(dir.path()));
    r.code(1);
    let want = format!("error: cannot read {}\n  caused by: No such file or directory (os error 2)\n", dir.path().join("pki").display());
    assert_eq!(r.stderr, want);
    // --json: the facts as fields.
    let r = run(bundler().args(["--json", "certs", "--state"]).arg(dir.path()));
    r.code(1);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["message"], format!("cannot read {}", dir.path().join("pki").display()));
    assert_eq!(d["notes"], serde_json::json!(["No such file or directory (os error 2)"]));
    assert_eq!(d["fields"]["kind"], "read");
    assert_eq!(d["fields"]["io_error"], "NotFound");
    assert_eq!(d["fields"]["path"], dir.path().join("pki").to_str().unwrap());
}

#[test]
fn a_missing_input_file_is_bad_usage_and_its_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(bundler().current_dir(dir.path()).args(["plan", "--inventory", "nope.yaml"]));
    r.code(2);
    assert_eq!(r.stderr, "error: cannot read nope.yaml\n  caused by: No such file or directory (os error 2)\n");
    let r = run(bundler().current_dir(dir.path()).args(["verify", "nope.tar"]));
    r.code(2);
    assert_eq!(r.stderr, "error: cannot read nope.tar\n  caused by: No such file or directory (os error 2)\n");
}

/// A catalog whose every URL is a loopback port nothing listens on.
fn refused_catalog(dir: &std::path::Path) -> std::path::PathBuf {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fx = fixtures::artifacts(1);
    let p = dir.join("catalog.yaml");
    std::fs::write(&p, fixtures::catalog(&fx, &format!("http://127.0.0.1:{port}/up"))).unwrap();
    p
}

fn fetch_cmd(dir: &std::path::Path, catalog: &std::path::Path) -> Command {
    let mut c = bundler();
    c.env("BUNDLER_RETRY_BASE_MS", "50")
        .args(["fetch", "--inventory"])
        .arg(root().join("examples/hosts.yaml"))
        .arg("--catalog")
        .arg(catalog)
        .arg("--cache")
        .arg(dir.join("cache"));
    c
}

fn assert_no_network_paragraph(r: &Run) {
    r.code(1);
    assert_eq!(count(&r.stderr, "no network:"), 1, "{}", r.stderr);
    r.has("--export DIR").has("--offline --mirror file://DIR").has("--mirror URL");
    // No retries of an unreachable source, and no per-URL list after the paragraph.
    assert!(!r.stderr.contains("attempt 2"), "{}", r.stderr);
    assert!(!r.stderr.contains("giving up on this URL"), "{}", r.stderr);
}

#[test]
fn connection_refused_on_every_source_is_recognised_as_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = refused_catalog(dir.path());
    let r = run(fetch_cmd(dir.path(), &catalog).arg("--quiet"));
    assert_no_network_paragraph(&r);
    // One paragraph: the message and nothing else.
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: no network: 4 artifact(s) are not in the cache"), "{}", r.stderr);
    // --json: every artifact, every attempt, the hosts.
    let r = run(fetch_cmd(dir.path(), &catalog).arg("--json"));
    r.code(1);
    let doc = r.json();
    let f = &doc["diagnostics"][0]["fields"];
    assert_eq!(f["kind"], "no-network");
    assert_eq!(f["hosts"], serde_json::json!(["127.0.0.1"]));
    let arts = f["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 4);
    for a in arts {
        assert!(a["expected_digest"].as_str().unwrap().starts_with("sha256:"), "{a}");
        let att = a["attempts"].as_array().unwrap();
        assert_eq!(att.len(), 1, "one attempt, not five: {a}");
        assert_eq!(att[0]["unreachable"], true);
        assert!(att[0]["url"].as_str().unwrap().ends_with(a["file_name"].as_str().unwrap()));
    }
    // `build` reports the stage too, and writes nothing.
    let r = run(bundler()
        .current_dir(dir.path())
        .args(["--json", "build", "--inventory"])
        .arg(root().join("examples/hosts.yaml"))
        .arg("--catalog")
        .arg(&catalog)
        .args(["--cache", "cache", "--state", "state", "--output", "out"]));
    r.code(1);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["message"], "stage fetch failed");
    assert_eq!(d["fields"]["stage"], "fetch");
    assert_eq!(d["fields"]["kind"], "no-network");
    assert_eq!(d["fields"]["artifacts"].as_array().unwrap().len(), 4);
    assert!(d["notes"][0].as_str().unwrap().starts_with("no network: "), "{d}");
    assert!(!dir.path().join("out").exists());
    // A source that answers (here with 404) is not "no network": the usual per-artifact list.
    let server = crate::httpd::Server::start();
    let fx = fixtures::artifacts(1);
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, fixtures::catalog(&fx, &format!("{}/missing", server.base))).unwrap();
    let r = run(fetch_cmd(dir.path(), &other).arg("--quiet"));
    r.code(1).has("error: 4 artifact(s) could not be fetched").has("(attempt 1): HTTP 404");
    assert!(!r.stderr.contains("no network"), "{}", r.stderr);
}

/// A network namespace of our own with no interface up: the default catalog's real upstream
/// names do not resolve, as on an air-gapped machine (nothing leaves the namespace).
fn isolated(cmd: Command) -> Command {
    crate::util::require("unshare");
    let mut c = Command::new("unshare");
    c.args(["--user", "--map-root-user", "--net", "--"]).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
}

#[test]
fn with_no_network_build_and_fetch_say_once_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut fetch = bundler();
    fetch.args(["fetch", "--inventory"]).arg(root().join("examples/hosts.yaml")).arg("--cache").arg(dir.path().join("cache"));
    let r = run(&mut isolated(fetch));
    assert_no_network_paragraph(&r);
    r.has("no name resolution or connection to ").has("dl.k8s.io");
    // The plain progress lines (one per artifact) and the paragraph: far from the ~30 lines of
    // five retries per URL.
    assert!(r.stderr.lines().count() <= 8, "{}", r.stderr);

    let mut build = bundler();
    build
        .current_dir(dir.path())
        .args(["build", "--quiet", "--inventory"])
        .arg(root().join("examples/hosts.yaml"))
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--output")
        .arg(dir.path().join("out"));
    let r = run(&mut isolated(build));
    assert_no_network_paragraph(&r);
    assert!(r.stderr.starts_with("error: stage fetch failed\n  caused by: no network: "), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
    assert!(!dir.path().join("out").exists(), "nothing written to the output folder");
}
