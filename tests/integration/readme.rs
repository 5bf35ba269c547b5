//! The README's promises, tested: every command in its code blocks is run against fixture
//! artifacts (a harness of our own: it reads the README as it is, so a new command is run
//! without editing this file), plus one test per claim the README makes about the command
//! line (one JSON document, --quiet, verify of several bundles, the air-gapped workflow,
//! releases that depend on content only, the state folder and git, `bundler cache`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::etcd::require;
use crate::fixtures;
use crate::httpd::Server;
use crate::packages::{sh, Build};
use crate::util::{bundler, root, run, Run};

/// A fenced (```) or indented (4 spaces) code block of a Markdown file.
struct Block {
    /// Line number of the block's first line (1-based).
    line: usize,
    lang: String,
    lines: Vec<(usize, String)>,
    /// The heading the block is under.
    section: String,
}

fn code_blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut fenced: Option<Block> = None;
    let mut indented: Option<Block> = None;
    let mut section = String::new();
    let mut prev_blank = true;
    for (i, l) in md.lines().enumerate() {
        let n = i + 1;
        if let Some(b) = fenced.as_mut() {
            if l.trim_start().starts_with("```") {
                out.push(fenced.take().unwrap());
            } else {
                b.lines.push((n, l.to_string()));
            }
            continue;
        }
        if let Some(rest) = l.trim_start().strip_prefix("```") {
            fenced = Some(Block { line: n, lang: rest.trim().to_string(), lines: Vec::new(), section: section.clone() });
            continue;
        }
        let is_code = l.starts_with("    ") && !l.trim().is_empty();
        match (&mut indented, is_code) {
            (Some(b), true) => b.lines.push((n, l[4..].to_string())),
            (None, true) if prev_blank => {
                indented = Some(Block { line: n, lang: String::new(), lines: vec![(n, l[4..].to_string())], section: section.clone() })
            }
            (Some(_), false) if l.trim().is_empty() => {}
            (Some(_), false) => out.push(indented.take().unwrap()),
            _ => {}
        }
        if let Some(h) = l.strip_prefix('#') {
            section = h.trim_start_matches('#').trim().to_string();
        }
        prev_blank = l.trim().is_empty();
    }
    out.extend(indented);
    out
}

/// A synopsis line (`bundler [--json] ... FILE`) rather than a command to run.
fn is_synopsis(block: &Block) -> bool {
    block.lines.first().is_some_and(|(_, l)| l.starts_with("bundler [") || l.starts_with("bundler <"))
}

/// Why a command of the README is not run here (it needs a real host, or is the test suite
/// or a benchmark itself), or None to run it.
fn not_run(cmd: &str) -> Option<&'static str> {
    let first = cmd.split_whitespace().next().unwrap_or_default();
    const HOST: &[&str] = &["ssh", "scp", "yum", "rpm", "systemctl", "k8s-status", "k8s-smoke-test", "k8s-preflight", "ansible-playbook", "journalctl", "sh"];
    if HOST.contains(&first) {
        return Some("a step on a cluster host; bundle::end_to_end_install_sh_verify_and_tampering and dnf:: install the bundle into a root instead");
    }
    if first == "scripts/test.sh" || cmd.starts_with("cargo bench") || cmd.starts_with("cargo test") {
        return Some("the test suite or a benchmark itself");
    }
    if first.starts_with("scripts/") {
        return Some("a project script (benchmarks and packaging print figures or build bundler itself)");
    }
    None
}

/// The fixture world the README's commands run in: a git checkout with the repository's
/// .gitignore and examples, the inventory paths the README names, fixture artifacts and
/// images on a loopback server, and a catalog pointing there.
struct World {
    tmp: tempfile::TempDir,
    _server: Server,
    catalog: PathBuf,
    bin_dir: PathBuf,
}

