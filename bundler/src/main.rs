//! The `bundler` command line: parses arguments, calls the library, prints results and
//! the whole error chain, and maps errors onto exit codes (0 ok, 1 failure, 2 bad input).

use std::path::PathBuf;
use std::process::ExitCode;

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

#[derive(Subcommand)]
enum Command {
    /// Show what the bundle will hold, without downloading anything.
    Plan(InventoryArgs),
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
    }
}
