//! What CI users get: the archives the release workflow builds are the ones `cargo binstall`
//! looks for, and the action's logic (scripts/action.sh) runs the harness and reports its code.

use std::path::Path;
use std::process::Command;

use crate::support::workdir;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The `key = value` lines of a section of a TOML file, up to the next section, quotes removed.
fn toml_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut lines = text.lines().skip_while(|l| l.trim() != section);
    assert!(lines.next().is_some(), "no {section}");
    lines
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The value `key` has in `section`.
fn toml_value(text: &str, section: &str, key: &str) -> String {
    toml_section(text, section)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
        .unwrap_or_else(|| panic!("no {key} in {section}"))
}

#[test]
fn the_archives_are_the_build_the_bench_measures() {
    let cargo = repo_file("Cargo.toml");
    let mut dist = toml_section(&cargo, "[profile.dist]");
    assert!(
        dist.contains(&("inherits".into(), "release".into())),
        "{dist:?}"
    );
    dist.retain(|(k, _)| k != "inherits");
    assert!(dist.contains(&("opt-level".into(), "3".into())), "{dist:?}");
    assert_eq!(toml_section(&cargo, "[profile.bench]"), dist);
    // `cargo install` builds `release`, made for build time: not what the figures describe.
    assert_eq!(toml_value(&cargo, "[profile.release]", "opt-level"), "0");
    let workflow = repo_file(".github/workflows/release.yml");
    let builds: Vec<&str> = workflow.lines().filter(|l| l.contains(" build ")).collect();
    assert_eq!(builds.len(), 2, "{builds:?}");
    for build in builds {
        assert!(
            build.contains("--profile dist") && !build.contains("--release"),
            "{build}"
        );
    }
    assert!(
        repo_file("scripts/package.sh")
            .contains(r#"cp "target/$target/dist/nexudus-conformance$ext""#)
    );
}

#[test]
fn binstall_looks_for_the_archives_the_release_workflow_builds() {
    let cargo = repo_file("Cargo.toml");
    let version = toml_value(&cargo, "[package]", "version");
    let name = toml_value(&cargo, "[package]", "name");
    let repo = toml_value(&cargo, "[package]", "repository");
    let url = toml_value(&cargo, "[package.metadata.binstall]", "pkg-url");
    let bin_dir = toml_value(&cargo, "[package.metadata.binstall]", "bin-dir");
    let workflow = repo_file(".github/workflows/release.yml");
    let targets: Vec<&str> = workflow
        .lines()
        .filter_map(|l| l.split_once("target: ")?.1.split([',', ' ']).next())
        .collect();
    assert_eq!(targets.len(), 5, "{targets:?}");
    for target in targets {
        let windows = target.contains("windows");
        let suffix = if windows { ".zip" } else { ".tgz" };
        let render = |template: &str| {
            template
                .replace("{ repo }", &repo)
                .replace("{ name }", &name)
                .replace("{ version }", &version)
                .replace("{ target }", target)
                .replace("{ archive-suffix }", suffix)
                .replace("{ bin }", &name)
                .replace("{ binary-ext }", if windows { ".exe" } else { "" })
        };
        // The workflow packs with scripts/package.sh: the name it gives is the one binstall asks
        // the release for.
        let packed = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package.sh"))
            .args(["--name", target, &version])
            .output()
            .unwrap();
        let packed = String::from_utf8(packed.stdout).unwrap().trim().to_string();
        assert_eq!(
            render(&url),
            format!("{repo}/releases/download/v{version}/{packed}"),
            "{target}"
        );
        // The binary is where binstall looks inside the archive.
        let stem = packed.trim_end_matches(suffix);
        let exe = if windows { ".exe" } else { "" };
        assert_eq!(render(&bin_dir), format!("{stem}/{name}{exe}"), "{target}");
    }
}

/// Runs scripts/action.sh as the action's run step does; returns what it wrote to
/// `$GITHUB_OUTPUT` and the folder it ran in.
fn action(name: &str, args: &str) -> (String, std::path::PathBuf) {
    let dir = workdir().join(format!("action-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("github-output");
    let status = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/action.sh"))
        .current_dir(workdir())
        .env(
            "NEXUDUS_CONFORMANCE",
            env!("CARGO_BIN_EXE_nexudus-conformance"),
        )
        .env("INPUT_ARGS", args)
        .env("INPUT_JUNIT", dir.join("conformance.xml"))
        .env("INPUT_REPORT_HTML", dir.join("report"))
        .env("GITHUB_OUTPUT", &output)
        .env_remove("NEXUDUS_BASE_URL")
        .env_remove("NEXUDUS_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    // The step succeeds whatever the verdict, so the reports are uploaded.
    assert!(status.success());
    (std::fs::read_to_string(output).unwrap_or_default(), dir)
}

#[test]
fn the_action_runs_the_harness_and_passes_on_its_exit_code() {
    let (out, dir) = action(
        "pass",
        "--progress never --exact valid_switch::status_is_200",
    );
    assert_eq!(out.trim(), "exit-code=0");
    assert!(dir.join("conformance.xml").is_file());
    assert!(dir.join("report").join("index.html").is_file());
    // A filter that selects nothing is bad input: the code says so.
    let (out, _) = action("bad", "--progress never --exact no_such_trial");
    assert_eq!(out.trim(), "exit-code=2");
}

#[test]
fn the_action_passes_every_input_its_script_reads() {
    let action = repo_file("action.yml");
    let script = repo_file("scripts/action.sh");
    // Inputs declared: the two-space-indented keys under `inputs:`.
    let declared: Vec<&str> = action
        .split("\ninputs:\n")
        .nth(1)
        .unwrap()
        .split("\noutputs:")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    assert_eq!(
        declared,
        ["spawn", "base-url", "args", "junit", "report-html"],
        "{action}"
    );
    // Each is handed to the script as INPUT_<NAME>, and the script reads each of those.
    for input in &declared {
        let var = format!("INPUT_{}", input.to_uppercase().replace('-', "_"));
        assert!(
            action.contains(&format!("{var}: ${{{{ inputs.{input} }}}}")),
            "action.yml does not pass {input} as {var}"
        );
        assert!(
            script.contains(&var),
            "scripts/action.sh does not read {var}"
        );
    }
    let read: Vec<&str> = script
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("INPUT_"))
        .collect();
    for var in read {
        assert!(action.contains(var), "action.yml does not set {var}");
    }
}