impl World {
    fn new() -> World {
        require("git");
        let tmp = tempfile::tempdir().unwrap();
        let server = Server::start();
        let fx = fixtures::artifacts(1);
        for f in &fx {
            server.put(&format!("/up/{}", f.file_name), f.bytes.clone());
        }
        let images = fixtures::images();
        fixtures::serve_images(&server, &images);
        let catalog = tmp.path().join("fixture-catalog.yaml");
        std::fs::write(
            &catalog,
            fixtures::catalog(&fx, &format!("{}/up", server.base)) + &fixtures::image_catalog(&images, server.base.trim_start_matches("http://")),
        )
        .unwrap();
        let co = tmp.path().join("checkout");
        std::fs::create_dir_all(co.join("examples")).unwrap();
        for f in ["hosts.yaml", "inventory.ini"] {
            std::fs::copy(root().join("examples").join(f), co.join("examples").join(f)).unwrap();
        }
        std::fs::copy(root().join(".gitignore"), co.join(".gitignore")).unwrap();
        // The inventory paths the README's examples name, in both forms.
        for dir in ["", "inventory/", "inventory/mycluster/"] {
            std::fs::create_dir_all(co.join(dir)).unwrap();
            for f in ["hosts.yaml", "inventory.ini"] {
                std::fs::copy(root().join("examples").join(f), co.join(dir).join(f)).unwrap();
            }
        }
        for args in [&["init", "-q"][..], &["add", "-A"], &["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "fixture checkout"]] {
            let (ok, out) = sh(Command::new("git").args(args).current_dir(&co));
            assert!(ok, "git {args:?}: {out}");
        }
        std::fs::create_dir_all(tmp.path().join("home")).unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_bundler")).parent().unwrap().to_path_buf();
        World { tmp, _server: server, catalog, bin_dir }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn checkout(&self) -> PathBuf {
        self.p("checkout")
    }
}

/// What the harness did with one command, for the report it prints.
struct Done {
    line: usize,
    command: String,
    how: String,
}

/// The command as run here, and the substitutions made (said in the report).
fn substitute(cmd: &str, w: &World) -> (String, Vec<String>) {
    let mut c = cmd.to_string();
    let mut said = Vec::new();
    if let Some(rest) = c.strip_prefix("cargo run --release -- ") {
        c = format!("bundler {rest}");
        said.push("`cargo run --release --` is the bundler binary under test".to_string());
    }
    if c.contains("/media/usb") {
        c = c.replace("/media/usb", &w.p("media/usb").display().to_string());
        said.push("/media/usb is a folder of the test".to_string());
    }
    // The real downloads need the internet: the fixture catalog points every artifact and
    // image at the loopback server instead.
    for sub in ["plan", "fetch", "build", "certs issue", "certs renew"] {
        let mut words = c.split_whitespace().skip(1).filter(|w| !w.starts_with('-'));
        let head: Vec<&str> = sub.split(' ').collect();
        let matches = c.starts_with("bundler ") && head.iter().all(|h| words.next() == Some(*h));
        if matches && !c.contains("--catalog") {
            let at = c.find(&format!(" {}", head.last().unwrap())).unwrap() + head.last().unwrap().len() + 1;
            c.insert_str(at, &format!(" --catalog {}", w.catalog.display()));
            said.push("the fixture catalog (artifacts and images on a loopback server) replaces the internet".to_string());
            break;
        }
    }
    (c, said)
}

type Promise = fn(&Run, &World);

/// Lines the README promises for a command, checked when the command's text contains the key.
fn promises() -> Vec<(&'static str, Promise)> {
    vec![
        ("build --inventory examples/hosts.yaml", |r, w| {
            // Quick start: "prints the tarball's path (`out/k8s-1.9.11-1.tar`)"; CA keys stay out of the checkout.
            assert!(r.stdout.trim_end().ends_with("out/k8s-1.9.11-1.tar"), "{}", r.stdout);
            assert!(w.p("home/.local/share/bundler/example/pki/kubernetes-ca.key").exists(), "the state folder the Quick start names");
            assert!(!w.checkout().join("examples/bundler-state").exists(), "no state in the checkout");
            let (_, status) = sh(Command::new("git").args(["status", "--porcelain", "--untracked-files=all"]).current_dir(w.checkout()));
            assert!(!status.contains("bundler-state"), "the state folder shows up in git status:\n{status}");
        }),
        ("verify out/k8s-1.9.11-1.tar", |r, _| assert!(r.stdout.contains(", 0 failed"), "{}", r.stdout)),
        ("--export", |r, w| {
            assert!(r.stderr.contains("mirror folder written"), "{}", r.stderr);
            let dir = w.p("media/usb/mirror");
            let (ok, out) = sh(Command::new("sha256sum").args(["-c", "--quiet", "SHA256SUMS"]).current_dir(&dir));
            assert!(ok, "{out}");
            let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            assert!(names.iter().any(|n| n.ends_with(".manifest")) && names.iter().any(|n| n.ends_with(".blob")), "the export carries the images: {names:?}");
        }),
        ("--offline --mirror file://", |r, _| assert!(r.stdout.trim_end().ends_with(".tar"), "{}", r.stdout)),
        ("> receipt.json", |_, w| {
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(w.checkout().join("receipt.json")).unwrap()).unwrap();
            assert!(Path::new(doc["bundle"].as_str().unwrap()).exists(), "{doc}");
        }),
    ]
}

fn run_block(b: &Block, w: &World, exports: &mut Vec<String>, done: &mut Vec<Done>) {
    let yaml = b.lang == "yaml" || b.lang == "yml";
    // A CI job's variables, as a runner provides them.
    let ci_env = [("BUNDLER_STATE", w.p("ci/state")), ("CI_CACHE", w.p("ci/cache"))];
    for (n, raw) in &b.lines {
        let cmd = if yaml {
            match raw.trim_start().strip_prefix("- ") {
                Some(c) if !c.contains(": ") || c.starts_with("bundler ") || c.starts_with("export ") => c.trim().to_string(),
                _ => continue,
            }
        } else {
            raw.trim().to_string()
        };
        if cmd.is_empty() || cmd.starts_with('#') {
            continue;
        }
        if let Some(why) = not_run(&cmd) {
            done.push(Done { line: *n, command: cmd, how: format!("not run: {why}") });
            continue;
        }
        let (c, mut said) = substitute(&cmd, w);
        if c.starts_with("export ") {
            exports.push(c.clone());
            done.push(Done { line: *n, command: cmd, how: "kept for the block's later commands".into() });
            continue;
        }
        let mut sh_cmd = Command::new("sh");
        sh_cmd
            .arg("-c")
            .arg(format!("{}{c}", exports.iter().map(|e| format!("{e}\n")).collect::<String>()))
            .current_dir(w.checkout())
            .env("PATH", format!("{}:{}", w.bin_dir.display(), std::env::var("PATH").unwrap_or_default()))
            .env("HOME", w.p("home"))
            .env("BUNDLER_CACHE", w.p("cache"))
            .env_remove("XDG_CACHE_HOME")
            .env_remove("BUNDLER_STATE")
            .env_remove("BUNDLER_MIRRORS")
            .env_remove("SOURCE_DATE_EPOCH");
        if yaml {
            for (k, v) in &ci_env {
                sh_cmd.env(k, v);
            }
            said.push("BUNDLER_STATE and CI_CACHE are folders of the test".into());
        }
        if c.contains("--offline") {
            // The air-gapped machine has nothing but what was carried over.
            sh_cmd.env("BUNDLER_CACHE", w.p("airgap-cache"));
            said.push("run as the air-gapped machine: an empty cache of its own".into());
        }
        let r = run(&mut sh_cmd);
        assert_eq!(
            r.code, 0,
            "README.md:{n} (section \"{}\"): `{cmd}` (run as `{c}`) exited {}\nstdout:\n{}\nstderr:\n{}",
            b.section, r.code, r.stdout, r.stderr
        );
        for (key, check) in promises() {
            if cmd.contains(key) {
                check(&r, w);
            }
        }
        said.dedup();
        done.push(Done { line: *n, command: cmd, how: if said.is_empty() { "ran, exit 0".into() } else { format!("ran, exit 0 ({})", said.join("; ")) } });
    }
}

/// Every option a synopsis line names exists in that command's --help.
fn check_synopsis(b: &Block, done: &mut Vec<Done>) {
    let mut cur: Vec<String> = Vec::new();
    let mut flags: BTreeMap<Vec<String>, (usize, Vec<String>)> = BTreeMap::new();
    for (n, l) in &b.lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        if l.starts_with("bundler") {
            // The subcommand: the words after `bundler` that are neither options nor placeholders.
            cur = words
                .iter()
                .skip(1)
                .filter(|w| !w.starts_with('[') && !w.starts_with('-') && w.chars().all(|c| c.is_ascii_lowercase()))
                .map(|w| w.to_string())
                .take(2)
                .collect();
            if cur.len() == 2 && !["issue", "renew", "prune", "verify"].contains(&cur[1].as_str()) {
                cur.truncate(1);
            }
        }
        let e = flags.entry(cur.clone()).or_insert((*n, Vec::new()));
        for w in &words {
            let w = w.trim_start_matches('[').trim_start_matches('(');
            if let Some(f) = w.strip_prefix("--") {
                let f: String = f.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                e.1.push(format!("--{f}"));
            }
        }
    }
    for (sub, (n, fl)) in flags {
        let r = run(bundler().args(&sub).arg("--help"));
        assert_eq!(r.code, 0, "README.md:{n}: `bundler {} --help`: {}", sub.join(" "), r.stderr);
        for f in &fl {
            assert!(
                r.stdout.contains(&format!("{f} "))
                    || r.stdout.contains(&format!("{f}\n"))
                    || r.stdout.contains(&format!("{f}="))
                    || r.stdout.contains(&format!("{f},")),
                "README.md:{n}: `bundler {}` has no option {f}:\n{}",
                sub.join(" "),
                r.stdout
            );
        }
        done.push(Done { line: n, command: format!("bundler {} (synopsis)", sub.join(" ")), how: format!("{} option(s) found in --help", fl.len()) });
    }
}

