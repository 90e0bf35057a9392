//! Pre-initialisation: a module's initialisation run once, when the configuration is read, and
//! the state it leaves written back into a new module (a snapshot, as Wizer makes them), which
//! then starts every run from there.
//!
//! The snapshot is a plain core module: its initialised memory and globals are data segments
//! and initial values, and the init export is gone. So whichever engine makes it, every runtime
//! runs it. The init sees what the location grants, read-only: its arguments, its environment
//! (without any request's variables) and its directories, which it can read but not change.
//! It has no sockets.

use crate::execution::{ExecutionConfig, GuestPath};
use crate::limits::Limits;
use std::fmt;
use std::path::PathBuf;

/// Which exported function initialises a module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InitExport {
    /// Wizer's convention: `wizer-initialize`, or `wizer.initialize` as older toolchains name it.
    Conventional,
    /// The function of this name.
    Named(String),
}

impl InitExport {
    /// The names Wizer's convention uses, in the order they are looked for.
    pub const CONVENTIONAL: [&'static str; 2] = ["wizer-initialize", "wizer.initialize"];

    /// The export of `wasm`, a core module, that this names: an error lists what it exports
    /// instead.
    pub fn find_in(&self, wasm: &[u8]) -> Result<String, PreinitError> {
        let exports = crate::component::core_function_exports(wasm).map_err(PreinitError::new)?;
        let wanted: Vec<&str> = match self {
            InitExport::Conventional => Self::CONVENTIONAL.to_vec(),
            InitExport::Named(name) => vec![name],
        };
        match wanted
            .iter()
            .find(|name| exports.iter().any(|export| export == *name))
        {
            Some(name) => Ok((*name).to_owned()),
            None => Err(PreinitError::new(format!(
                "the module exports no function {}; it exports: {}",
                wanted.join(" or "),
                if exports.is_empty() {
                    "none".to_owned()
                } else {
                    exports.join(", ")
                }
            ))),
        }
    }
}

impl fmt::Display for InitExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitExport::Conventional => f.write_str(&Self::CONVENTIONAL.join(" or ")),
            InitExport::Named(name) => f.write_str(name),
        }
    }
}

/// What a module's initialisation may see and use.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitConfig {
    /// The function that initialises the module.
    pub export: InitExport,
    /// The guest's argv, argv\[0\] included, as its runs get it.
    pub args: Vec<String>,
    /// The environment the location sets, without any request's variables.
    pub env: Vec<(String, String)>,
    /// Host directories the init may read, each under its guest path; it may change none.
    pub dirs: Vec<(GuestPath, PathBuf)>,
    /// How long the init may take and how much memory it may grow to.
    pub limits: Limits,
}

impl InitConfig {
    /// The init of a module whose runs get `run` (before any request's variables): the same
    /// arguments, environment and directories, the directories read-only, no connections.
    pub fn for_runs(export: InitExport, run: &ExecutionConfig) -> Self {
        Self {
            export,
            args: run.args.clone(),
            env: run.env.clone(),
            dirs: run
                .preopens
                .iter()
                .map(|preopen| (preopen.guest.clone(), preopen.host.clone()))
                .collect(),
            limits: run.limits,
        }
    }
}

/// The user and group an init runs as: those of the processes that serve requests, so that
/// it reads no file their runs could not, and its snapshot holds none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// Why a module could not be pre-initialised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PreinitError {
    pub reason: String,
}

impl PreinitError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// An engine that can run a module's init and snapshot the state it leaves.
///
/// Called in the Apache parent while the configuration is read, like
/// [`Runtime::compile`](crate::Runtime::compile): it must leave no threads or engine state
/// behind (see [`forked`](crate::forked)).
pub trait Preinitializer: Send + Sync + 'static {
    /// The engine and its version, as people know it: part of what a kept snapshot is keyed
    /// by.
    fn version(&self) -> String;

    /// Runs the init `init` names in `wasm`, a core module, as `init` grants and as the user
    /// `run_as` says (`None`: this process's), and returns the module that starts in the state
    /// the init left.
    fn preinitialize(
        &self,
        wasm: &[u8],
        init: &InitConfig,
        run_as: Option<RunAs>,
    ) -> Result<Vec<u8>, PreinitError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(exports: &str) -> Vec<u8> {
        wat::parse_str(format!("(module {exports})")).unwrap()
    }

    #[test]
    fn the_conventional_init_is_either_of_wizers_names() {
        let current = module(r#"(func (export "wizer-initialize"))"#);
        let older = module(r#"(func (export "wizer.initialize"))"#);
        let conventional = InitExport::Conventional;
        assert_eq!(conventional.find_in(&current).unwrap(), "wizer-initialize");
        assert_eq!(conventional.find_in(&older).unwrap(), "wizer.initialize");
    }

    #[test]
    fn a_missing_init_lists_what_the_module_exports() {
        let wasm = module(r#"(func (export "_start")) (memory (export "memory") 1)"#);
        let err = InitExport::Named("setup".into())
            .find_in(&wasm)
            .unwrap_err();
        assert_eq!(
            err.reason,
            "the module exports no function setup; it exports: _start"
        );
        let err = InitExport::Conventional.find_in(&wasm).unwrap_err();
        assert!(
            err.reason
                .starts_with("the module exports no function wizer-initialize or wizer.initialize"),
            "{err}"
        );
    }

    #[test]
    fn the_init_sees_the_runs_grants_but_no_connection() {
        let mut run = ExecutionConfig {
            args: vec!["app.wasm".into(), "-v".into()],
            env: vec![("MODE".into(), "site".into())],
            ..ExecutionConfig::default()
        };
        run.preopens.push(crate::Preopen {
            guest: GuestPath::new("/data").unwrap(),
            host: "/srv/data".into(),
            access: crate::Access::ReadWrite,
        });
        let init = InitConfig::for_runs(InitExport::Conventional, &run);
        assert_eq!(init.args, run.args);
        assert_eq!(init.env, run.env);
        assert_eq!(
            init.dirs,
            [(GuestPath::new("/data").unwrap(), PathBuf::from("/srv/data"))]
        );
    }
}
