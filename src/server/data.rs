//! The reference server's in-memory accounts: three users, their profiles and their tokens.

use std::collections::HashMap;

use super::fault::Faults;

/// The fixture credentials of one server instance, for `serve` to print and for the harness to use
/// when it runs against the embedded server.
#[derive(Clone)]
pub struct Credentials {
    /// Bearer token of the user with several profiles.
    pub primary_token: String,
    /// Bearer token of a second user with one profile.
    pub foreign_token: String,
    /// A token of the primary user that has expired.
    pub expired_token: String,
    /// `User.Id` of the primary user (not a profile id).
    pub primary_user_id: i64,
    /// Sign-in email of the primary user.
    pub primary_email: String,
    /// Sign-in email of the second user.
    pub foreign_email: String,
    /// Sign-in email of a third user who has two-factor authentication.
    pub totp_email: String,
    /// The TOTP code the third user signs in with.
    pub totp_code: String,
    /// Password of every seeded user.
    pub password: String,
}

impl Credentials {
    /// Every secret of this instance: the tokens and the password.
    pub fn secrets(&self) -> [&str; 4] {
        [
            &self.primary_token,
            &self.foreign_token,
            &self.expired_token,
            &self.password,
        ]
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("primary_user_id", &self.primary_user_id)
            .finish_non_exhaustive()
    }
}