#[test]
fn every_command_in_the_readme_runs() {
    let md = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = code_blocks(&md);
    let w = World::new();
    let mut done = Vec::new();
    for b in &blocks {
        if is_synopsis(b) {
            check_synopsis(b, &mut done);
        } else {
            run_block(b, &w, &mut Vec::new(), &mut done);
        }
    }
    println!("README.md commands ({} code blocks):", blocks.len());
    for d in &done {
        println!("  README.md:{:<4} {}\n         -> {}", d.line, d.command, d.how);
    }
    let ran = done.iter().filter(|d| d.how.starts_with("ran")).count();
    // The Quick start, the internet workflow, the air-gapped one and the CI recipe at least.
    assert!(ran >= 7, "only {ran} README commands ran");
    for must in ["build --inventory examples/hosts.yaml", "fetch --inventory hosts.yaml --export", "--offline --mirror file://", "verify out/*.tar"] {
        assert!(done.iter().any(|d| d.command.contains(must) && d.how.starts_with("ran")), "the README's `{must}` was not run");
    }
}

#[test]
fn the_harness_finds_both_kinds_of_code_block() {
    let md = "# T\n\ntext\n\n    bundler a\n    bundler b\n\nmore\n\n```yaml\n  - bundler c\n```\n";
    let b = code_blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["bundler a", "bundler b"]);
    assert_eq!((b[1].lang.as_str(), b[1].line), ("yaml", 10));
}

