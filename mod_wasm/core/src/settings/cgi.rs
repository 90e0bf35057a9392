//! Whether a run speaks CGI/1.1: `WasmEnableCGI` and `WasmMapCGIFileNames`.
//!
//! With CGI, the request becomes meta-variables and stdin, and stdout is parsed as a CGI
//! response; without it, the guest gets no request data and stdout is the body. Merge: the
//! inner section's value if it sets one, else the outer one's. Every runtime can run CGI.

use super::Setting;
use crate::directive::{Applies, Args, Directive};
use crate::origin::{location_contains, Mount};
use crate::settings::dirs::guest_path_of;
use cgi::CgiRequest;
use runtime_api::ExecutionConfig;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgiSettings {
    pub enabled: Option<bool>,
    pub map_file_names: Option<bool>,
}

pub const WASM_ENABLE_CGI: Directive = Directive {
    name: c"WasmEnableCGI",
    help:
        c"On: the request becomes CGI variables and stdin, the output is parsed as a CGI response",
    applies: Applies::ToSection(Args::Flag(|config, _, on| {
        config.cgi.enabled = Some(on);
        Ok(())
    })),
};

pub const WASM_MAP_CGI_FILE_NAMES: Directive = Directive {
    name: c"WasmMapCGIFileNames",
    help: c"On: SCRIPT_FILENAME and PATH_TRANSLATED are given as guest paths",
    applies: Applies::ToSection(Args::Flag(|config, _, on| {
        config.cgi.map_file_names = Some(on);
        Ok(())
    })),
};

impl CgiSettings {
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(false)
    }

    pub fn maps_file_names(&self) -> bool {
        self.map_file_names.unwrap_or(false)
    }

    /// Gives `run` the meta-variables of `request`, whose file names are host paths. With
    /// `WasmMapCGIFileNames`, file names become the paths the guest sees them under. The
    /// location's `WasmEnv` values (already in `run.env`) override request variables of the
    /// same name: the admin has the last word over what the request sets.
    pub fn add_request(&self, run: &mut ExecutionConfig, mut request: CgiRequest) {
        if self.maps_file_names() {
            let guest_view =
                |host: String| guest_path_of(&run.preopens, Path::new(&host)).unwrap_or(host);
            request.script_filename = request.script_filename.map(guest_view);
            request.path_translated = request.path_translated.map(guest_view);
        }
        let mut vars = request.meta_variables();
        for (name, value) in &run.env {
            match vars.iter_mut().find(|(n, _)| n == name) {
                Some(existing) => existing.1 = value.clone(),
                None => vars.push((name.clone(), value.clone())),
            }
        }
        run.env = vars;
    }
}

impl Setting for CgiSettings {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self {
            enabled: inner.enabled.or(outer.enabled),
            map_file_names: inner.map_file_names.or(outer.map_file_names),
        }
    }
}

