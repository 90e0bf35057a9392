//! The configuration check: every module the configuration names is compiled, with the
//! runtime that will run it, while Apache reads the configuration, so a module that cannot run
//! fails `apachectl -t` and the start rather than the first request.
//!
//! Apache holds the configuration as sections per server; the adapter hands them over as
//! [`ServerSections`], and [`effective_configs`] merges them the way requests will see them.

use crate::modules::{Background, CompileStep, ModuleKey, Provenance};
use crate::origin::location_contains;
use crate::section::SectionConfig;
use crate::serve::{Gateway, Level};
use crate::stats::Compile;
use runtime_api::error::seconds;
use std::time::{Duration, Instant};

/// One server's (main server or virtual host) sections, in configuration order. `S` names
/// the server to whoever logs what the check finds.
pub struct ServerSections<'a, S> {
    pub server: S,
    /// What the server config or the virtual host sets outside any section.
    pub defaults: &'a SectionConfig,
    /// `<Files>` outside any `<Directory>`.
    pub files: Vec<&'a SectionConfig>,
    pub directories: Vec<DirectorySection<'a>>,
    pub locations: Vec<LocationSection<'a>>,
}

pub struct DirectorySection<'a> {
    /// The directory of a literal `<Directory>`; `None` for a pattern (`<DirectoryMatch>`,
    /// or a `<Directory>` with wildcards), whose neighbours depend on the request.
    pub path: Option<String>,
    pub config: &'a SectionConfig,
    /// The `<Files>` inside it.
    pub files: Vec<&'a SectionConfig>,
}

pub struct LocationSection<'a> {
    /// The path of a literal `<Location>`; `None` for a pattern (`<LocationMatch>`, or a
    /// `<Location>` with wildcards), whose neighbours depend on the request.
    pub path: Option<String>,
    pub config: &'a SectionConfig,
}

/// Every configuration that names a module and can be read off one server's sections without a
/// request: the defaults, and each `<Directory>`, `<Location>` and `<Files>` merged over them
/// and over the sections of their kind that contain them. Combinations that only arise per
/// request (a `<Location>` over a `<Directory>`, a pattern over anything) are compiled on first
/// use instead.
pub fn effective_configs<S>(server: &ServerSections<S>) -> Vec<SectionConfig> {
    let defaults = server.defaults;
    let mut configs = Vec::new();
    for file in &server.files {
        configs.push(SectionConfig::merge(defaults, file));
    }
    // `<Directory>` sections nest by path: a file in a section's directory sees every literal
    // section whose directory contains it, the shorter paths first, as Apache merges them (a
    // `/srv/site/blog` that sets only the runtime runs the module `/srv/site` named).
    for directory in &server.directories {
        let merged = match &directory.path {
            None => SectionConfig::merge(defaults, directory.config),
            Some(path) => {
                let mut outers: Vec<_> = server
                    .directories
                    .iter()
                    .filter_map(|outer| {
                        let outer_path = outer.path.as_deref()?;
                        location_contains(outer_path, path).then_some((outer_path, outer))
                    })
                    .collect();
                // Stable: sections of the same depth keep their configuration order.
                outers.sort_by_key(|(outer_path, _)| outer_path.matches('/').count());
                outers.iter().fold(defaults.clone(), |merged, (_, outer)| {
                    SectionConfig::merge(&merged, outer.config)
                })
            }
        };
        for file in &directory.files {
            configs.push(SectionConfig::merge(&merged, file));
        }
        configs.push(merged);
    }
    // `<Location>` sections nest by path, not in the configuration tree: a request for a
    // section's own path sees every literal section whose path contains it, merged in
    // configuration order (a `/app/admin` that sets only the module runs with the runtime
    // `/app` chose).
    for location in &server.locations {
        let Some(path) = &location.path else {
            configs.push(SectionConfig::merge(defaults, location.config));
            continue;
        };
        let merged = server
            .locations
            .iter()
            .filter(|outer| {
                outer
                    .path
                    .as_deref()
                    .is_some_and(|outer| location_contains(outer, path))
            })
            .fold(defaults.clone(), |merged, outer| {
                SectionConfig::merge(&merged, outer.config)
            });
        configs.push(merged);
    }
    configs.push(defaults.clone());
    configs.retain(|config| config.program.module.is_some());
    configs
}

