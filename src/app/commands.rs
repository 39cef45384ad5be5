//! The subcommands besides the suite: `serve` (the reference server alone), `rules` (the catalog
//! with the faults that kill each rule) and `matrix` (manifests → compliance matrix).

use std::process::ExitCode;
use std::time::Duration;

use super::fault_matrix;
use super::signals::Signals;
use super::{load_contract, runtime};
use crate::cli::{Config, MatrixArgs, ServeArgs, SnapshotsCommand};
use crate::error::LoadError;
use crate::exit;
use crate::plan::{self, PlanOptions, Selection};
use crate::report::{self, Output};
use crate::server::{self, Fault, FixedTokens, ServerOptions, Variant};

/// `snapshots accept LABEL`: every pending snapshot of the target becomes its stored one.
pub fn snapshots(command: &SnapshotsCommand, output: &Output) -> ExitCode {
    let SnapshotsCommand::Accept { label, dir } = command;
    match crate::snapshot::accept_pending(dir, label) {
        Ok(accepted) if accepted.is_empty() => {
            output.out(&format!(
                "nothing to accept: no pending snapshots (.snap.new) in {}",
                dir.join(crate::snapshot::sanitize_label(label)).display()
            ));
            ExitCode::from(exit::OK)
        }
        Ok(accepted) => {
            for path in &accepted {
                output.out(&format!("accepted {}", path.display()));
            }
            output.out(&format!(
                "{} snapshot{} of target `{}` accepted",
                accepted.len(),
                if accepted.len() == 1 { "" } else { "s" },
                crate::snapshot::sanitize_label(label)
            ));
            ExitCode::from(exit::OK)
        }
        Err(e) => output.load_error(&e),
    }
}

