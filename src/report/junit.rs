//! The JUnit sink (`--junit`): one testcase per trial (classname = case, name = the rest of the
//! trial name), failures and errors with the console's text, skipped trials with their reason,
//! the target, its label and the harness version as properties.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::RunInfo;
use super::output::Output;
use super::text::{failure_text, short_message};
use crate::judge::{Failure, Judgement, Reason, Status};
use crate::plan::Plan;

/// The JUnit XML of a judged run (unredacted).
///
/// # Errors
/// When quick-junit cannot serialise it.
pub fn render(plan: &Plan, judgement: &Judgement, info: &RunInfo) -> Result<String, String> {
    let mut suite = TestSuite::new("nexudus-conformance");
    suite.add_property(Property::new("target", info.base_url.as_str()));
    suite.add_property(Property::new("target_label", info.target_label.as_str()));
    suite.add_property(Property::new("target_kind", info.target_kind.as_str()));
    suite.add_property(Property::new("harness_version", env!("CARGO_PKG_VERSION")));
    suite.set_time(judgement.summary.duration);
    // The run's verdict and counts, in the words every sink uses.
    let s = &judgement.summary;
    suite.add_property(Property::new("verdict", judgement.verdict.key()));
    suite.add_property(Property::new(
        "verdict_text",
        super::console::verdict_lines(judgement).join("\n").as_str(),
    ));
    suite.add_property(Property::new(
        "not_judged",
        s.not_judged_total().to_string().as_str(),
    ));
    for reason in Reason::ALL {
        let n = s.not_judged(reason);
        if n > 0 {
            suite.add_property(Property::new(
                format!("not_judged.{}", reason.key()).as_str(),
                n.to_string().as_str(),
            ));
        }
    }
    for o in &judgement.outcomes {
        let status = match &o.status {
            // Deselected trials are not in the report, as libtest and nextest leave them out.
            _ if o.status.is_deselected() => continue,
            Status::Passed(_) => TestCaseStatus::success(),
            // Skipped, with the reason as its type and message, and as the element's text: GitLab
            // shows a skipped test's reason from that text (docs.gitlab.com/ci/testing/
            // unit_test_reports), GitHub's JUnit reporters from the message; neither counts it
            // as a failure, so a SHOULD rule not followed is visible without failing the job.
            Status::NotJudged(why) => {
                let mut skipped = TestCaseStatus::skipped();
                skipped.set_type(match why.reason() {
                    Reason::ShouldNotCounted => match o.status.not_followed() {
                        Some(_) => "SHOULD not followed",
                        None => Reason::ShouldNotCounted.words(),
                    },
                    other => other.words(),
                });
                let message = short_message(&o.status);
                skipped.set_description(failure_text(plan, o).unwrap_or_else(|| message.clone()));
                skipped.set_message(message);
                skipped
            }
            Status::Failed(failure) => {
                let (kind, ty) = match failure {
                    Failure::Violation(_) => (NonSuccessKind::Failure, "violation"),
                    Failure::Broken(_) => (NonSuccessKind::Error, "broken"),
                    Failure::NotRun(_) => (NonSuccessKind::Error, "not run"),
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_type(ty);
                s.set_message(short_message(&o.status));
                if let Some(text) = failure_text(plan, o) {
                    s.set_description(text);
                }
                s
            }
        };
        let (classname, short) = o.name.split_once("::").unwrap_or(("", o.name.as_str()));
        let mut case = TestCase::new(short, status);
        case.set_classname(classname);
        case.set_time(o.duration);
        suite.add_test_case(case);
    }
    let mut junit = Report::new("nexudus-conformance");
    junit.set_time(judgement.summary.duration);
    junit.add_test_suite(suite);
    junit.to_string().map_err(|e| e.to_string())
}

/// Writes the JUnit report, redacted.
///
/// # Errors
/// When the file cannot be written.
pub fn write(
    path: &std::path::Path,
    plan: &Plan,
    judgement: &Judgement,
    info: &RunInfo,
    output: &Output,
) -> std::io::Result<()> {
    let xml = render(plan, judgement, info).map_err(std::io::Error::other)?;
    output.write_file(path, &xml)
}