/// The etcd versions the variables table names are the ones the catalog pins.
#[test]
fn readme_etcd_versions_are_pinned() {
    let md = std::fs::read_to_string(root().join("README.md")).unwrap();
    let row = md.lines().find(|l| l.starts_with("| `etcd_version`")).expect("the etcd_version row");
    let mut versions = Vec::new();
    for part in row.split('|').nth(3).unwrap().split([',', ';']) {
        let v = part.trim().trim_start_matches("also ").trim();
        versions.extend(v.split_whitespace().filter(|w| w.starts_with('v')).map(str::to_string));
    }
    assert!(versions.len() >= 4, "{row}");
    for v in versions {
        let c = crate::util::Case::new();
        c.file("hosts.yaml", &example_with(&[("etcd_version: v3.0.17", &format!("etcd_version: {v}"))]));
        let r = c.plan_json("hosts.yaml");
        assert_eq!(r.code, 0, "README says etcd {v} works: {}", r.stderr);
        assert_eq!(r.json()["versions"]["etcd"], v.as_str());
    }
}

fn json_doc(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr))
}

#[test]
fn json_prints_one_document_always() {
    // Usage errors: one document, exit 2.
    for args in [&["--json", "plan"][..], &["--json", "build", "--inventory", "x.yaml", "--no-such-flag"], &["--json", "nosuchcommand"]] {
        let r = run(bundler().args(args));
        r.code(2);
        let d = json_doc(&r);
        assert_eq!((d["ok"].as_bool(), d["exit_code"].as_i64()), (Some(false), Some(2)), "{d}");
        assert!(!d["diagnostics"][0]["message"].as_str().unwrap().is_empty(), "{d}");
    }
    // A failing `certs` (a certificate expiring within --warn-days) and a failing `verify`.
    let b = Build::example();
    b.build(&[]).code(0);
    let r = run(bundler().current_dir(b.dir.path()).args(["--json", "certs", "--inventory", "hosts.yaml", "--warn-days", "100000"]));
    r.code(1);
    let d = json_doc(&r);
    assert_eq!(d["ok"], false);
    assert!(d["certificates"].as_array().unwrap().len() > 5 && !d["expiring"].as_array().unwrap().is_empty(), "{d}");
    let tar = b.tarball();
    let bad = b.p("bad.tar");
    let mut bytes = std::fs::read(&tar).unwrap();
    // Corrupt the middle of the tarball (an RPM's payload), keeping the tar structure.
    let i = bytes.len() / 2;
    bytes[i] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();
    let r = run(bundler().args(["--json", "verify"]).arg(&bad));
    r.code(1);
    let d = json_doc(&r);
    assert_eq!((d["ok"].as_bool(), d["exit_code"].as_i64()), (Some(false), Some(1)), "{d}");
    assert!(d["checks"].as_array().unwrap().iter().any(|c| c["ok"] == false));
}