/// PATH_INFO for an app mounted at `mount`, when the request's `path` is in it: what follows
/// the part of the path the mount matched, SCRIPT_NAME being that part. `pattern_end` says where
/// a regular expression's first match in the path ends, as the server matches it.
///
/// A `/` at the end of the matched part goes to PATH_INFO, which starts with `/` or is empty;
/// a match that ends inside a path segment takes in the rest of that segment. `None` when the
/// mount does not match the path (an internal redirect, say): the server's split stays.
pub fn mounted_path_info(
    mount: &Mount,
    path: &str,
    pattern_end: impl FnOnce(&str) -> Option<usize>,
) -> Option<String> {
    let end = match mount {
        Mount::Prefix(prefix) => location_contains(prefix, path).then_some(prefix.len())?,
        Mount::Pattern(pattern) => pattern_end(pattern)?,
    };
    let matched = path.get(..end)?;
    let mut script_len = matched.trim_end_matches('/').len();
    if !path[script_len..].starts_with('/') {
        script_len = path[script_len..]
            .find('/')
            .map_or(path.len(), |slash| script_len + slash);
    }
    Some(path[script_len..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::{fake_registry, preopen};
    use crate::SectionConfig;
    use runtime_api::Access;

    #[test]
    fn flags_merge_inner_over_outer() {
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmEnableCGI", &["On"]).unwrap();
        let mut inner = SectionConfig::default();
        assert!(SectionConfig::merge(&outer, &inner).cgi.enabled());
        apply(&mut inner, &site, "WasmEnableCGI", &["Off"]).unwrap();
        apply(&mut inner, &site, "WasmMapCGIFileNames", &["On"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner).cgi;
        assert!(!merged.enabled());
        assert!(merged.maps_file_names());
        assert!(!CgiSettings::default().enabled());
    }

    #[test]
    fn a_prefix_mount_is_script_name_and_the_rest_path_info() {
        let at = |prefix: &str, path: &str| {
            mounted_path_info(&Mount::Prefix(prefix.into()), path, |_| unreachable!())
        };
        assert_eq!(at("/app", "/app/users/5").as_deref(), Some("/users/5"));
        assert_eq!(at("/app", "/app").as_deref(), Some(""));
        assert_eq!(at("/app", "/app/").as_deref(), Some("/"));
        assert_eq!(at("/app/", "/app/x").as_deref(), Some("/x"));
        assert_eq!(
            at("/", "/x/y").as_deref(),
            Some("/x/y"),
            "SCRIPT_NAME is empty"
        );
        assert_eq!(at("/app", "/application"), None);
        assert_eq!(at("/app", "/other/app"), None);
    }

    #[test]
    fn a_pattern_mount_ends_where_its_match_ends() {
        let pattern = Mount::Pattern("^/users/[0-9]+".into());
        let at = |path: &str, end: Option<usize>| mounted_path_info(&pattern, path, |_| end);
        assert_eq!(
            at("/users/42/profile", Some(9)).as_deref(),
            Some("/profile")
        );
        assert_eq!(at("/users/42", Some(9)).as_deref(), Some(""));
        // The match ends inside a segment: the segment is the script's.
        assert_eq!(at("/users/42abc/x", Some(9)).as_deref(), Some("/x"));
        assert_eq!(at("/users/42abc", Some(9)).as_deref(), Some(""));
        assert_eq!(at("/elsewhere", None), None);
        assert_eq!(at("/users", Some(99)), None, "an end beyond the path");
    }

    #[test]
    fn host_files_map_through_the_most_specific_preopen() {
        let preopens = [
            preopen("/www", "/var/www", Access::ReadOnly),
            preopen("/uploads", "/var/www/site/uploads", Access::ReadOnly),
        ];
        let guest = |host: &str| guest_path_of(&preopens, Path::new(host));
        assert_eq!(
            guest("/var/www/site/index.php").as_deref(),
            Some("/www/site/index.php")
        );
        assert_eq!(
            guest("/var/www/site/uploads/a.png").as_deref(),
            Some("/uploads/a.png")
        );
        assert_eq!(guest("/var/www").as_deref(), Some("/www"));
        assert_eq!(guest("/var/wwwx/a"), None);
        assert_eq!(guest("/etc/passwd"), None);
    }

    fn get<'a>(run: &'a ExecutionConfig, name: &str) -> Option<&'a str> {
        run.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn requests_become_variables_that_wasm_env_overrides() {
        let request = CgiRequest {
            method: "GET".into(),
            path: "/app".into(),
            query_string: "x=1".into(),
            script_filename: Some("/var/www/app.php".into()),
            ..Default::default()
        };
        let mut run = ExecutionConfig {
            env: vec![
                ("QUERY_STRING".into(), "forced".into()),
                ("APP".into(), "1".into()),
            ],
            preopens: vec![preopen("/www", "/var/www", Access::ReadOnly)],
            ..Default::default()
        };
        let settings = CgiSettings::default();
        settings.add_request(&mut run, request.clone());
        assert_eq!(get(&run, "REQUEST_METHOD"), Some("GET"));
        assert_eq!(get(&run, "QUERY_STRING"), Some("forced"));
        assert_eq!(get(&run, "APP"), Some("1"));
        assert_eq!(get(&run, "SCRIPT_FILENAME"), Some("/var/www/app.php"));

        let mapping = CgiSettings {
            map_file_names: Some(true),
            ..Default::default()
        };
        let mut run = ExecutionConfig {
            preopens: vec![preopen("/www", "/var/www", Access::ReadOnly)],
            ..Default::default()
        };
        mapping.add_request(&mut run, request);
        assert_eq!(get(&run, "SCRIPT_FILENAME"), Some("/www/app.php"));
    }
}