/// Which configuration read is being checked.
///
/// At a start, and for `apachectl -t` (which `apachectl graceful` and `restart` run first), a
/// module that cannot be used stops the server from starting: the admin is there to see it. A
/// running server that reads its configuration again because of a bare signal (`SIGHUP`,
/// `SIGUSR1`, as log rotation sends) must not exit over a module file that went bad: it keeps
/// the code compiled before for that module, or answers its requests with 503 when there is
/// none, and logs why. Every other configuration error stops it either way, as Apache's own do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigRead {
    Start,
    Restart,
}

/// What the check found.
pub struct CheckReport<S> {
    /// Problems that stop the start, each with the server whose configuration has it.
    pub errors: Vec<(S, String)>,
    /// What is worth logging once the server's log is open: modules compiled, reused or read
    /// from the cache, and problems with the cache.
    pub notes: Vec<(Level, String)>,
}

impl<S> Default for CheckReport<S> {
    fn default() -> Self {
        Self {
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// When the check compiles what neither this process nor the on-disk cache holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compiling {
    /// Now, and the check waits (`WasmCompile start`).
    Now,
    /// In a process of its own while the server starts and serves (`WasmCompile background`);
    /// without a cache this process writes, now.
    InBackground,
    /// Not at all: a configuration test (`apachectl -t`) under `WasmCompile background`
    /// leaves it to the server's start, and only checks that each module can be read.
    Later,
}

impl Gateway<'_> {
    /// [`check_compiling`](Self::check_compiling) with every compilation done now.
    pub fn check<S: Copy>(
        &self,
        servers: &[ServerSections<S>],
        read: ConfigRead,
        say: &mut dyn FnMut(Level, &str),
    ) -> CheckReport<S> {
        self.check_compiling(servers, read, Compiling::Now, say)
    }

    /// Resolves and compiles every effective configuration of `servers`, keeps what they use
    /// and forgets the artifacts of modules no longer configured. Each compilation is
    /// announced through `say` as it starts and when it ends, at [`Level::Notice`]: the
    /// check waits for it, and so does whoever started the server. One left to the background
    /// is announced as it starts.
    pub fn check_compiling<S: Copy>(
        &self,
        servers: &[ServerSections<S>],
        read: ConfigRead,
        compiling: Compiling,
        say: &mut dyn FnMut(Level, &str),
    ) -> CheckReport<S> {
        let mut report = CheckReport::default();
        let mut in_use: Vec<ModuleKey> = Vec::new();
        let compiling = if compiling == Compiling::InBackground
            && !self.modules.can_compile_in_background()
        {
            let line = "mod_wasm: WasmCompile background needs an on-disk cache (WasmCacheDir) \
                        that the user reading the configuration can write; compiling before the \
                        server starts instead";
            say(Level::Warning, line);
            Compiling::Now
        } else {
            compiling
        };
        self.modules.clear_unavailable();
        for server in servers {
            for config in effective_configs(server) {
                let resolved = match config.resolve(self.registry) {
                    Ok(resolved) => resolved,
                    Err(e) => {
                        report
                            .errors
                            .push((server.server, format!("mod_wasm: {e}")));
                        continue;
                    }
                };
                let key = resolved.key();
                if in_use.contains(&key) || self.modules.unavailable(&key).is_some() {
                    continue;
                }
                let started = Instant::now();
                let mut progress = |step: CompileStep| {
                    if step.bytes() >= ANNOUNCED_FROM {
                        say(Level::Notice, &announce(&key, step));
                    }
                };
                let obtained = match compiling {
                    Compiling::Later => match std::fs::File::open(&key.path) {
                        Ok(_) => {
                            report.notes.push((
                                Level::Info,
                                format!(
                                    "mod_wasm: {key}: not compiled by a configuration test under \
                                     WasmCompile background; the server compiles it when it starts, \
                                     if the cache lacks it"
                                ),
                            ));
                            Ok(None)
                        }
                        Err(e) => Err(format!("cannot read {}: {e}", key.path.display())),
                    },
                    // A runtime whose code cannot be cached has nothing to hand over: now.
                    Compiling::InBackground if resolved.runtime.artifact_key().is_some() => self
                        .modules
                        .compile_in_background(&key, resolved.runtime)
                        .map(|background| match background {
                            Background::Ready(obtained) => Some(obtained),
                            Background::Compiling {
                                bytes,
                                cached_at,
                                cache_problem,
                            } => {
                                let line = format!(
                                    "mod_wasm: compiling {key} ({:.1} MiB) in the background \
                                     into {}; its locations answer 503 until it is ready",
                                    bytes as f64 / f64::from(1 << 20),
                                    cached_at.display()
                                );
                                say(Level::Notice, &line);
                                report.notes.push((Level::Notice, line));
                                if let Some(problem) = cache_problem {
                                    report.notes.push((
                                        Level::Warning,
                                        format!("mod_wasm: {key}: {problem}"),
                                    ));
                                }
                                None
                            }
                        }),
                    Compiling::Now | Compiling::InBackground => self
                        .modules
                        .compile_reporting(&key, resolved.runtime, &mut progress)
                        .map(Some),
                };
                match obtained {
                    Ok(None) => in_use.push(key),
                    Ok(Some(obtained)) => {
                        if let Some(problem) = obtained.cache_problem {
                            report
                                .notes
                                .push((Level::Warning, format!("mod_wasm: {key}: {problem}")));
                        }
                        let what = match obtained.provenance {
                            Provenance::Compiled => "compiled",
                            Provenance::Reused => "reused the compiled",
                            Provenance::Cached => "loaded from the cache the compiled",
                        };
                        if let Some(stats) = self.stats {
                            let how = match obtained.provenance {
                                Provenance::Compiled => Compile::Compiled,
                                Provenance::Reused => Compile::Reused,
                                Provenance::Cached => Compile::FromCache,
                            };
                            stats.count_compile(key.runtime, how, started.elapsed());
                        }
                        let took = started.elapsed().as_millis();
                        let kind = config.program.kind();
                        report.notes.push((
                            Level::Info,
                            format!("mod_wasm: {what} {key} ({took} ms): {kind}"),
                        ));
                        in_use.push(key);
                    }
                    Err(e) => {
                        let problem = format!(
                            "mod_wasm: cannot use WasmModule {} in {}: {e}",
                            resolved.module.value.display(),
                            resolved.module.origin,
                        );
                        match read {
                            ConfigRead::Start => report.errors.push((server.server, problem)),
                            ConfigRead::Restart if self.modules.has_artifact(&key) => {
                                report.notes.push((
                                    Level::Error,
                                    format!(
                                        "{problem}; the server goes on running the code compiled \
                                         before this restart"
                                    ),
                                ));
                                in_use.push(key);
                            }
                            ConfigRead::Restart => {
                                report.notes.push((
                                    Level::Error,
                                    format!(
                                        "{problem}; its requests are answered with 503 until \
                                         the module is fixed and the server restarted"
                                    ),
                                ));
                                self.modules.set_unavailable(&key, e);
                            }
                        }
                    }
                }
            }
        }
        self.modules.retain(&in_use);
        report
    }
}

/// The size from which a compilation is announced as it starts and ends: from about here, it
/// takes seconds (an interpreter such as CPython: minutes, with some runtimes). Smaller ones
/// are only noted once the error log is open.
pub const ANNOUNCED_FROM: u64 = 1 << 20;

/// What a compilation step says to whoever waits for it.
fn announce(key: &ModuleKey, step: CompileStep) -> String {
    match step {
        CompileStep::Preinitializing { bytes } => format!(
            "mod_wasm: pre-initialising {key} ({:.1} MiB): running its init once and keeping \
             the state it leaves (WasmPreinit), which can take a minute",
            bytes as f64 / f64::from(1 << 20)
        ),
        CompileStep::Started { bytes, cached_at } => {
            let kept = match cached_at {
                Some(path) => format!("its code will be kept in {}", path.display()),
                None => "its code is not kept across starts (WasmCacheDir off, or a runtime \
                         whose code cannot be cached)"
                    .to_owned(),
            };
            format!(
                "mod_wasm: compiling {key} ({:.1} MiB), which can take minutes; {kept}",
                bytes as f64 / f64::from(1 << 20)
            )
        }
        CompileStep::Finished {
            took, cached_at, ..
        } => {
            let kept = match cached_at {
                Some(path) => format!("cached in {}", path.display()),
                None => "not cached".to_owned(),
            };
            let took = if took < Duration::from_secs(1) {
                seconds(took)
            } else {
                format!("{:.1} s", took.as_secs_f64())
            };
            format!("mod_wasm: finished compiling {key} in {took}; {kept}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::directive::Site;
    use crate::modules::ModuleStore;
    use crate::serve::STDERR_LOGGED;
    use crate::testing::{fake_registry, write_file, FakeRuntime, EMPTY_MODULE};
    use runtime_api::Registry;
    use std::path::Path;

    fn section(site: &TestSite, directives: &[(&str, &str)]) -> SectionConfig {
        let mut config = SectionConfig::default();
        for (name, arg) in directives {
            apply(&mut config, site, name, &[arg]).unwrap();
        }
        config
    }

    fn gateway_of<'a>(site: &'a TestSite, modules: &'a ModuleStore) -> Gateway<'a> {
        Gateway {
            registry: site.registry(),
            modules,
            stderr_logged: STDERR_LOGGED,
            stats: None,
        }
    }

    /// A site whose registry holds `runtime` (a clone, sharing its compile counter).
    fn site_with(runtime: &FakeRuntime) -> TestSite {
        let mut registry = Registry::new();
        registry.register(runtime.clone());
        TestSite::new(registry)
    }

    fn module(dir: &Path, name: &str, bytes: &[u8]) -> String {
        let path = write_file(dir, name, bytes);
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn nested_locations_merge_in_configuration_order() {
        let dir = tempfile::tempdir().unwrap();
        let site = TestSite::new(fake_registry(&["alpha", "beta"]));
        let app = section(&site, &[("WasmRuntime", "beta")]);
        let admin = section(
            &site,
            &[("WasmModule", &module(dir.path(), "a.wasm", EMPTY_MODULE))],
        );
        let elsewhere = section(&site, &[("WasmRuntime", "alpha")]);
        let pattern = section(
            &site,
            &[("WasmModule", &module(dir.path(), "p.wasm", EMPTY_MODULE))],
        );
        let defaults = SectionConfig::default();
        let server = ServerSections {
            server: (),
            defaults: &defaults,
            files: vec![],
            directories: vec![],
            locations: vec![
                LocationSection {
                    path: Some("/app".into()),
                    config: &app,
                },
                LocationSection {
                    path: Some("/app/admin".into()),
                    config: &admin,
                },
                LocationSection {
                    path: Some("/application".into()),
                    config: &elsewhere,
                },
                LocationSection {
                    path: None,
                    config: &pattern,
                },
            ],
        };
        let configs = effective_configs(&server);
        assert_eq!(configs.len(), 2, "only the sections with a module");
        assert_eq!(configs[0].program.runtime.as_ref().unwrap().value, "beta");
        assert!(configs[0].module_path().unwrap().ends_with("a.wasm"));
        assert!(
            configs[1].program.runtime.is_none(),
            "a pattern merges over the defaults only"
        );
    }

    #[test]
    fn nested_directories_merge_the_shorter_paths_first() {
        let dir = tempfile::tempdir().unwrap();
        let site = TestSite::new(fake_registry(&["alpha", "beta", "gamma"]));
        // Written innermost first: Apache merges by depth, not by configuration order.
        let blog = section(&site, &[("WasmRuntime", "beta")]);
        let site_dir = section(
            &site,
            &[
                (
                    "WasmModule",
                    &module(dir.path(), "python.wasm", EMPTY_MODULE),
                ),
                ("WasmRuntime", "alpha"),
            ],
        );
        let elsewhere = section(&site, &[("WasmRuntime", "gamma")]);
        let pattern = section(&site, &[("WasmRuntime", "gamma")]);
        let defaults = SectionConfig::default();
        let directory = |path: Option<&str>, config| DirectorySection {
            path: path.map(str::to_owned),
            config,
            files: vec![],
        };
        let server = ServerSections {
            server: (),
            defaults: &defaults,
            files: vec![],
            directories: vec![
                directory(Some("/srv/site/blog/"), &blog),
                directory(Some("/srv/site/"), &site_dir),
                directory(Some("/srv/sites/"), &elsewhere),
                directory(None, &pattern),
            ],
            locations: vec![],
        };
        let runtimes: Vec<_> = effective_configs(&server)
            .iter()
            .map(|config| config.program.runtime.as_ref().unwrap().value)
            .collect();
        assert_eq!(
            runtimes,
            ["beta", "alpha"],
            "/srv/site/blog, then /srv/site"
        );
    }

    #[test]
    fn directories_files_and_defaults_are_each_a_usage() {
        let dir = tempfile::tempdir().unwrap();
        let site = TestSite::new(fake_registry(&["alpha"]));
        let defaults = section(
            &site,
            &[("WasmModule", &module(dir.path(), "d.wasm", EMPTY_MODULE))],
        );
        let directory = section(&site, &[("WasmArg", "x")]);
        let file = section(
            &site,
            &[("WasmModule", &module(dir.path(), "f.wasm", EMPTY_MODULE))],
        );
        let server = ServerSections {
            server: (),
            defaults: &defaults,
            files: vec![&file],
            directories: vec![DirectorySection {
                path: Some("/srv/site/".into()),
                config: &directory,
                files: vec![&file],
            }],
            locations: vec![],
        };
        let modules: Vec<String> = effective_configs(&server)
            .iter()
            .map(|c| {
                c.module_path()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(modules, ["f.wasm", "f.wasm", "d.wasm", "d.wasm"]);
    }

    /// A module of 1 MiB and a little: an empty one with a custom section.
    fn large_module() -> Vec<u8> {
        let payload = ANNOUNCED_FROM as usize;
        let mut module = EMPTY_MODULE.to_vec();
        module.push(0);
        let mut size = payload + 2;
        while size >= 0x80 {
            module.push((size as u8 & 0x7f) | 0x80);
            size >>= 7;
        }
        module.push(size as u8);
        module.extend_from_slice(b"\x01x");
        module.resize(module.len() + payload, 0);
        module
    }

    #[test]
    fn the_check_compiles_each_module_once_and_names_what_fails() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = FakeRuntime::new("alpha");
        let site = site_with(&runtime);
        let large = large_module();
        let good = module(dir.path(), "good.wasm", &large);
        let defaults = section(&site, &[("WasmModule", &good)]);
        let same = section(&site, &[("WasmArg", "other")]);
        let bad = module(dir.path(), "bad.wasm", &large);
        let broken = section(&site, &[("WasmModule", &bad)]);
        // Since the directive was read, the file became something the runtime cannot compile.
        let mut unusable = large.clone();
        unusable[3] = b'X';
        std::fs::write(&bad, unusable).unwrap();
        let servers = [ServerSections {
            server: "main",
            defaults: &defaults,
            files: vec![],
            directories: vec![
                DirectorySection {
                    path: Some("/srv/same/".into()),
                    config: &same,
                    files: vec![],
                },
                DirectorySection {
                    path: Some("/srv/broken/".into()),
                    config: &broken,
                    files: vec![],
                },
            ],
            locations: vec![],
        }];
        let modules = ModuleStore::new();
        let gateway = gateway_of(&site, &modules);
        let mut said = Vec::new();
        let report = gateway.check(&servers, ConfigRead::Start, &mut |level, line| {
            said.push((level, line.to_owned()))
        });
        assert_eq!(runtime.compiles(), 2, "good.wasm once, bad.wasm once");
        // Each compilation of a large module is announced as it starts, and the one that
        // succeeds as it ends, at a level every LogLevel shows.
        let lines: Vec<&str> = said.iter().map(|(_, line)| line.as_str()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(said.iter().all(|(level, _)| *level == Level::Notice));
        assert!(
            lines[0].starts_with(&format!(
                "mod_wasm: compiling {good} with runtime alpha (1.0 MiB), which can take minutes"
            )),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with(&format!(
                "mod_wasm: finished compiling {good} with runtime alpha in "
            )),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with(&format!("mod_wasm: compiling {bad} with runtime alpha")),
            "{lines:?}"
        );
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let (server, error) = &report.errors[0];
        assert_eq!(*server, "main");
        assert!(
            error.starts_with(&format!("mod_wasm: cannot use WasmModule {bad} in <Location /t> (test.conf:1): alpha: not a valid")),
            "{error}"
        );
        assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
        assert!(report.notes[0]
            .1
            .starts_with(&format!("mod_wasm: compiled {good} with runtime alpha (")));

        let mut said_again = 0;
        let again = gateway.check(&servers, ConfigRead::Start, &mut |_, _| said_again += 1);
        assert_eq!(
            said_again, 1,
            "only the module that fails is compiled again"
        );
        assert!(
            again.notes[0]
                .1
                .starts_with("mod_wasm: reused the compiled"),
            "{:?}",
            again.notes
        );
    }

    #[test]
    fn a_restart_keeps_the_server_up_when_a_module_no_longer_compiles() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = FakeRuntime::new("alpha");
        let site = site_with(&runtime);
        let deployed = module(dir.path(), "deployed.wasm", EMPTY_MODULE);
        let kept = section(&site, &[("WasmModule", &deployed)]);
        let servers = |config| {
            [ServerSections {
                server: "main",
                defaults: config,
                files: vec![],
                directories: vec![],
                locations: vec![],
            }]
        };
        let modules = ModuleStore::new();
        let gateway = gateway_of(&site, &modules);
        assert!(gateway
            .check(&servers(&kept), ConfigRead::Start, &mut |_, _| {})
            .errors
            .is_empty());

        // A bad deploy: the file no longer compiles. A start (or apachectl -t) refuses it; a
        // running server that restarts keeps the code it had.
        std::fs::write(&deployed, b"\0asX").unwrap();
        let restart = gateway.check(&servers(&kept), ConfigRead::Restart, &mut |_, _| {});
        assert!(restart.errors.is_empty(), "{:?}", restart.errors);
        let (level, note) = &restart.notes[0];
        assert_eq!(*level, Level::Error);
        assert!(
            note.ends_with("the server goes on running the code compiled before this restart"),
            "{note}"
        );
        let key = ModuleKey {
            runtime: "alpha",
            path: deployed.clone().into(),
            init: None,
        };
        assert!(modules.has_artifact(&key) && modules.unavailable(&key).is_none());
        assert_eq!(
            gateway
                .check(&servers(&kept), ConfigRead::Start, &mut |_, _| {})
                .errors
                .len(),
            1
        );

        // A module that never compiled has nothing to fall back on: out of service.
        let mut restarting = TestSite::new(fake_registry(&["alpha"]));
        restarting.restarting = true;
        let new = module(dir.path(), "new.wasm", b"not wasm at all");
        let mut added = SectionConfig::default();
        apply(&mut added, &restarting, "WasmModule", &[new.as_str()]).unwrap();
        let fresh = ModuleStore::new();
        let gateway = gateway_of(&site, &fresh);
        let restart = gateway.check(&servers(&added), ConfigRead::Restart, &mut |_, _| {});
        assert!(restart.errors.is_empty(), "{:?}", restart.errors);
        assert!(
            restart.notes[0].1.contains("answered with 503"),
            "{:?}",
            restart.notes
        );
        let key = ModuleKey {
            runtime: "alpha",
            path: new.clone().into(),
            init: None,
        };
        assert!(fresh.unavailable(&key).is_some());
        // The next read that succeeds puts it back in service.
        std::fs::write(&new, EMPTY_MODULE).unwrap();
        assert!(
            gateway
                .check(&servers(&added), ConfigRead::Restart, &mut |_, _| {})
                .notes[0]
                .0
                != Level::Error
        );
        assert!(fresh.unavailable(&key).is_none());
    }
}
