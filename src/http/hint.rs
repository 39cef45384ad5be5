//! What a connection error tells the user to check: the other protocol than the URL's scheme, a
//! refused connection, a certificate from a CA this machine does not trust.

/// A connection error with what to check: a refused connection names the address, an unknown
/// certificate authority names `--cacert`.
pub(super) fn with_hint(base: &str, chain: String) -> String {
    let authority = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    if chain.contains("Connection refused") || chain.contains("os error 111") {
        format!(
            "{chain}; is a server listening at {authority}? (check --base-url, or start the \
             implementation with --spawn)"
        )
    } else if chain.contains("UnknownIssuer") || chain.contains("unknown issuer") {
        format!(
            "{chain}; the server's certificate is not signed by a CA this machine trusts: pass \
             the CA's certificate with --cacert FILE (PEM)"
        )
    } else {
        chain
    }
}

/// What to do when the target speaks the other protocol than its URL's scheme says: rustls
/// reading a plain-HTTP answer as TLS, or hyper reading a TLS answer as HTTP.
pub(super) fn scheme_mismatch(base: &str, chain: &str) -> Option<String> {
    let (scheme, rest) = base.split_once("://")?;
    let tls_read_plain = chain.contains("InvalidContentType") || chain.contains("corrupt message");
    let plain_read_tls = chain.contains("invalid HTTP version") || chain.contains("invalid HTTP");
    match scheme {
        "https" if tls_read_plain => Some(format!(
            "the server answered plain HTTP, not TLS: use http://{rest} instead of {base}"
        )),
        "http" if plain_read_tls => Some(format!(
            "the server answered with TLS, not plain HTTP: use https://{rest} instead of {base}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_protocol_than_the_scheme_says_is_named() {
        assert_eq!(
            scheme_mismatch(
                "https://h:1/p",
                "error sending request: received corrupt message of type InvalidContentType"
            ),
            Some("the server answered plain HTTP, not TLS: use http://h:1/p instead of https://h:1/p".into())
        );
        assert_eq!(
            scheme_mismatch("http://h:1", "client error: invalid HTTP version parsed"),
            Some("the server answered with TLS, not plain HTTP: use https://h:1 instead of http://h:1".into())
        );
        assert_eq!(scheme_mismatch("http://h:1", "connection refused"), None);
    }

    #[test]
    fn refused_connections_and_unknown_issuers_say_what_to_check() {
        let refused = with_hint(
            "http://127.0.0.1:9/x",
            "tcp connect error: Connection refused (os error 111)".into(),
        );
        assert!(refused.ends_with("is a server listening at 127.0.0.1:9? (check --base-url, or start the implementation with --spawn)"), "{refused}");
        let issuer = with_hint(
            "https://h",
            "invalid peer certificate: UnknownIssuer".into(),
        );
        assert!(issuer.contains("--cacert FILE"), "{issuer}");
        assert_eq!(with_hint("https://h", "reset".into()), "reset");
    }
}