/// Tokens (and a password) to seed instead of random ones: tests use canary values, and
/// `serve --primary-token …` lets a CI job know the tokens before the server starts.
/// Each value left `None` is random.
#[derive(Clone, Default)]
pub struct FixedTokens {
    pub primary: Option<String>,
    pub foreign: Option<String>,
    pub expired: Option<String>,
    /// The seeded users' password.
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: i64,
    pub full_name: String,
    pub email: String,
    pub business: i64,
    /// The code the user must send as `totp`, when two-factor authentication is on.
    pub totp: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub id: i64,
    pub owner: i64,
    pub full_name: String,
    pub company_name: String,
    pub active: bool,
    pub coworker_type: u8,
    pub has_virtual_office: bool,
    pub virtual_office_paused: Option<bool>,
    pub virtual_office_contract_id: Option<i64>,
    /// Booking credit left, so that the benefits endpoint differs per profile.
    pub credit: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub user: i64,
    pub expired: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Business {
    pub id: i64,
    pub name: String,
    pub web_address: String,
}

/// The whole server state, behind one mutex.
#[derive(Debug)]
pub(crate) struct Db {
    pub users: Vec<User>,
    pub profiles: Vec<Profile>,
    pub tokens: HashMap<String, Token>,
    /// Refresh token → user; refreshing replaces the user's refresh token.
    pub refresh_tokens: HashMap<String, i64>,
    pub password: String,
    pub businesses: Vec<Business>,
    /// The default (active) profile of each user, by user id.
    pub defaults: HashMap<i64, i64>,
    /// The contract violations this instance was started with.
    pub faults: Faults,
    /// The legitimate variants it answers with.
    pub variants: super::variant::Variants,
    /// How many profile lists it has served (the shuffled-list variant rotates by it).
    pub list_reads: u64,
    /// The profiles flagged default, per user, under the racy-switch fault (which can leave
    /// several or none).
    pub flags: HashMap<i64, std::collections::BTreeSet<i64>>,
    /// Switches started and not finished, under the racy-switch fault.
    pub switches_in_flight: u32,
    /// How many switches have started (racy-switch fault): one that saw another start while it
    /// was in flight overlapped it, whichever finishes first.
    pub switches_started: u64,
    /// The email of the user of the last authenticated request (fault `stale_user_in_401`).
    pub last_user_email: std::sync::Mutex<Option<String>>,
}

impl Db {
    /// The fixture accounts: user 7001 owns an individual profile (the default), a company
    /// profile, a profile at a second location and an inactive profile; user 7002 owns one
    /// profile; user 7003 (two-factor authentication) owns one profile.
    pub fn seeded(faults: Faults, tokens: Option<&FixedTokens>) -> (Db, Credentials) {
        let fixed = tokens.cloned().unwrap_or_default();
        let primary_token = fixed.primary.unwrap_or_else(random_token);
        let foreign_token = fixed.foreign.unwrap_or_else(random_token);
        let expired_token = fixed.expired.unwrap_or_else(random_token);
        let password = fixed.password.unwrap_or_else(random_token);
        let user = |id, full_name: &str, email: &str, totp: Option<&str>| User {
            id,
            full_name: full_name.into(),
            email: email.into(),
            business: 501,
            totp: totp.map(str::to_string),
        };
        let users = vec![
            user(7001, "Ada Example", "ada@example.test", None),
            user(7002, "Grace Other", "grace@example.test", None),
            user(7003, "Tess Twofactor", "tess@example.test", Some("246810")),
        ];
        let profile =
            |id, owner, full_name: &str, company: &str, active, kind, vo: Option<i64>| Profile {
                id,
                owner,
                full_name: full_name.into(),
                company_name: company.into(),
                active,
                coworker_type: kind,
                has_virtual_office: vo.is_some(),
                virtual_office_paused: vo.map(|_| false),
                virtual_office_contract_id: vo,
                credit: (id % 100) as f64 * 1.5,
            };
        let profiles = vec![
            profile(1101, 7001, "Ada Example", "", true, 1, None),
            profile(
                1102,
                7001,
                "Ada Example",
                "Example Ltd",
                true,
                2,
                Some(88001),
            ),
            profile(1103, 7001, "Ada Example", "", true, 1, None),
            profile(1104, 7001, "Ada Example", "Old Venture", false, 2, None),
            profile(2201, 7002, "Grace Other", "", true, 1, None),
            profile(3301, 7003, "Tess Twofactor", "", true, 1, None),
        ];
        let mut tokens = HashMap::new();
        for (token, user, expired) in [
            (&primary_token, 7001, false),
            (&foreign_token, 7002, false),
            (&expired_token, 7001, true),
        ] {
            tokens.insert(token.clone(), Token { user, expired });
        }
        let businesses = vec![
            Business {
                id: 501,
                name: "Example Space".into(),
                web_address: "examplespace".into(),
            },
            Business {
                id: 502,
                name: "Example Space North".into(),
                web_address: "examplespacenorth".into(),
            },
        ];
        let defaults = HashMap::from([(7001, 1101), (7002, 2201), (7003, 3301)]);
        let credentials = Credentials {
            primary_token,
            foreign_token,
            expired_token,
            primary_user_id: 7001,
            primary_email: "ada@example.test".into(),
            foreign_email: "grace@example.test".into(),
            totp_email: "tess@example.test".into(),
            totp_code: "246810".into(),
            password: password.clone(),
        };
        let db = Db {
            users,
            profiles,
            tokens,
            refresh_tokens: HashMap::new(),
            password,
            businesses,
            defaults,
            variants: super::variant::Variants::new(),
            list_reads: 0,
            flags: HashMap::new(),
            switches_in_flight: 0,
            switches_started: 0,
            last_user_email: std::sync::Mutex::new(None),
            faults,
        };
        (db, credentials)
    }

    /// Leaves the primary user exactly two active profiles, the README's minimum: every active
    /// profile after the first two is made inactive (variant `two_active_profiles`).
    pub fn keep_two_active_profiles(&mut self) {
        let primary = self.users.first().map(|u| u.id);
        let mut active = 0;
        for p in self
            .profiles
            .iter_mut()
            .filter(|p| Some(p.owner) == primary && p.active)
        {
            active += 1;
            p.active = active <= 2;
        }
    }

    /// Issues a new access token and refresh token for `user`, replacing the user's earlier
    /// refresh tokens (earlier access tokens stay valid, as the documentation says).
    pub fn issue_tokens(&mut self, user: i64) -> (String, String) {
        let access = random_token();
        let refresh = random_token();
        self.tokens.insert(
            access.clone(),
            Token {
                user,
                expired: false,
            },
        );
        self.refresh_tokens.retain(|_, u| *u != user);
        self.refresh_tokens.insert(refresh.clone(), user);
        (access, refresh)
    }
}

/// 40 hex characters from the operating system's random source.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 20];
    // Without the OS source (never seen on Linux) the token is still unique per process run,
    // from the clock; the reference server is a test fixture, not a credential store.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
