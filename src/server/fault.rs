//! Faults the reference server can be started with: each is a realistic way an implementation of
//! the API gets the contract wrong, so that the harness can prove each of its rules can fail.
//!
//! Every fault is stateless or undone by the harness's restore, so the trials it makes fail do
//! not depend on the order in which cases run.

use std::collections::BTreeSet;

named_behaviours! {
    /// One injectable contract violation.
    Fault {
        AcceptForeignProfile = "accept_foreign_profile": "switching to another user's profile succeeds and makes it the default",
        ForeignProfile403 = "foreign_profile_403": "another user's profile is refused with 403, revealing that it exists",
        IgnoreMissingToken = "ignore_missing_token": "a switch without Authorization header acts as the primary user",
        AcceptAnyBearer = "accept_any_bearer": "any non-empty bearer token is accepted as the primary user",
        AcceptExpiredToken = "accept_expired_token": "expired tokens are accepted",
        AcceptRawToken = "accept_raw_token": "a token without the Bearer scheme is accepted",
        ListWithoutAuth = "list_without_auth": "the profile list answers without Authorization header, as the primary user",
        NoWwwAuthenticate = "no_www_authenticate": "401 responses carry no WWW-Authenticate header",
        UnauthorizedRedirect = "unauthorized_redirect": "unauthenticated requests are redirected (302) to a login page instead of 401",
        UnknownId200 = "unknown_id_200": "an id that names no profile answers the success envelope (nothing changes)",
        UnknownId500 = "unknown_id_500": "an id that names no profile answers 500",
        MissingId500 = "missing_id_500": "a switch without coworkerId answers 500",
        NonNumericIdSuccess = "non_numeric_id_success": "a coworkerId that is not an integer answers the success envelope",
        OverflowId500 = "overflow_id_500": "a coworkerId too large for a 64-bit integer answers 500",
        InactiveSwitchAllowed = "inactive_switch_allowed": "switching to an inactive profile succeeds",
        SwitchRequiresBody = "switch_requires_body": "the switch demands a JSON body and answers 415 without one",
        StatusNotMirrored = "status_not_mirrored": "every envelope carries Status 0 (an unset field) instead of the HTTP status",
        WasSuccessfulString = "was_successful_string": "WasSuccessful is serialised as the string \"true\"/\"false\"",
        EnvelopeOmitsNulls = "envelope_omits_nulls": "null envelope members are left out (Value, Message, Errors vanish)",
        EmptySuccessBody = "empty_success_body": "a successful switch answers 200 with an empty body",
        ErrorsAsHttp200 = "errors_as_http_200": "failures answer HTTP 200 with WasSuccessful false and the real code only in Status",
        SwitchWithoutChange = "switch_without_change": "the switch answers success but the default does not change",
        HomeProfileAlwaysDefault = "home_profile_always_default": "the user's first profile is always flagged IsDefaultProfile, so a switch shows two defaults",
        ProfileIdsAsStrings = "profile_ids_as_strings": "Profiles[].Id is serialised as a string",
        CoworkerTypeAsName = "coworker_type_as_name": "Profiles[].CoworkerType is serialised as a name (\"Individual\"/\"Company\")",
        JsonAsTextPlain = "json_as_text_plain": "JSON bodies are served as text/plain",
        ListsAllUsersProfiles = "lists_all_users_profiles": "the profile list holds every user's profiles, not just the caller's",
        LeakyPrimaryList = "leaky_primary_list": "the primary user's list also shows one profile of another user (the other user's list is right)",
        LeakyForeignList = "leaky_foreign_list": "the other user's list also shows one of the primary user's profiles (the primary user's list is right)",
        DuplicateDefaultProfile = "duplicate_default_profile": "the default profile is listed twice (a join that duplicates rows)",
        SingleProfileList500 = "single_profile_list_500": "the profile list answers 500 for users with only one profile",
        List500 = "list_500": "the profile list answers 500 for everyone (the target is unusable)",
        ForeignIdSpellingAccepted = "foreign_id_spelling_accepted": "ownership is checked on the coworkerId text and the switch uses the parsed number: another user's id with a leading zero or a sign slips through",
        Int32Overflow500 = "int32_overflow_500": "coworkerId is parsed as a 32-bit integer: values beyond 2^31 answer 500",
        EmptyIdPicksFirst = "empty_id_picks_first": "an empty coworkerId binds to 0 and switches to the user's first profile",
        RepeatedIdUnchecked = "repeated_id_unchecked": "with coworkerId repeated, ownership is checked on the first value and the switch uses the last",
        TokenPrefixMatch = "token_prefix_match": "tokens are matched by prefix, so a truncated token is accepted",
        GetSwitches = "get_switches": "GET on the switch path switches too (a safe method that changes state)",
        DeleteListClearsDefault = "delete_list_clears_default": "DELETE on the profile list clears the default profile",
        RefusalNamesOwner = "refusal_names_owner": "refusing another user's profile says whose it is (name and email) in the message",
        SwitchIgnoresTokenOwner = "switch_ignores_token_owner": "the switch acts for the profile's owner, whoever's token comes with it",
        SchemeCaseSensitive = "scheme_case_sensitive": "the authentication scheme must be written `Bearer` exactly; `bearer` is refused",
        RacySwitch = "racy_switch": "the switch flags the new default and unflags the old one in two steps, so concurrent switches leave several defaults or none",
        ExtraProfileField = "extra_profile_field": "Profiles[] items carry an undocumented UpdatedOn field (allowed by the contract; only snapshot drift shows it)",
        EchoTokenInErrors = "echo_token_in_errors": "error envelopes quote the Authorization header in Message (a leak the harness must not repeat)",
        SwitchClearsOtherDefault = "switch_clears_other_default": "the switch updates the default flag without a user filter: while the primary user's default is not their first profile, the other user's list shows no default",
        DefaultShowsHomeCompany = "default_shows_home_company": "the list joins the default profile to the user's first profile: the default shows the first profile's CompanyName",
        RefusalSaysSuccessful = "refusal_says_successful": "400 envelopes say WasSuccessful: true (the flag is set before validation and never reset)",
        StackTraceInErrors = "stack_trace_in_errors": "a coworkerId that is not a number answers 400 with the exception and its .NET stack trace in Message",
        TruncatedJsonErrors = "truncated_json_errors": "404 bodies are labelled application/json but cut short: they do not parse",
        PublicCacheList = "public_cache_list": "the profile list says Cache-Control: public, max-age=60, so a shared cache may hand one user's list to another",
        ChallengeErrorWithoutToken = "challenge_error_without_token": "every 401 challenge carries error=\"invalid_token\", also for requests that sent no token",
        DistinctForeignRefusal = "distinct_foreign_refusal": "another user's profile is refused with its own 404 text, so a caller can tell existing ids from unknown ones",
        ValidationBeforeAuth = "validation_before_auth": "coworkerId is validated before the token: a missing or malformed id without a token answers 400, not 401",
        PathCaseSkipsAuth = "path_case_skips_auth": "routing ignores letter case and a trailing slash but the authentication filter matches the path exactly: another spelling of the list's path answers the primary user's list without a token",
        StaleUserIn401 = "stale_user_in_401": "401 answers name the last signed-in user's email (a response object reused across requests)",
    }
}

/// The faults a server runs with; empty for the faithful reference implementation.
pub type Faults = BTreeSet<Fault>;
