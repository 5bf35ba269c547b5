//! The `bundler` command line: parses arguments, calls the library, prints results and
//! the whole error chain, and maps errors onto exit codes (0 ok, 1 failure, 2 bad input).

mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bundler", version, about = "Build an air-gapped Kubernetes 1.9 bundle from an Ansible/kubespray inventory")]
struct Cli {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct InventoryArgs {
    /// The cluster inventory (kubespray hosts.yaml or inventory.ini).
    #[arg(long, short = 'i', value_name = "FILE")]
    inventory: PathBuf,
    /// An artifact catalog whose entries replace or extend the embedded one.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// A package spec (what each package installs) in place of the embedded specs/packages.yaml.
    #[arg(long, value_name = "FILE")]
    packages: Option<PathBuf>,
}

#[derive(Args)]
struct FetchArgs {
    #[command(flatten)]
    inv: InventoryArgs,
    /// Download cache (default: $BUNDLER_CACHE, else $XDG_CACHE_HOME/bundler, else ~/.cache/bundler).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// A base URL (http://, https:// or file://) under which artifacts are found by file
    /// name; tried in order before upstream. Repeatable; also $BUNDLER_MIRRORS and the
    /// inventory's `bundler_mirrors`.
    #[arg(long, value_name = "URL")]
    mirror: Vec<String>,
    /// An OS package tree (http://, https:// or file://): a CentOS mirror's `os/x86_64` or a
    /// mounted DVD, holding `Packages/` and the vendor key file. OS packages are looked up
    /// there by file name before the catalog's URLs and still must carry the vendor's
    /// signature. Repeatable; also $BUNDLER_OS_MIRRORS and the inventory's `bundler_os_mirrors`.
    #[arg(long, value_name = "URL")]
    os_mirror: Vec<String>,
    /// Never download from the upstream URLs; only mirrors.
    #[arg(long)]
    no_upstream: bool,
    /// Open no network connection: use the cache and file:// mirrors only.
    #[arg(long)]
    offline: bool,
    /// Parallel downloads.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Trust this CA certificate (PEM) too, e.g. a corporate TLS proxy's.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Seconds without a byte before a transfer counts as stalled and is retried.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    stall_timeout: u64,
    /// Attempts per URL for transient failures.
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
    /// Also write the files as a flat mirror folder (files by name plus SHA256SUMS).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// A registry to pull images from before their own: URL (same repository paths) or
    /// PREFIX=URL (images under PREFIX, e.g. gcr.io/google_containers=https://registry.local).
    /// Repeatable. Credentials come from BUNDLER_REGISTRY_USERNAME, BUNDLER_REGISTRY_PASSWORD
    /// or BUNDLER_REGISTRY_TOKEN.
    #[arg(long, value_name = "URL")]
    registry_mirror: Vec<String>,
    /// `fetch` only: also pull the plan's container images (as `build` always does) into
    /// docker-save archives in DIR.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
}

#[derive(Args)]
struct StateArgs {
    /// The state folder holding the CAs and everything issued (default: `bundler-state`
    /// beside the inventory). Keep it safe and private: it holds the root CA keys.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

#[derive(Args)]
struct CertsArgs {
    #[command(subcommand)]
    action: Option<CertsAction>,
    #[command(flatten)]
    state: StateArgs,
    /// Read the state folder beside this inventory (instead of --state).
    #[arg(long, short = 'i', value_name = "FILE")]
    inventory: Option<PathBuf>,
    /// Exit 1 when a certificate expires within this many days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    warn_days: i64,
}

#[derive(Subcommand)]
enum CertsAction {
    /// Create what is missing and re-issue what no longer fits the inventory (what build does).
    Issue {
        #[command(flatten)]
        inv: InventoryArgs,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Re-issue every leaf certificate from the same CAs, so the next bundle carries them.
    Renew {
        #[command(flatten)]
        inv: InventoryArgs,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    fetch: FetchArgs,
    /// Where the bundle is written.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "out")]
    output: PathBuf,
    #[command(flatten)]
    state: StateArgs,
    /// Sign packages and repository with this armored OpenPGP secret key (RSA, primary key
    /// signs) instead of the key bundler generates into the state folder.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

#[derive(Args)]
struct VerifyArgs {
    /// Bundle tarballs (or unpacked folders); each is checked, and the command fails when any does not verify.
    #[arg(required = true, value_name = "BUNDLE")]
    bundle: Vec<PathBuf>,
    /// Verify signatures against this public key (armored) instead of the bundle's own.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Show what the bundle will hold, without downloading anything.
    Plan(InventoryArgs),
    /// Download and verify every file artifact the plan needs into the cache.
    Fetch(FetchArgs),
    /// Build the bundle: fetch, certificates, units, signed RPMs and repository, one tarball.
    Build(BuildArgs),
    /// Check a bundle: SHA256SUMS, every RPM signature, the repository signature, the manifest.
    Verify(VerifyArgs),
    /// Write the man page and shell completions (used when packaging bundler itself).
    #[command(hide = true)]
    GenerateAssets {
        /// Output folder.
        out: PathBuf,
    },
    /// List the cluster's certificates (expiry, names, packages); issue or renew them.
    Certs(CertsArgs),
    /// Show what the download and package cache holds and its size; prune or verify it.
    Cache(CacheArgs),
}

#[derive(Args)]
struct CacheArgs {
    #[command(subcommand)]
    action: Option<CacheAction>,
    /// The cache (default: $BUNDLER_CACHE, else $XDG_CACHE_HOME/bundler, else ~/.cache/bundler).
    #[arg(long, value_name = "DIR", global = true)]
    cache: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CacheAction {
    /// Remove what none of the most recent builds and fetches used (each one records what it used).
    Prune {
        /// How many of the most recent builds and fetches to keep everything for.
        #[arg(long, value_name = "N", default_value_t = 3)]
        keep: usize,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-hash every downloaded file against the digest it is stored under.
    Verify,
}

/// Download options from the command line; `mirrors` are the command line's plus those the plan adds.
fn fetch_options(a: &FetchArgs, mirrors: Vec<String>) -> bundler::fetch::Options {
    bundler::fetch::Options {
        cache: bundler::fetch::default_cache(a.cache.as_deref()),
        mirrors,
        no_upstream: a.no_upstream,
        offline: a.offline,
        jobs: a.jobs,
        ca_cert: a.ca_cert.clone(),
        stall_timeout: Duration::from_secs(a.stall_timeout.max(1)),
        retry: bundler::fetch::RetryPolicy { attempts: a.retries.max(1), ..Default::default() },
    }
}

/// `--state`, else `$BUNDLER_STATE`, else `bundler-state/` beside the inventory.
fn state_dir(state: &StateArgs, inventory: Option<&std::path::Path>) -> bundler::Result<PathBuf> {
    let env = std::env::var_os("BUNDLER_STATE").filter(|v| !v.is_empty()).map(PathBuf::from);
    match (state.state.clone().or(env), inventory) {
        (Some(s), _) => Ok(s),
        (None, Some(i)) => Ok(bundler::default_state(i)),
        (None, None) => Err(bundler::Error::Usage("give --state DIR, $BUNDLER_STATE or --inventory FILE (whose folder holds bundler-state/)".into())),
    }
}

/// A state folder that would be created or written must not end up in a git commit: it
/// holds the root CA keys.
fn check_state(state: &std::path::Path) -> bundler::Result<()> {
    bundler::cache::state_in_git(state).map_or(Ok(()), |msg| Err(bundler::Error::Usage(msg)))
}

fn print_changes(p: &bundler::pki::Pki, quiet: bool) {
    if quiet {
        return;
    }
    for c in &p.changes {
        eprintln!("{}: {} ({})", c.id, c.action, c.reason);
    }
    if p.changes.is_empty() {
        eprintln!("certificates: all reused from {}", p.state.display());
    }
    for w in &p.warnings {
        eprintln!("warning: {w}");
    }
}

/// Warnings about certificates that a listing can see: CAs close to expiry, leaves cut
/// short to their CA's lifetime.
fn cert_warnings(certs: &[bundler::pki::CertInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for c in certs {
        let name = c.file.file_name().unwrap_or_default().to_string_lossy();
        if c.is_ca && c.days_left < 365 {
            out.push(format!("CA {name} expires in {} days; plan a CA rotation (bundler does not rotate CAs by itself yet)", c.days_left));
        }
        if !c.is_ca {
            if let Some(ca) = certs.iter().find(|ca| ca.is_ca && ca.subject == c.issuer) {
                if (ca.not_after - c.not_after).whole_days() <= 0 {
                    out.push(format!(
                        "{name}: lifetime cut to that of its CA ({}); it expires with the CA",
                        ca.file.file_name().unwrap_or_default().to_string_lossy()
                    ));
                }
            }
        }
    }
    out
}

fn main() -> ExitCode {
    // Behave like a Unix tool when piped into `head`: end quietly instead of panicking.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // `--json` promises one document on stdout, usage errors included.
            if code == 2 && std::env::args_os().skip(1).take_while(|a| a != "--").any(|a| a == "--json") {
                let text = e.render().to_string();
                let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
                let msg = lines.next().unwrap_or_default().trim_start_matches("error: ").to_string();
                let d = bundler::error::Diagnostic::error(None, msg).with_notes(&lines.map(str::to_string).collect::<Vec<_>>());
                let doc = serde_json::json!({ "ok": false, "exit_code": 2, "diagnostics": [d] });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap());
            }
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut doc = None;
    match run(&cli, &mut doc) {
        Ok(()) => {
            if let Some(d) = doc {
                println!("{}", serde_json::to_string_pretty(&d).unwrap());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e, cli.json, doc);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// The causes of `e` below its own message, each once: a cause whose text the line above
/// already holds is not printed again.
fn causes(e: &bundler::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut above = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !above.contains(&text) {
            out.push(text.clone());
        }
        above = text;
        src = s.source();
    }
    out
}

/// A failed command: on stderr `error: <message>` and each cause once (bad input prints its
/// diagnostics, each already `file:line:col: error: ...`); with `--json`, also one diagnostic
/// on stdout whose notes are the causes and whose `fields` are the error's facts.
fn report_error(e: &bundler::Error, json: bool, doc: Option<serde_json::Value>) {
    let chain = causes(e);
    if json {
        let diags: Vec<serde_json::Value> = match e {
            bundler::Error::Input(d) => d.0.iter().map(|d| serde_json::to_value(d).unwrap()).collect(),
            other => {
                let d = bundler::error::Diagnostic::error(None, other.to_string()).with_notes(&chain);
                let mut v = serde_json::to_value(d).unwrap();
                v["fields"] = serde_json::Value::Object(other.fields());
                vec![v]
            }
        };
        // A command that has its own report (a failing `certs` or `verify`) keeps it, with the
        // failure added: still one document.
        let mut doc = match doc {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        doc.insert("ok".into(), false.into());
        doc.insert("exit_code".into(), e.exit_code().into());
        doc.insert("diagnostics".into(), serde_json::Value::Array(diags));
        println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(doc)).unwrap());
    }
    match e {
        bundler::Error::Input(_) => eprintln!("{e}"),
        _ => {
            eprintln!("error: {e}");
            for c in &chain {
                eprintln!("  caused by: {c}");
            }
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("plain data serialises")
}

fn run(cli: &Cli, doc: &mut Option<serde_json::Value>) -> bundler::Result<()> {
    let say = !cli.quiet && !cli.json;
    match &cli.command {
        Command::Plan(a) => {
            let plan = bundler::plan_with(&a.inventory, a.catalog.as_deref(), a.packages.as_deref())?;
            if cli.json {
                *doc = Some(json(&plan));
            } else if !cli.quiet {
                print!("{}", plan.to_text());
            }
            Ok(())
        }
        Command::Certs(a) => match &a.action {
            Some(CertsAction::Issue { inv, state }) | Some(CertsAction::Renew { inv, state }) => {
                let renew = matches!(a.action, Some(CertsAction::Renew { .. }));
                let plan = bundler::plan_with(&inv.inventory, inv.catalog.as_deref(), inv.packages.as_deref())?;
                let dir = state_dir(state, Some(&inv.inventory))?;
                check_state(&dir)?;
                let _lock = bundler::pki::lock_state(&dir)?;
                let pki = bundler::pki::ensure(&plan, &bundler::pki_options(&plan, &dir, renew))?;
                if cli.json {
                    // Each item with where the package spec installs it and which packages carry it.
                    let mut d = json(&pki);
                    if let Some(items) = d["items"].as_array_mut() {
                        for it in items {
                            let id = it["id"].as_str().unwrap_or_default().to_string();
                            it["install_path"] = serde_json::json!(plan.pki_install_path(&id));
                            it["packages"] = serde_json::json!(plan.pki_carriers(&id));
                        }
                    }
                    *doc = Some(d);
                }
                print_changes(&pki, cli.quiet);
                Ok(())
            }
            None => {
                let dir = state_dir(&a.state, a.inventory.as_deref())?;
                let now = time::OffsetDateTime::now_utc();
                let spec = bundler::specs::Spec::embedded();
                let certs = bundler::pki::list(&dir, now, |id| spec.pki_carriers(id))?;
                let warnings = cert_warnings(&certs);
                // Why each one was last made (recorded by `build` and `certs issue`/`renew`).
                let history = bundler::pki::history(&dir);
                let last = |c: &bundler::pki::CertInfo| {
                    let stem = c.file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                    history.iter().find(|(id, _)| id.trim_end_matches(".crt") == stem).map(|(_, ch)| ch.clone())
                };
                let expiring: Vec<&bundler::pki::CertInfo> = certs.iter().filter(|c| c.days_left < a.warn_days).collect();
                if cli.json {
                    let last_changes: Vec<Option<bundler::pki::Change>> = certs.iter().map(last).collect();
                    *doc = Some(serde_json::json!({
                        "ok": expiring.is_empty(),
                        "state": dir,
                        "warn_days": a.warn_days,
                        "certificates": certs,
                        "last_changes": last_changes,
                        "warnings": warnings,
                        "expiring": expiring.iter().map(|c| &c.file).collect::<Vec<_>>(),
                    }));
                } else if !cli.quiet {
                    for c in &certs {
                        println!("{}", c.file.file_name().unwrap().to_string_lossy());
                        println!("  subject   {}", c.subject);
                        println!("  issuer    {}", c.issuer);
                        if !c.names.is_empty() {
                            println!("  names     {}", c.names.join(", "));
                        }
                        println!("  expires   {} ({} days left)", c.not_after.date(), c.days_left);
                        println!("  packages  {}", if c.packages.is_empty() { "(none)".to_string() } else { c.packages.join(", ") });
                        if let Some(ch) = last(c) {
                            println!("  last      {} ({})", ch.action, ch.reason);
                        }
                    }
                    for w in &warnings {
                        eprintln!("warning: {w}");
                    }
                }
                if expiring.is_empty() {
                    Ok(())
                } else {
                    Err(bundler::Error::Expiring {
                        files: expiring.iter().map(|c| c.file.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect(),
                        days: a.warn_days,
                    })
                }
            }
        },
        Command::Build(a) => {
            let f = &a.fetch;
            // Options of `fetch` that `build` has no use for are refused, not ignored.
            if let Some(d) = &f.export {
                return Err(bundler::Error::Usage(format!(
                    "--export {} is a `bundler fetch` option; `bundler build` does not write a mirror folder\nhelp: run `bundler fetch --inventory {} --export {}` (it carries the images too)",
                    d.display(),
                    f.inv.inventory.display(),
                    d.display()
                )));
            }
            if let Some(d) = &f.images {
                return Err(bundler::Error::Usage(format!(
                    "--images {} is a `bundler fetch` option; `bundler build` always pulls the images into the images package",
                    d.display()
                )));
            }
            let state = state_dir(&a.state, Some(&f.inv.inventory))?;
            check_state(&state)?;
            let source_date = match std::env::var("SOURCE_DATE_EPOCH") {
                Ok(v) if !v.is_empty() => {
                    Some(v.trim().parse::<u64>().map_err(|_| bundler::Error::Usage(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")))?)
                }
                _ => None,
            };
            let opts = bundler::build::Options {
                inventory: f.inv.inventory.clone(),
                catalog: f.inv.catalog.clone(),
                packages: f.inv.packages.clone(),
                output: a.output.clone(),
                state,
                fetch: fetch_options(f, f.mirror.clone()),
                signing_key: a.signing_key.clone(),
                source_date,
                registry_mirrors: f.registry_mirror.clone(),
                registry_credentials: bundler::images::Credentials::from_env(),
                os_mirrors: f.os_mirror.clone(),
            };
            let reporter = progress::Progress::new(cli.quiet || cli.json, !cli.quiet);
            let receipt = bundler::build::build(&opts, &reporter)?;
            // The plan's and the certificates' warnings reached stderr as events while it ran.
            if !cli.quiet {
                for c in &receipt.certificates {
                    eprintln!("{}: {} ({})", c.id, c.action, c.reason);
                }
            }
            if cli.verbose > 0 && !cli.quiet {
                for st in &receipt.stages {
                    eprintln!("stage {:<12} {:>8.2} s", st.name, st.seconds);
                }
                for p in &receipt.packages {
                    eprintln!(
                        "package {}-{}-{}: {}{}",
                        p.name,
                        p.version,
                        p.release,
                        if p.cached { "reused from the package cache" } else { "built" },
                        if p.changed { ", release raised" } else { "" }
                    );
                }
            }
            if cli.json {
                *doc = Some(json(&receipt));
            } else if !cli.quiet {
                println!("{}", receipt.bundle.display());
            }
            Ok(())
        }
        Command::GenerateAssets { out } => {
            use clap::CommandFactory;
            let w = |p: PathBuf, r: std::io::Result<()>| r.map_err(|source| bundler::Error::Write { path: p, source });
            w(out.clone(), std::fs::create_dir_all(out))?;
            let cmd = Cli::command();
            let mut man = Vec::new();
            w(out.join("bundler.1"), clap_mangen::Man::new(cmd.clone()).render(&mut man))?;
            w(out.join("bundler.1"), std::fs::write(out.join("bundler.1"), man))?;
            for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
                let mut c = cmd.clone();
                w(out.clone(), clap_complete::generate_to(shell, &mut c, "bundler", out).map(|_| ()))?;
            }
            Ok(())
        }
        Command::Verify(a) => {
            let mut results = Vec::new();
            for b in &a.bundle {
                let v = bundler::bundle::verify(b, a.key.as_deref())?;
                if say {
                    let bad = v.checks.iter().filter(|c| !c.ok).count();
                    println!("{}: {} checks, {} failed (key {})", v.bundle.display(), v.checks.len(), bad, v.key_fingerprint);
                }
                results.push(v);
            }
            if cli.json {
                // One bundle: its report as before; several: one document listing them.
                *doc = Some(match results.as_slice() {
                    [one] => json(one),
                    many => serde_json::json!({ "ok": many.iter().all(|v| v.ok), "bundles": many.iter().map(json).collect::<Vec<_>>() }),
                });
            }
            let failed: Vec<bundler::error::Unverified> = results
                .iter()
                .filter(|v| !v.ok)
                .map(|v| bundler::error::Unverified {
                    bundle: v.bundle.clone(),
                    failed: v.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}: {}", c.file, c.check, c.detail)).collect(),
                })
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(bundler::Error::Unverified(failed))
            }
        }
        Command::Cache(a) => {
            let dir = bundler::fetch::default_cache(a.cache.as_deref());
            match &a.action {
                None => {
                    let s = bundler::cache::summary(&dir)?;
                    if cli.json {
                        *doc = Some(json(&s));
                    } else if !cli.quiet {
                        print!("{}", s.to_text(cli.verbose > 0));
                    }
                    Ok(())
                }
                Some(CacheAction::Prune { keep, dry_run }) => {
                    let p = bundler::cache::prune(&dir, *keep, *dry_run)?;
                    if cli.json {
                        *doc = Some(json(&p));
                    } else if !cli.quiet {
                        print!("{}", p.to_text());
                    }
                    Ok(())
                }
                Some(CacheAction::Verify) => {
                    let v = bundler::cache::verify(&dir)?;
                    if cli.json {
                        *doc = Some(json(&v));
                    } else if !cli.quiet {
                        println!("{}: {} file(s) checked, {} damaged", dir.display(), v.checked, v.damaged.len());
                    }
                    if v.damaged.is_empty() {
                        Ok(())
                    } else {
                        Err(bundler::Error::CacheDamaged(v.damaged.clone()))
                    }
                }
            }
        }
        Command::Fetch(a) => {
            let mut plan = bundler::plan_with(&a.inv.inventory, a.inv.catalog.as_deref(), a.inv.packages.as_deref())?;
            let opts = fetch_options(a, bundler::fetch::mirror_list(&a.mirror, &plan));
            let wants = bundler::fetch::Want::from_plan(&plan);
            let reporter = progress::Progress::new(cli.quiet || cli.json, !cli.quiet);
            let fetched = bundler::fetch::fetch(&wants, &opts, &reporter)?;
            let os = bundler::fetch::os::fetch_os(&plan, &opts, &bundler::fetch::os::os_mirror_list(&a.os_mirror, &plan))?;
            // The export carries the images too (manifests and blobs by digest), so an
            // offline build with `--mirror file://DIR` finds everything it needs there.
            let pull_images = a.images.is_some() || a.export.is_some();
            let scratch = bundler::layout::cache::staging(&opts.cache).join(format!("export-{}", std::process::id()));
            let images = if pull_images {
                let dir = a.images.clone().unwrap_or_else(|| scratch.clone());
                // Archive times do not depend on SOURCE_DATE_EPOCH: same images, same bytes.
                let creds = bundler::images::Credentials::from_env();
                let io = bundler::images::Options { fetch: &opts, registry_mirrors: &a.registry_mirror, creds: &creds, out_dir: &dir, time: 0 };
                let r = bundler::images::pull(&plan, &io, &reporter);
                let _ = std::fs::remove_dir_all(&scratch);
                r?
            } else {
                Vec::new()
            };
            let export = match &a.export {
                Some(dir) => {
                    let mut files = fetched.clone();
                    files.extend(bundler::images::mirror_files(&images, &opts.cache));
                    Some(bundler::fetch::export_with_os(&files, os.as_ref(), dir)?)
                }
                None => None,
            };
            if a.images.is_some() || a.export.is_some() {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let lock = bundler::image_lock::path_for(&a.inv.inventory);
                bundler::image_lock::record(&lock, &mut plan, &images, &bundler::image_lock::day(now))?;
            }
            bundler::cache::record_use(&opts.cache, &fetched, os.as_ref(), &images, &[]);
            if cli.json {
                let images = if a.images.is_some() { images } else { Vec::new() };
                *doc =
                    Some(serde_json::json!({ "ok": true, "cache": opts.cache, "artifacts": fetched, "os_packages": os, "images": images, "export": export }));
            } else if !cli.quiet {
                eprintln!("{} artifact(s) verified in {}", fetched.len(), opts.cache.display());
                if let Some(os) = &os {
                    eprintln!("{} OS package(s) verified by {}'s signature ({})", os.packages.len(), os.key_name, os.key_fingerprint);
                }
                if !images.is_empty() {
                    eprintln!("{} image(s) verified", images.len());
                }
                if let Some(p) = export {
                    eprintln!("mirror folder written: {} (use it with --mirror file://{})", p.display(), p.parent().unwrap().display());
                }
            }
            Ok(())
        }
    }
}
