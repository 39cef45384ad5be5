//! "did you mean" suggestions for misspelt names (case files, faults, ledger entries).

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Appends "did you mean `x`?" to a serde message of the form
/// "unknown field `a`, expected one of `b`, `c`" (also "unknown variant …", "expected `b`").
pub fn annotate_serde_message(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message.to_string();
    };
    let Some((word, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match closest(word, candidates) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
}

/// Optimal-string-alignment distance, case-insensitive: insertions, deletions, substitutions and
/// transpositions of neighbours each cost 1 (so `levle` is one step from `level`).
fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(&a.to_lowercase(), &b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let cases = [
            (
                "stauts",
                &["status", "header", "schema"][..],
                Some("status"),
            ),
            ("primry", &["primary", "foreign"][..], Some("primary")),
            ("zzz", &["primary", "foreign"][..], None),
            ("Status", &["status"][..], Some("status")),
            ("levle", &["id", "level", "cites"][..], Some("level")),
        ];
        for (word, candidates, expected) in cases {
            assert_eq!(
                closest(word, candidates.iter().copied()),
                expected,
                "{word}"
            );
        }
    }

    #[test]
    fn serde_messages_gain_a_suggestion() {
        assert_eq!(
            annotate_serde_message("unknown field `stauts`, expected one of `status`, `header`"),
            "unknown field `stauts`, expected one of `status`, `header`; did you mean `status`?"
        );
        assert_eq!(
            annotate_serde_message("unknown variant `mst`, expected `must` or `should`"),
            "unknown variant `mst`, expected `must` or `should`; did you mean `must`?"
        );
        assert_eq!(
            annotate_serde_message("missing field `id`"),
            "missing field `id`"
        );
    }
}
