//! The command line: clap's view of the flags (`args`), and the one validated [`Config`] the app
//! runs from (`config`). Bad input is found here and is exit 2, before anything is sent.

mod args;
mod config;
mod paths;

pub use args::{Cli, Command, ContractArgs, MatrixArgs, ServeArgs, SnapshotsCommand, parse};
pub use config::{
    Config, DEFAULT_REMOTE_RPS, RemoteTarget, SnapshotConfig, SpawnConfig, TargetConfig, is_remote,
    paces, secrets,
};
