//! The reference server's in-memory accounts: two users, their profiles and their tokens.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

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
    /// `User.Email` and password of the primary user, for the token endpoint.
    pub primary_email: String,
    /// Password of every seeded user.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("primary_user_id", &self.primary_user_id)
            .finish_non_exhaustive()
    }
}

/// Tokens to seed instead of random ones (tests use canary values).
#[derive(Clone)]
pub struct FixedTokens {
    pub primary: String,
    pub foreign: String,
    pub expired: String,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: i64,
    pub full_name: String,
    pub email: String,
    pub business: i64,
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
    pub businesses: Vec<Business>,
    /// The default (active) profile of each user, by user id.
    pub defaults: HashMap<i64, i64>,
    /// The contract violations this instance was started with.
    pub faults: Faults,
}

impl Db {
    /// The fixture accounts: user 7001 owns an individual profile (the default), a company
    /// profile, a profile at a second location and an inactive profile; user 7002 owns one
    /// profile. Tokens are random per call.
    pub fn seeded(faults: Faults, tokens: Option<&FixedTokens>) -> (Db, Credentials) {
        let (primary_token, foreign_token, expired_token) = match tokens {
            Some(t) => (t.primary.clone(), t.foreign.clone(), t.expired.clone()),
            None => (random_token(), random_token(), random_token()),
        };
        let users = vec![
            User {
                id: 7001,
                full_name: "Ada Example".into(),
                email: "ada@example.test".into(),
                business: 501,
            },
            User {
                id: 7002,
                full_name: "Grace Other".into(),
                email: "grace@example.test".into(),
                business: 501,
            },
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
        ];
        let mut tokens = HashMap::new();
        tokens.insert(
            primary_token.clone(),
            Token {
                user: 7001,
                expired: false,
            },
        );
        tokens.insert(
            foreign_token.clone(),
            Token {
                user: 7002,
                expired: false,
            },
        );
        tokens.insert(
            expired_token.clone(),
            Token {
                user: 7001,
                expired: true,
            },
        );
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
        let defaults = HashMap::from([(7001, 1101), (7002, 2201)]);
        let credentials = Credentials {
            primary_token,
            foreign_token,
            expired_token,
            primary_user_id: 7001,
            primary_email: "ada@example.test".into(),
            password: random_token(),
        };
        (
            Db {
                users,
                profiles,
                tokens,
                businesses,
                defaults,
                faults,
            },
            credentials,
        )
    }
}

/// 40 hex characters from the standard library's per-process random hasher keys.
pub(crate) fn random_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}
