//! Legitimate variants: ways a *correct* implementation may answer where the documentation
//! leaves room, modelled on how ASP.NET Web API 2 and ASP.NET Core answer by default (contract-
//! notes §11) and on what the docs call "usually". The harness must pass every one of them, alone
//! and all at once — a rule that fails a variant is a false alarm.

use std::collections::BTreeSet;

named_behaviours! {
    /// One legitimate way to answer.
    Variant {
        AspNet401Body = "aspnet_401_body": "401 answers ASP.NET Web API's {\"Message\":\"Authorization has been denied for this request.\"}, not an envelope",
        EmptyErrorBodies = "empty_error_bodies": "400, 401 and 404 answer with an empty body (ASP.NET Core's default for 401)",
        ProblemDetails = "problem_details": "400 and 404 answer RFC 7807 application/problem+json (ASP.NET Core [ApiController]); 401 an empty body",
        SuccessValueMessage = "success_value_message": "the success envelope carries a Value and a Message (the docs say 'usually null')",
        ExtraMembers = "extra_members": "the user, the profiles, the list and the envelope carry undocumented members",
        NullableMembers = "nullable_members": "CompanyName of individual profiles and the virtual-office members are null",
        ErrorsArray = "errors_array": "failure envelopes list typed Errors [{AttemptedValue, Message, PropertyName}] as the admin REST API does",
        ShuffledList = "shuffled_list": "the profile list comes in a different order on every read",
        ConnectionClose = "connection_close": "every response says Connection: close",
        ChunkedBodies = "chunked_bodies": "bodies are sent chunked, without Content-Length",
        Throttle409 = "throttle_409": "every third request is throttled: 409 with Retry-After: 0 and an empty body (Nexudus's documented limit answer)",
        ThrottleConcurrentSwitch = "throttle_concurrent_switch": "a switch that arrives while another is in progress is answered 409 with Retry-After: 1 and an empty body (a per-account write lock)",
        Throttle429 = "throttle_429": "every third request is throttled: 429 with Retry-After: 0",
        NotFoundForBadId = "not_found_for_bad_id": "a missing or non-numeric coworkerId answers 404 (ASP.NET Web API finds no action whose parameters bind)",
        InactiveForbidden = "inactive_forbidden": "switching to an inactive profile is refused with 403",
        Method501 = "method_501": "methods the server does not implement answer 501 Not Implemented instead of 405 (RFC 9110 §15.6.2)",
        Unprocessable422 = "unprocessable_422": "a missing or malformed coworkerId answers 422 with FastAPI's {\"detail\": [...]} body",
        Other404Texts = "other_404_texts": "404 answers carry another text than ours (`No customer profile matches coworkerId N.`), the same for another user's id and an unknown one",
        CacheNoStore = "cache_no_store": "every answer says Cache-Control: no-cache, no-store, must-revalidate (a common framework default; not storable)",
        LenientRouting = "lenient_routing": "paths are routed ignoring letter case and a trailing slash, as ASP.NET routes, with the same authentication",
        TwoActiveProfiles = "two_active_profiles": "the primary user has exactly two active profiles, the README's minimum (the third is inactive)",
        RealmChallenge = "realm_challenge": "401 challenges carry a realm and error parameters: Bearer realm=\"nexudus\", error=\"invalid_token\"",
    }
}

/// The variants a server runs with; empty for the reference behaviour.
pub type Variants = BTreeSet<Variant>;
