//! mod_wasm's directives, each declared once: its name, its arguments, what it configures and
//! what it does. The declarations live with the setting they configure; [`DIRECTIVES`] lists
//! them, and the Apache adapter builds its command table from that list, so a directive's
//! arity is stated in one place.

use crate::config_error::DirectiveError;
use crate::origin::Origin;
use crate::section::SectionConfig;
use crate::server::ServerConfig;
use crate::settings::{cgi, connect, dirs, limits, output, preinit, program, reuse, timing};
use runtime_api::Registry;
use std::ffi::CStr;
use std::path::PathBuf;

/// Where a directive is being read, as its handler needs to know it.
pub trait Site {
    /// The file, line and section of the directive.
    fn origin(&self) -> Origin;
    /// `path` resolved against ServerRoot, as Apache resolves its own file arguments.
    fn server_root_relative(&self, path: &str) -> Result<PathBuf, DirectiveError>;
    /// The runtimes this mod_wasm was built with.
    fn registry(&self) -> &Registry;
    /// Whether the configuration is being read again by a running server (see
    /// [`ConfigRead::Restart`](crate::check::ConfigRead)).
    fn restarting(&self) -> bool;
}

/// What applying a directive gives: nothing, or what is wrong, which Apache shows with the
/// directive's file and line.
pub type Applied = Result<(), DirectiveError>;

/// The arguments a directive takes, with the function that applies them to a configuration of
/// type `C`. Apache checks the count before the function is called.
pub enum Args<C> {
    /// Exactly one argument.
    One(fn(&mut C, &dyn Site, &str) -> Applied),
    /// One or two arguments.
    OneOrTwo(fn(&mut C, &dyn Site, &str, Option<&str>) -> Applied),
    /// Two or three arguments.
    TwoOrThree(fn(&mut C, &dyn Site, &str, &str, Option<&str>) -> Applied),
    /// `On` or `Off`.
    Flag(fn(&mut C, &dyn Site, bool) -> Applied),
    /// One or more arguments, each applied on its own.
    Each(fn(&mut C, &dyn Site, &str) -> Applied),
}

/// What a directive configures, which decides where it may be written.
pub enum Applies {
    /// The section it is written in: the server config, a virtual host, `<Directory>`,
    /// `<Location>` or `<Files>` (and their `Match` forms), merged into the sections inside
    /// it. Never `.htaccess`: which code runs, and with which capabilities, is the admin's
    /// decision, not the content owner's.
    ToSection(Args<SectionConfig>),
    /// The whole server: the main server config only.
    ToServer(Args<ServerConfig>),
}

/// One directive.
pub struct Directive {
    pub name: &'static CStr,
    /// The one-line usage Apache shows when the directive is misused.
    pub help: &'static CStr,
    pub applies: Applies,
}

impl Directive {
    /// The name as text, for messages.
    pub fn name(&self) -> &'static str {
        self.name.to_str().unwrap_or("a mod_wasm directive")
    }
}

/// Every directive, in the order `apachectl -L` lists them.
pub static DIRECTIVES: [Directive; 20] = [
    program::WASM_MODULE,
    program::WASM_RUNTIME,
    program::WASM_ARG,
    program::WASM_ENV,
    dirs::WASM_DIR,
    dirs::WASM_MAP_DIR,
    connect::WASM_ALLOW_CONNECT,
    cgi::WASM_ENABLE_CGI,
    cgi::WASM_MAP_CGI_FILE_NAMES,
    program::WASM_ENTRY_POINT,
    preinit::WASM_PREINIT,
    timing::WASM_SERVER_TIMING,
    reuse::WASM_REUSE,
    limits::WASM_TIMEOUT,
    limits::WASM_MEMORY_LIMIT,
    output::WASM_BUFFER_RESPONSE,
    output::WASM_OUTPUT_LIMIT,
    crate::server::WASM_CACHE_DIR,
    crate::server::WASM_COMPILE,
    crate::server::WASM_STATISTICS,
];

/// The directive called `name`, as Apache matches names (without case).
pub fn find(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|directive| directive.name().eq_ignore_ascii_case(name))
}

/// A [`Site`] for unit tests: a fixed origin, a server root and a registry.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub struct TestSite {
        pub registry: Registry,
        pub server_root: PathBuf,
        pub line: u32,
        pub restarting: bool,
    }

    impl TestSite {
        pub fn new(registry: Registry) -> Self {
            Self {
                registry,
                server_root: PathBuf::from("/srv"),
                line: 1,
                restarting: false,
            }
        }
    }

    impl Site for TestSite {
        fn origin(&self) -> Origin {
            Origin {
                file: "test.conf".into(),
                line: self.line,
                section: "<Location /t>".into(),
                mount: Some(crate::origin::Mount::Prefix("/t".into())),
            }
        }
        fn server_root_relative(&self, path: &str) -> Result<PathBuf, DirectiveError> {
            Ok(self.server_root.join(path))
        }
        fn registry(&self) -> &Registry {
            &self.registry
        }
        fn restarting(&self) -> bool {
            self.restarting
        }
    }

    /// `WasmModule path`.
    pub fn apply_module(config: &mut SectionConfig, site: &dyn Site, path: &std::path::Path) {
        let path = path.to_str().expect("a UTF-8 path");
        apply(config, site, "WasmModule", &[path]).unwrap();
    }

    /// Applies the section directive `name` with `args` (as Apache would split them).
    pub fn apply(
        config: &mut SectionConfig,
        site: &dyn Site,
        name: &str,
        args: &[&str],
    ) -> Applied {
        let directive = find(name).unwrap_or_else(|| panic!("no directive {name}"));
        let Applies::ToSection(handler) = &directive.applies else {
            panic!("{name} is not a section directive")
        };
        match (handler, args) {
            (Args::One(f), [a]) => f(config, site, a),
            (Args::OneOrTwo(f), [a]) => f(config, site, a, None),
            (Args::OneOrTwo(f), [a, b]) => f(config, site, a, Some(b)),
            (Args::TwoOrThree(f), [a, b]) => f(config, site, a, b, None),
            (Args::TwoOrThree(f), [a, b, c]) => f(config, site, a, b, Some(c)),
            (Args::Flag(f), [word]) => f(config, site, word.eq_ignore_ascii_case("on")),
            (Args::Each(f), words) => words.iter().try_for_each(|w| f(config, site, w)),
            _ => panic!("{name} does not take {} arguments", args.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_directive_has_help() {
        for (i, directive) in DIRECTIVES.iter().enumerate() {
            assert!(directive.name().starts_with("Wasm"), "{}", directive.name());
            assert!(!directive.help.is_empty(), "{}", directive.name());
            let first = find(directive.name()).unwrap();
            assert!(
                std::ptr::eq(first, &DIRECTIVES[i]),
                "{} twice",
                directive.name()
            );
        }
    }
}
