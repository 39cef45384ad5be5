//! The outcomes a judgement is made of: every trial is passed, failed, or not judged with one
//! reason; and the counts and the verdict every sink reports in the same words.

use std::sync::Arc;
use std::time::Duration;

use crate::case::Level;
use crate::check::Finding;
pub use crate::manifest::Reason;
use crate::plan::TrialKind;
use crate::record::ExchangeRecord;

/// Why a trial failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The target broke the contract.
    Violation(Finding),
    /// The harness could not judge: a request could not be completed.
    Broken(String),
    /// An earlier step of its case failed, so this one could not be judged (or `--deny-skipped`
    /// made a missing fixture a failure).
    NotRun(String),
}

/// Why a trial was not judged — the one vocabulary every sink uses. None of these reads as a
/// pass, and only a stop or an unusable target change the exit code by themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum NotJudged {
    /// A SHOULD rule in a run that does not count them (no `--include-ignored`): what its
    /// responses showed is reported as advice.
    ShouldNotCounted(Advice),
    /// A fixture its case needs is missing.
    NeedsFixture(String),
    /// The run stopped (Ctrl-C, SIGTERM, `--deadline`) before it was judged.
    Interrupted(String),
    /// The filter or `--skip` left it out.
    Deselected,
    /// No snapshot was stored: this run's was recorded as the baseline (where it says).
    Baseline(String),
    /// A failure listed in the known-deviations ledger.
    KnownDeviation(String),
    /// The target could not be used at all.
    Unusable(String),
}

impl NotJudged {
    pub fn reason(&self) -> Reason {
        match self {
            NotJudged::ShouldNotCounted(_) => Reason::ShouldNotCounted,
            NotJudged::NeedsFixture(_) => Reason::NeedsFixture,
            NotJudged::Interrupted(_) => Reason::Interrupted,
            NotJudged::Deselected => Reason::Deselected,
            NotJudged::Baseline(_) => Reason::Baseline,
            NotJudged::KnownDeviation(_) => Reason::KnownDeviation,
            NotJudged::Unusable(_) => Reason::Unusable,
        }
    }
}

/// What a SHOULD rule's responses showed in a run that does not count SHOULD rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Advice {
    /// The responses follow it (with the check's note, if any).
    Followed(Option<String>),
    /// They do not.
    NotFollowed(Finding),
    /// It could not be judged (a request failed, an earlier step failed).
    Unknown(String),
}

/// A trial's outcome: passed, failed, or not judged (with one reason).
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The note says why, when it is not obvious.
    Passed(Option<String>),
    Failed(Failure),
    NotJudged(NotJudged),
}

impl Status {
    /// Deselected: not in the report (libtest's "filtered out").
    pub fn is_deselected(&self) -> bool {
        matches!(self, Status::NotJudged(NotJudged::Deselected))
    }

    /// A SHOULD rule not followed, as advice.
    pub fn not_followed(&self) -> Option<&Finding> {
        match self {
            Status::NotJudged(NotJudged::ShouldNotCounted(Advice::NotFollowed(f))) => Some(f),
            _ => None,
        }
    }
}

/// One trial as every report shows it.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    pub name: String,
    pub kind: TrialKind,
    pub level: Level,
    pub status: Status,
    /// Context shown before a failure's details (a sweep's count, what happened to a snapshot,
    /// an expired deviation).
    pub notes: Vec<String>,
    /// The exchange the outcome is about.
    pub exchange: Option<Arc<ExchangeRecord>>,
    /// The time of the exchanges that judged it.
    pub duration: Duration,
}

impl TrialOutcome {
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Failed(_))
    }
}

/// Counts over the outcomes: every trial is passed, failed or not judged (for one reason).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub must_passed: usize,
    pub should_passed: usize,
    pub must_failed: usize,
    pub should_failed: usize,
    /// Not judged, by reason (deselected included: libtest's "filtered out").
    pub not_judged: std::collections::BTreeMap<Reason, usize>,
    /// MUST trials not judged for a reason the user did not choose: a missing fixture, a stop,
    /// an unusable target.
    pub must_not_judged: usize,
    /// SHOULD rules judged as advice and followed.
    pub advice_followed: usize,
    /// SHOULD trials judged as advice and not followed, by trial name.
    pub advice_not_followed: Vec<String>,
    /// The SHOULD rules those trials found not followed (an invariants trial names the rules
    /// it found breached), each with how many trials found it so; sorted by rule.
    pub should_rules_not_followed: Vec<(String, usize)>,
    /// The run's wall time.
    pub duration: Duration,
}

impl Summary {
    /// Every trial not judged, deselected ones included.
    pub fn not_judged_total(&self) -> usize {
        self.not_judged.values().sum()
    }

    pub fn not_judged(&self, reason: Reason) -> usize {
        self.not_judged.get(&reason).copied().unwrap_or(0)
    }

    /// libtest's "ignored": not judged but in the report.
    pub fn ignored(&self) -> usize {
        self.not_judged_total() - self.not_judged(Reason::Deselected)
    }

    /// libtest's "filtered out".
    pub fn filtered_out(&self) -> usize {
        self.not_judged(Reason::Deselected)
    }

    /// `109 (106 SHOULD not counted, 3 needs a fixture)`, or `0`: the words every sink uses.
    pub fn not_judged_words(&self) -> String {
        let parts: Vec<String> = Reason::ALL
            .iter()
            .filter(|r| self.not_judged(**r) > 0)
            .map(|r| format!("{} {}", self.not_judged(*r), r.words()))
            .collect();
        if parts.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", self.not_judged_total(), parts.join(", "))
        }
    }
}

/// What the run as a whole comes to: the one sentence every sink leads with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every MUST rule judged holds (and every counted SHOULD rule).
    Conforms,
    /// Some counted trial failed.
    DoesNotConform,
    /// Nothing can be concluded: the run was interrupted, the target was unusable.
    NoVerdict(String),
}

impl Verdict {
    pub fn key(&self) -> &'static str {
        match self {
            Verdict::Conforms => "conforms",
            Verdict::DoesNotConform => "does_not_conform",
            Verdict::NoVerdict(_) => "no_verdict",
        }
    }

    pub fn words(&self) -> &'static str {
        match self {
            Verdict::Conforms => "conforms",
            Verdict::DoesNotConform => "does not conform",
            Verdict::NoVerdict(_) => "no verdict",
        }
    }
}
