//! The `bundler` command line: parses arguments, calls the library, prints results and
//! the whole error chain, and maps errors onto exit codes (0 ok, 1 failure, 2 bad input).

mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bundler",
    version,
    about = "Build an air-gapped Kubernetes 1.9 bundle from an Ansible/kubespray inventory"
)]
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
}

#[derive(Subcommand)]
enum Command {
    /// Show what the bundle will hold, without downloading anything.
    Plan(InventoryArgs),
    /// Download and verify every file artifact the plan needs into the cache.
    Fetch(FetchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                let diags = match &e {
                    bundler::Error::Input(d) => d.0.clone(),
                    other => vec![bundler::error::Diagnostic::error(None, other.to_string())],
                };
                let doc = serde_json::json!({ "ok": false, "exit_code": e.exit_code(), "diagnostics": diags });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap());
            }
            eprintln!("{e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: &Cli) -> bundler::Result<()> {
    match &cli.command {
        Command::Plan(a) => {
            let plan = bundler::plan(&a.inventory, a.catalog.as_deref())?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).expect("plan serialises")
                );
            } else if !cli.quiet {
                print!("{}", plan.to_text());
            } else {
                for w in &plan.warnings {
                    eprintln!("{w}");
                }
            }
            Ok(())
        }
        Command::Fetch(a) => {
            let plan = bundler::plan(&a.inv.inventory, a.inv.catalog.as_deref())?;
            let opts = bundler::fetch::Options {
                cache: bundler::fetch::default_cache(a.cache.as_deref()),
                mirrors: bundler::fetch::mirror_list(&a.mirror, &plan),
                no_upstream: a.no_upstream,
                offline: a.offline,
                jobs: a.jobs,
                ca_cert: a.ca_cert.clone(),
                stall_timeout: Duration::from_secs(a.stall_timeout.max(1)),
                retry: bundler::fetch::RetryPolicy {
                    attempts: a.retries.max(1),
                    ..Default::default()
                },
            };
            let wants = bundler::fetch::Want::from_plan(&plan);
            let reporter = progress::Progress::new(cli.quiet || cli.json);
            let fetched = bundler::fetch::fetch(&wants, &opts, &reporter)?;
            let export = match &a.export {
                Some(dir) => Some(bundler::fetch::export(&fetched, dir)?),
                None => None,
            };
            if cli.json {
                let doc = serde_json::json!({ "ok": true, "cache": opts.cache, "artifacts": fetched, "export": export });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap());
            } else if !cli.quiet {
                eprintln!(
                    "{} artifact(s) verified in {}",
                    fetched.len(),
                    opts.cache.display()
                );
                if let Some(p) = export {
                    eprintln!(
                        "mirror folder written: {} (use it with --mirror file://{})",
                        p.display(),
                        p.parent().unwrap().display()
                    );
                }
            }
            Ok(())
        }
    }
}