const TWO_ETCD: (&str, &str) = ("        node01:\n        node02:\n    k8s_cluster:", "        node01:\n    k8s_cluster:");

fn example_with(edits: &[(&str, &str)]) -> String {
    let mut inv = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    for (from, to) in edits {
        assert!(inv.contains(from), "{from} in examples/hosts.yaml");
        inv = inv.replacen(from, to, 1);
    }
    inv
}

/// The build command of `Build` without some of its flags.
fn build_without(b: &Build, drop: &[&str]) -> Command {
    let args: Vec<String> = b.build_cmd().get_args().map(|a| a.to_string_lossy().into_owned()).filter(|a| !drop.contains(&a.as_str())).collect();
    let mut c = bundler();
    c.current_dir(b.dir.path()).env("SOURCE_DATE_EPOCH", "1700000000").args(args);
    c
}

#[test]
fn quiet_prints_nothing_but_errors() {
    // Two etcd members: the plan warns (an even number of members).
    let b = Build::new(&example_with(&[TWO_ETCD]));
    let r = run(bundler().current_dir(b.dir.path()).args(["plan", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"]));
    r.code(0);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("warning"), "the plan warns: {}", r.stdout);
    let r = run(bundler().current_dir(b.dir.path()).args(["plan", "--quiet", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"]));
    r.code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "plan --quiet");
    let r = run(&mut build_without(&b, &["--json"]));
    r.code(0);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "build --quiet");
    // An error is still printed.
    let r = run(bundler().current_dir(b.dir.path()).args(["plan", "--quiet", "--inventory", "missing.yaml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.yaml"), "{}", r.stderr);
}

#[test]
fn build_shows_plan_and_certificate_warnings_and_reasons() {
    // A CA with less than a year left, leaves asked to outlive it (clamped), two etcd members.
    let vars = ("      vars:\n", "      vars:\n        bundler_ca_validity_days: 300\n        bundler_cert_validity_days: 800\n");
    let b = Build::new(&example_with(&[TWO_ETCD, vars]));
    let r = b.build(&[]);
    r.code(0);
    let d = r.json();
    assert!(d["warnings"].as_array().unwrap().iter().any(|w| w["message"].as_str().unwrap().contains("even")), "{}", d["warnings"]);
    let cw = d["certificate_warnings"].to_string();
    assert!(cw.contains("clamped") && cw.contains("expires in"), "{cw}");
    // On the terminal (no --quiet): the same warnings and each certificate's reason.
    let inv = std::fs::read_to_string(b.p("hosts.yaml")).unwrap().replace("192.168.0.212", "192.168.0.222");
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    let r = run(&mut build_without(&b, &["--json", "--quiet"]));
    r.code(0);
    r.has("warning: ").has("clamped").has("re-issued (");
    // The listing shows them too.
    let r = run(bundler().current_dir(b.dir.path()).args(["certs", "--inventory", "hosts.yaml", "--warn-days", "1"]));
    r.code(0).has("warning: CA ").has("expires in");
    // ... and why each certificate was last made.
    assert!(r.stdout.contains("  last      re-issued ("), "{}", r.stdout);
    let r = run(bundler().current_dir(b.dir.path()).args(["--json", "certs", "--inventory", "hosts.yaml", "--warn-days", "1"]));
    r.code(0);
    assert!(!json_doc(&r)["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn verify_accepts_several_bundles_and_build_refuses_fetch_options() {
    let b = Build::example();
    b.build(&[]).code(0);
    let inv = std::fs::read_to_string(b.p("hosts.yaml")).unwrap().replace("kube_proxy_mode: iptables", "kube_proxy_mode: ipvs");
    std::fs::write(b.p("hosts.yaml"), inv).unwrap();
    b.build(&[]).code(0);
    // `bundler verify out/*.tar`, as the CI recipe runs it.
    let (ok, out) = sh(Command::new("sh").arg("-c").arg(format!("'{}' verify out/*.tar", env!("CARGO_BIN_EXE_bundler"))).current_dir(b.dir.path()));
    assert!(ok, "{out}");
    assert_eq!(out.matches(", 0 failed").count(), 2, "{out}");
    let r = run(bundler().current_dir(b.dir.path()).args(["--json", "verify", "out/k8s-1.9.11-1.tar", "out/k8s-1.9.11-2.tar"]));
    r.code(0);
    let d = json_doc(&r);
    assert_eq!((d["ok"].as_bool(), d["bundles"].as_array().map(Vec::len)), (Some(true), Some(2)), "{d}");
    // Options only `fetch` has are refused by `build`, not ignored.
    for opt in ["--export", "--images"] {
        let r = b.build(&[opt, "somewhere"]);
        r.code(2).has(&format!("{opt} somewhere is a `bundler fetch` option"));
        assert!(!b.p("somewhere").exists());
    }
}

#[test]
fn receipt_paths_name_what_is_in_the_bundle() {
    let b = Build::example();
    let r = b.build(&[]);
    r.code(0);
    let d = r.json();
    let bundle = b.bundle();
    let top = bundle.parent().unwrap();
    for p in d["packages"].as_array().unwrap() {
        let path = p["path"].as_str().unwrap();
        assert!(path.starts_with("k8s-1.9.11-1/repo/Packages/"), "{path}");
        assert!(top.join(path).is_file(), "{path} in the tarball");
    }
    let listing = crate::packages::rpmq(&b.rpm("k8s-images"), &["-l"]);
    for i in d["images"].as_array().unwrap() {
        let a = i["archive"].as_str().unwrap();
        assert!(listing.lines().any(|l| l == a), "{a} is a file of k8s-images:\n{listing}");
    }
}

#[test]
fn a_new_source_date_epoch_keeps_every_release() {
    let b = Build::example();
    b.build(&[]).code(0);
    let before = b.tarball();
    let r = run(b.build_cmd().env("SOURCE_DATE_EPOCH", "1800000000"));
    r.code(0);
    let d = r.json();
    assert_eq!(d["release"], 1, "bundle release");
    for p in d["packages"].as_array().unwrap() {
        assert_eq!(p["release"], "1.el7", "{} keeps its release", p["name"]);
        assert_eq!(p["changed"], false, "{}", p["name"]);
    }
    assert_eq!(b.tarball(), before);
}

#[test]
fn bundler_state_is_read_and_a_state_folder_git_would_commit_is_refused() {
    require("git");
    let b = Build::example();
    let elsewhere = tempfile::tempdir().unwrap();
    let r = run(b.build_cmd().env("BUNDLER_STATE", elsewhere.path()));
    r.code(0);
    assert!(elsewhere.path().join("pki").is_dir(), "$BUNDLER_STATE holds the CAs");
    assert!(!b.p("bundler-state").exists(), "nothing beside the inventory");
    let r = run(bundler().current_dir(b.dir.path()).env("BUNDLER_STATE", elsewhere.path()).args(["certs", "--warn-days", "1"]));
    r.code(0);
    assert!(r.stdout.contains("kubernetes-ca.crt"), "{}", r.stdout);
    // The build folder becomes a git work tree: the default state folder would be committed.
    let (ok, out) = sh(Command::new("git").args(["init", "-q"]).current_dir(b.dir.path()));
    assert!(ok, "{out}");
    let r = b.build(&[]);
    r.code(2).has("inside the git work tree").has("add `bundler-state/` to");
    assert!(!b.p("bundler-state").exists(), "nothing written");
    run(bundler().current_dir(b.dir.path()).args(["certs", "issue", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml"])).code(2);
    std::fs::write(b.p(".gitignore"), "bundler-state/\n").unwrap();
    b.build(&[]).code(0);
    assert!(b.p("bundler-state/pki").is_dir());
}

#[test]
fn air_gapped_build_from_an_exported_mirror_with_images_from_a_real_registry() {
    let reg = crate::images::registry(None);
    let srv = Server::start();
    let fx = fixtures::artifacts(1);
    for f in &fx {
        srv.put(&format!("/up/{}", f.file_name), f.bytes.clone());
    }
    let mut lines = String::new();
    for img in fixtures::images() {
        let digest = crate::images::push(&img, &reg, None);
        lines += &format!(
            "  - name: {}\n    version: \"{}\"\n    image: {}/{}:{}\n    digest: \"{digest}\"\n    trust: user\n",
            img.name, img.version, reg.host, img.repository, img.version
        );
    }
    let online = tempfile::tempdir().unwrap();
    let catalog = fixtures::catalog(&fx, &format!("{}/up", srv.base)) + &lines;
    let inv = std::fs::read_to_string(root().join("examples/hosts.yaml")).unwrap();
    std::fs::write(online.path().join("catalog.yaml"), &catalog).unwrap();
    std::fs::write(online.path().join("hosts.yaml"), &inv).unwrap();
    let usb = online.path().join("usb/mirror");
    let r = run(bundler()
        .current_dir(online.path())
        .args(["fetch", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml", "--cache", "cache", "--export"])
        .arg(&usb));
    r.code(0).has("mirror folder written");
    // The air-gapped machine: only the carried folder, the inventory and the catalog.
    let airgap = tempfile::tempdir().unwrap();
    for f in ["catalog.yaml", "hosts.yaml"] {
        std::fs::copy(online.path().join(f), airgap.path().join(f)).unwrap();
    }
    let carried = airgap.path().join("mirror");
    let (ok, out) = sh(Command::new("cp").arg("-a").arg(&usb).arg(&carried));
    assert!(ok, "{out}");
    drop(reg);
    drop(srv);
    let r = run(bundler()
        .current_dir(airgap.path())
        .args(["build", "--json", "--inventory", "hosts.yaml", "--catalog", "catalog.yaml", "--cache", "cache", "--offline", "--mirror"])
        .arg(format!("file://{}", carried.display())));
    r.code(0);
    let d = r.json();
    // Every image of the plan (the fixture catalog's ten) came from the carried folder.
    assert_eq!(d["images"].as_array().unwrap().len(), fixtures::images().len(), "{}", d["images"]);
    assert!(d["images"].as_array().unwrap().iter().all(|i| i["source"].as_str().unwrap().starts_with("file://")), "{}", d["images"]);
}

#[test]
fn cache_command_shows_prunes_and_verifies() {
    let b = Build::example();
    b.build(&[]).code(0);
    let cache = b.p("cache");
    let r = run(bundler().args(["--json", "cache", "--cache"]).arg(&cache));
    r.code(0);
    let d = json_doc(&r);
    assert!(d["total_bytes"].as_u64().unwrap() > 100_000 && d["records"] == 1, "{d}");
    assert!(d["entries"].as_array().unwrap().iter().all(|e| e["used_by_records"] == 1), "every entry is used by the build");
    let r = run(bundler().args(["cache", "--cache"]).arg(&cache));
    r.code(0);
    assert!(r.stdout.contains("downloads") && r.stdout.contains("packages"), "{}", r.stdout);
    // A new signing epoch builds another set of binary packages; the old set is unused.
    run(b.build_cmd().env("SOURCE_DATE_EPOCH", "1800000000")).code(0);
    let r = run(bundler().args(["--json", "cache", "prune", "--keep", "1", "--cache"]).arg(&cache));
    r.code(0);
    let d = json_doc(&r);
    let removed: Vec<&str> = d["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(!removed.is_empty() && removed.iter().all(|p| p.starts_with("rpms/")), "{removed:?}");
    for p in &removed {
        assert!(!cache.join(p).exists());
    }
    // What the newest build used is still there: it rebuilds offline from the cache alone.
    std::fs::remove_dir_all(b.p("out")).unwrap();
    let r = run(b.build_cmd().env("SOURCE_DATE_EPOCH", "1800000000").arg("--offline"));
    r.code(0);
    assert!(r.json()["packages"].as_array().unwrap().iter().filter(|p| p["name"].as_str().unwrap().ends_with("-bin")).all(|p| p["cached"] == true));
    // verify: clean, then a damaged download is named and the command fails.
    run(bundler().args(["cache", "verify", "--cache"]).arg(&cache)).code(0);
    let f = std::fs::read_dir(cache.join("files/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().contains('.'))
        .unwrap();
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    run(bundler().args(["cache", "verify", "--cache"]).arg(&cache)).code(1).has(&f.display().to_string());
}