/// `contract [SECTION]`: the document the rules cite as `notes`, or the section a citation names.
pub fn contract(section: Option<&str>, output: &Output) -> ExitCode {
    match crate::source::contract_section(section.unwrap_or_default()) {
        Some(text) => {
            output.out(&text);
            ExitCode::from(exit::OK)
        }
        None => {
            output.err(&format!(
                "error: docs/contract.md has no section `{}`; sections are numbered like `10`, \
                 `10.13` or `10.1-2` (run `contract` without one for the whole document)",
                section.unwrap_or_default()
            ));
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// `openapi`: the contract as an OpenAPI 3.1 document on stdout.
pub fn openapi(config: &Config, output: &Output) -> ExitCode {
    let (suite, files) = match load_contract(&config.contract, true) {
        Ok(loaded) => loaded,
        Err(e) => return output.load_error(&e),
    };
    let runtime = match runtime(output) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let document = runtime
        .block_on(super::openapi::examples())
        .and_then(|examples| super::openapi::document(&suite, &files, &examples))
        .and_then(|document| serde_json::to_string_pretty(&document).map_err(|e| e.to_string()));
    match document {
        Ok(text) => {
            output.out(&text);
            ExitCode::from(exit::OK)
        }
        Err(why) => {
            output.err(&format!("error: cannot write the OpenAPI document: {why}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        }
    }
}

/// `matrix`: manifests in, the compliance matrix out (Markdown on stdout, HTML on request).
pub fn matrix(args: &MatrixArgs, output: &Output) -> ExitCode {
    let mut manifests = Vec::with_capacity(args.manifests.len());
    for path in &args.manifests {
        match crate::manifest::load(path) {
            Ok(m) => manifests.push(m),
            Err(e) => return output.load_error(&e),
        }
    }
    let targets = crate::matrix::group(manifests);
    for warning in targets.iter().filter_map(crate::matrix::TargetRuns::mixed) {
        output.err(&format!("warning: {warning}"));
    }
    if let Some(path) = &args.html
        && let Err(e) = output.write_file(path, &crate::matrix::html(&targets))
    {
        return output.load_error(&LoadError::new(
            "--html",
            format!("cannot write {}: {e}", path.display()),
        ));
    }
    output.out(&crate::matrix::markdown(&targets));
    ExitCode::from(exit::OK)
}

/// `rules`: the catalog, with the faults that kill each rule (computed by running them).
pub fn rules(config: &Config, output: &Output) -> ExitCode {
    let (cases, _) = match load_contract(&config.contract, true) {
        Ok(loaded) => loaded,
        Err(e) => return output.load_error(&e),
    };
    let plan = plan::build(cases, PlanOptions::default(), &|_, _| Selection::Run);
    let runtime = match runtime(output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(fault_matrix::compute(&plan, &config.http_options(false))) {
        Ok(matrix) => {
            report::print_rules(&plan, &matrix.kills(), output);
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            output.err(&format!("error: {e}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        }
    }
}

/// `serve`: the reference server alone, printing its base URL and fixtures.
pub fn serve(args: &ServeArgs) -> ExitCode {
    // The reference server's tokens are fixtures meant to be copied; this is the one place that
    // prints them, so it writes without the redactor's secrets.
    let output = Output::default();
    if args.list_faults {
        for fault in Fault::ALL {
            output.out(&format!("{:<26} {}", fault.name(), fault.description()));
        }
        return ExitCode::from(exit::OK);
    }
    if args.list_variants {
        for variant in Variant::ALL {
            output.out(&format!("{:<24} {}", variant.name(), variant.description()));
        }
        return ExitCode::from(exit::OK);
    }
    let runtime = match runtime(&output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let tokens = FixedTokens {
        primary: args.primary_token.clone(),
        foreign: args.foreign_token.clone(),
        expired: args.expired_token.clone(),
        password: args.password.clone(),
    };
    runtime.block_on(async {
        let options = ServerOptions {
            host: args.host,
            port: args.port,
            faults: args.faults.iter().copied().collect(),
            variants: args.variants.iter().copied().collect(),
            tokens: Some(tokens),
            latency: Duration::from_millis(args.latency_ms),
            throttle: None,
        };
        let server = match server::start(&options).await {
            Ok(s) => s,
            Err(e) => {
                output.err(&format!(
                    "error: cannot listen on {}:{}: {e}; choose another --port (0 picks a free one)",
                    args.host, args.port
                ));
                return ExitCode::from(exit::BAD_INPUT);
            }
        };
        let c = server.credentials();
        // Shell lines: what to paste into another terminal, the rest as comments.
        output.out(&format!(
            "# reference server listening on {}",
            server.base_url()
        ));
        if !args.faults.is_empty() {
            let names: Vec<&str> = args.faults.iter().map(|f| f.name()).collect();
            output.out(&format!("# faults: {}", names.join(", ")));
        }
        if !args.variants.is_empty() {
            let names: Vec<&str> = args.variants.iter().map(|v| v.name()).collect();
            output.out(&format!("# variants: {}", names.join(", ")));
        }
        output.out(&format!("export NEXUDUS_BASE_URL={}", server.base_url()));
        output.out("# the primary user, who has four profiles (one inactive), by token:");
        output.out(&format!("export NEXUDUS_TOKEN={}", c.primary_token));
        output.out(&format!("export NEXUDUS_EXPIRED_TOKEN={}", c.expired_token));
        output.out("# ... or by sign-in instead of a token:");
        output.out(&format!(
            "# export NEXUDUS_USERNAME={} NEXUDUS_PASSWORD={}",
            c.primary_email, c.password
        ));
        output.out("# the second user, who owns one profile (the cross-account cases):");
        output.out(&format!("export NEXUDUS_FOREIGN_TOKEN={}", c.foreign_token));
        output.out(&format!(
            "# export NEXUDUS_FOREIGN_USERNAME={} NEXUDUS_FOREIGN_PASSWORD={}",
            c.foreign_email, c.password
        ));
        output.out("# a user with two-factor authentication (sign-in needs the code):");
        output.out(&format!(
            "# export NEXUDUS_USERNAME={} NEXUDUS_PASSWORD={} NEXUDUS_TOTP={}",
            c.totp_email, c.password, c.totp_code
        ));
        output.out("# press Ctrl-C to stop");
        match Signals::register() {
            Ok(mut signals) => signals.next().await,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        server.stop().await;
        ExitCode::from(exit::OK)
    })
}
