//! What is said before a run: `--list` (libtest's lines, then what the selection holds) and the
//! preamble (the target, and what the plan costs).

use std::time::Duration;

use libtest_mimic::{Arguments, FormatSetting};

use super::output::Output;
use super::text::plural;
use crate::case::Level;
use crate::plan::{Cost, Plan};

/// `--list`: the trial names the way libtest prints them, without running anything; then (not
/// with `--format terse`, which tools parse) libtest's count line and what the selection holds:
/// the trials by level, and what each needs beyond the primary user's token.
pub fn list(plan: &Plan, args: &Arguments, output: &Output) {
    let shown: Vec<&crate::plan::TrialSpec> =
        plan.trials.iter().filter(|t| !t.filtered_out).collect();
    let mut lines: Vec<String> = shown.iter().map(|t| format!("{}: test", t.name)).collect();
    if !matches!(args.format, Some(FormatSetting::Terse)) && !args.quiet {
        lines.extend(list_summary(plan, &shown));
    }
    if !lines.is_empty() {
        output.out(&lines.join("\n"));
    }
}

fn list_summary(plan: &Plan, shown: &[&crate::plan::TrialSpec]) -> Vec<String> {
    let count = |f: &dyn Fn(&&&crate::plan::TrialSpec) -> bool| shown.iter().filter(f).count();
    let must = count(&|t| t.level == Level::Must);
    let should = shown.len() - must;
    let advice = count(&|t| !t.counts);
    let mut lines = vec![
        String::new(),
        format!("{} test{}, 0 benchmarks", shown.len(), plural(shown.len())),
        format!(
            "by level: {must} MUST, {should} SHOULD; {}",
            if advice == 0 {
                format!("all {} counted", shown.len())
            } else {
                format!(
                    "{} counted, {advice} judged as advice (--include-ignored counts them)",
                    shown.len() - advice
                )
            }
        ),
    ];
    // What each fixture is needed by: trials and cases.
    let mut needs: std::collections::BTreeMap<&str, (usize, usize, Vec<&str>)> = Default::default();
    for t in shown {
        let Some(case) = t.kind.case().and_then(|ci| plan.cases.get(ci)) else {
            continue;
        };
        let mut seen: Vec<&str> = Vec::new();
        for need in case.fixtures.iter().filter_map(|f| f.needs()) {
            if seen.contains(&need) {
                continue;
            }
            seen.push(need);
            let entry = needs.entry(need).or_default();
            entry.0 += 1;
            if t.level == Level::Must {
                entry.1 += 1;
            }
            if !entry.2.contains(&case.id.as_str()) {
                entry.2.push(&case.id);
            }
        }
    }
    if needs.is_empty() {
        lines.push("fixtures: every trial listed needs only the primary user's token".into());
    } else {
        lines.push("beyond the primary user's token, trials need:".into());
        for (need, (trials, must, cases)) in needs {
            lines.push(format!(
                "  {need}: {trials} trial{} ({must} MUST) of {} ({})",
                plural(trials),
                if cases.len() == 1 {
                    "1 case".to_string()
                } else {
                    format!("{} cases", cases.len())
                },
                cases.join(", ")
            ));
        }
    }
    lines
}

/// The preamble's first lines (`target: URL (kind)` and what the plan costs), or `None` when
/// the console is quiet (`-q`, `--format json`). It is printed once discovery is done, before
/// progress. `pace` and `write_pace` are the pacer's, when it paces.
pub fn preamble(
    base_url: &str,
    kind: &str,
    cost: &Cost,
    pace: (Option<Duration>, Option<Duration>),
    args: &Arguments,
) -> Option<String> {
    (!(args.quiet || matches!(args.format, Some(FormatSetting::Json)))).then(|| {
        format!(
            "target: {base_url} ({kind})\nplan: {}",
            describe_cost(cost, pace)
        )
    })
}

/// `44 round trips, 172 requests (98 writes) + up to 1084 more if the target changes the
/// account; paced at 2 requests/s: 1m37s, up to 10m27s if it does`.
fn describe_cost(cost: &Cost, (pace, write_pace): (Option<Duration>, Option<Duration>)) -> String {
    let needed = cost.needed();
    let mut text = format!(
        "{} round trip{}, {} request{} ({} write{}) + up to {} more if the target changes the account",
        cost.round_trips,
        plural(cost.round_trips),
        needed.requests,
        plural(needed.requests),
        needed.writes,
        plural(needed.writes),
        cost.when_needed,
    );
    if let (Some(pace), Some(least), Some(most)) = (
        pace,
        needed.paced_time(pace, write_pace),
        cost.paced_time(pace, write_pace),
    ) {
        let rate = format!("{:.3}", 1.0 / pace.as_secs_f64());
        text.push_str(&format!(
            "; paced at {} requests/s: {}, up to {} if it does",
            rate.trim_end_matches('0').trim_end_matches('.'),
            minutes(least),
            minutes(most),
        ));
    }
    text
}

/// `1m37s`, or `0.2s` under a minute.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
