//! The configuration check: every module the configuration names is compiled, with the
//! runtime that will run it, while Apache reads the configuration, so a module that cannot run
//! fails `apachectl -t` and the start rather than the first request.
//!
//! Apache holds the configuration as sections per server; the adapter hands them over as
//! [`ServerSections`], and [`effective_configs`] merges them the way requests will see them.

use crate::modules::{ModuleKey, Provenance};
use crate::origin::location_contains;
use crate::section::SectionConfig;
use crate::serve::{Gateway, Level};
use std::time::Instant;

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
/// request: the defaults, and each `<Directory>`, `<Location>` and `<Files>` merged over them.
/// Combinations that only arise per request (a `<Location>` over a `<Directory>`) are compiled
/// on first use instead.
pub fn effective_configs<S>(server: &ServerSections<S>) -> Vec<SectionConfig> {
    let defaults = server.defaults;
    let mut configs = Vec::new();
    for file in &server.files {
        configs.push(SectionConfig::merge(defaults, file));
    }
    for directory in &server.directories {
        let merged = SectionConfig::merge(defaults, directory.config);
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

impl Gateway<'_> {
    /// Resolves and compiles every effective configuration of `servers`, keeps what they use
    /// and forgets the artifacts of modules no longer configured.
    pub fn check<S: Copy>(&self, servers: &[ServerSections<S>]) -> CheckReport<S> {
        let mut report = CheckReport::default();
        let mut in_use: Vec<ModuleKey> = Vec::new();
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
                if in_use.contains(&key) {
                    continue;
                }
                let started = Instant::now();
                match self.modules.compile(&key, resolved.runtime) {
                    Ok(obtained) => {
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
                        let took = started.elapsed().as_millis();
                        report
                            .notes
                            .push((Level::Info, format!("mod_wasm: {what} {key} ({took} ms)")));
                        in_use.push(key);
                    }
                    Err(e) => report.errors.push((
                        server.server,
                        format!(
                            "mod_wasm: cannot use WasmModule {} in {}: {e}",
                            resolved.module.value.display(),
                            resolved.module.origin,
                        ),
                    )),
                }
            }
        }
        self.modules.retain(&in_use);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::directive::Site;
    use crate::modules::ModuleStore;
    use crate::serve::OutputLimits;
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

    #[test]
    fn the_check_compiles_each_module_once_and_names_what_fails() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = FakeRuntime::new("alpha");
        let mut registry = Registry::new();
        registry.register(runtime.clone());
        let site = TestSite::new(registry);
        let good = module(dir.path(), "good.wasm", EMPTY_MODULE);
        let defaults = section(&site, &[("WasmModule", &good)]);
        let same = section(&site, &[("WasmArg", "other")]);
        let bad = module(dir.path(), "bad.wasm", EMPTY_MODULE);
        let broken = section(&site, &[("WasmModule", &bad)]);
        // Since the directive was read, the file became something the runtime cannot compile.
        std::fs::write(&bad, b"\0asX").unwrap();
        let servers = [ServerSections {
            server: "main",
            defaults: &defaults,
            files: vec![],
            directories: vec![
                DirectorySection {
                    config: &same,
                    files: vec![],
                },
                DirectorySection {
                    config: &broken,
                    files: vec![],
                },
            ],
            locations: vec![],
        }];
        let modules = ModuleStore::new();
        let gateway = Gateway {
            registry: site.registry(),
            modules: &modules,
            limits: OutputLimits::default(),
        };
        let report = gateway.check(&servers);
        assert_eq!(runtime.compiles(), 2, "good.wasm once, bad.wasm once");
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

        let again = gateway.check(&servers);
        assert!(
            again.notes[0]
                .1
                .starts_with("mod_wasm: reused the compiled"),
            "{:?}",
            again.notes
        );
    }
}
