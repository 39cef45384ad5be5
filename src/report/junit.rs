//! The JUnit sink (`--junit`): one testcase per trial (classname = case, name = the rest of the
//! trial name), failures and errors with the console's text, skipped trials with their reason,
//! the target, its label and the harness version as properties.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::RunInfo;
use super::output::Output;
use super::text::{failure_text, short_message};
use crate::judge::{Failure, Ignored, Judgement, Status};
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
    for o in &judgement.outcomes {
        let status = match &o.status {
            Status::FilteredOut => continue,
            Status::Passed(_) => TestCaseStatus::success(),
            Status::Ignored(why) => {
                let mut s = TestCaseStatus::skipped();
                let kind = match why {
                    Ignored::KnownDeviation(_) => Some("known deviation"),
                    Ignored::Baseline(_) => Some("baseline recorded"),
                    Ignored::ShouldRule | Ignored::MissingFixture(_) => None,
                };
                if let Some(kind) = kind {
                    s.set_type(kind);
                }
                s.set_message(short_message(&o.status));
                s
            }
            Status::Failed(failure) => {
                let (kind, ty) = match failure {
                    Failure::Violation(_) => (NonSuccessKind::Failure, "violation"),
                    Failure::Broken(_) => (NonSuccessKind::Error, "broken"),
                    Failure::NotRun(_) | Failure::Unusable(_) => (NonSuccessKind::Error, "not run"),
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
