//! The application: dispatches the command line to the suite or a subcommand, and owns the
//! process-level concerns — the runtime, signals, the target's lifetime, the one redacting
//! output. It is the only layer that knows every stage; the stages know only those below them.

mod commands;
mod fault_matrix;
mod journal;
pub mod openapi;
mod signals;
mod suite;
mod target;

use std::process::ExitCode;

use crate::case::{Suite, load_suite};
use crate::cli::{self, Command, Config, ContractArgs};
use crate::contract::Contract;
use crate::error::LoadError;
use crate::exit;
use crate::redact::Redactor;
use crate::report::Output;
use crate::source;

pub use fault_matrix::{FaultMatrix, compute as compute_fault_matrix};

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = cli::parse();
    let output = Output::new(Redactor::new(cli::secrets(&cli)));
    if let Some(Command::Serve(args)) = &cli.command {
        return commands::serve(args);
    }
    if let Some(Command::Matrix(args)) = &cli.command {
        return commands::matrix(args, &output);
    }
    if let Some(Command::Snapshots(command)) = &cli.command {
        return commands::snapshots(command, &output);
    }
    if let Some(Command::Contract { section }) = &cli.command {
        return commands::contract(section.as_deref(), &output);
    }
    let config = match Config::from_cli(&cli) {
        Ok(config) => config,
        Err(e) => return output.load_error(&e),
    };
    match &cli.command {
        Some(Command::Rules) => commands::rules(&config, &output),
        Some(Command::Openapi) => commands::openapi(&config, &output),
        _ => suite::suite(&config, &output),
    }
}

/// libtest-style output is written with `unwrap`-free writes, but a closed stdout (`--list | head`)
/// can still make a dependency panic. Like ripgrep, end quietly instead; every other panic keeps
/// the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.contains("Broken pipe") {
            std::process::exit(i32::from(exit::OK));
        }
        default(info);
    }));
}

/// Loads the schemas, then the cases against them; also returns the contract's files (for its
/// hash, which only a run's reports need — `--list` does not pay for it).
///
/// # Errors
/// Bad input: a missing directory, a broken schema or case file.
/// `every_schema`: compile every schema file, also one no case uses (not needed to list trials).
pub fn load_contract(
    args: &ContractArgs,
    every_schema: bool,
) -> Result<(Suite, Vec<source::SourceFile>), LoadError> {
    let schema_files = match &args.schemas {
        Some(dir) => source::read_dir(dir)?,
        None => source::embedded_schemas(),
    };
    let case_files = match &args.cases {
        Some(dir) => source::read_dir(dir)?,
        None => source::embedded_cases(),
    };
    if schema_files.is_empty() {
        let dir = args
            .schemas
            .as_ref()
            .map_or("schemas".into(), |d| d.display().to_string());
        return Err(LoadError::new(
            dir,
            "no schema files (*.json) found; point --schemas at the contract's schemas",
        ));
    }
    // An error shows the line it is about: the files' texts go with it.
    let texts = |files: &[source::SourceFile]| {
        let files = files.to_vec();
        move |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .map(|f| std::sync::Arc::<str>::from(f.text.as_str()))
        }
    };
    let schema_text = texts(&schema_files);
    let mut contract = Contract::load(&schema_files).map_err(|e| e.with_sources(&schema_text))?;
    if every_schema {
        contract
            .check_all()
            .map_err(|e| e.with_sources(&schema_text))?;
    }
    if case_files.is_empty() {
        let dir = args
            .cases
            .as_ref()
            .map_or("cases".into(), |d| d.display().to_string());
        return Err(LoadError::new(
            dir,
            "no case files (*.json) found; a run with no cases proves nothing — point --cases at a directory of case files",
        ));
    }
    let case_text = texts(&case_files);
    let suite = load_suite(&case_files, &mut contract).map_err(|e| e.with_sources(&case_text))?;
    Ok((suite, schema_files.into_iter().chain(case_files).collect()))
}

fn runtime(output: &Output) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            output.err(&format!("error: cannot start the async runtime: {e}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        })
}
