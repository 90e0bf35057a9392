//! mod_wasm's directives: the command table Apache reads and the handlers that turn arguments
//! into [`SectionConfig`] changes.
//!
//! Every per-location directive is allowed in the server config, virtual hosts and
//! `<Directory>`, `<Location>`, `<Files>` (and their `Match` forms), and refused in `.htaccess`:
//! a module and its capabilities are the admin's decision, not the content owner's.
//! `WasmCacheDir` is server-wide and belongs to the main server config only.

use crate::apache::{self, guard};
use crate::config::{parse_access, CacheDirSetting, Origin, SectionConfig};
use crate::ffi::{cmd_func, cmd_how, cmd_parms, command_rec};
use crate::{cache_dir, ffi, runtimes};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::PathBuf;
use std::ptr;

/// Where per-location directives may appear.
const PER_LOCATION: c_int = (ffi::RSRC_CONF | ffi::ACCESS_CONF) as c_int;
/// Where server-wide directives may appear (`<VirtualHost>` is refused by the handler).
const SERVER_WIDE: c_int = ffi::RSRC_CONF as c_int;

/// The command table, NULL-terminated as Apache expects.
#[repr(transparent)]
pub struct CommandTable<const N: usize>([command_rec; N]);

// SAFETY: the table is immutable and its pointers refer to 'static data.
unsafe impl<const N: usize> Sync for CommandTable<N> {}

impl<const N: usize> CommandTable<N> {
    pub const fn as_ptr(&self) -> *const command_rec {
        self.0.as_ptr()
    }
}

const fn command(
    name: &'static CStr,
    func: cmd_func,
    how: cmd_how,
    help: &'static CStr,
) -> command_rec {
    command_in(PER_LOCATION, name, func, how, help)
}

const fn command_in(
    req_override: c_int,
    name: &'static CStr,
    func: cmd_func,
    how: cmd_how,
    help: &'static CStr,
) -> command_rec {
    command_rec {
        name: name.as_ptr(),
        func,
        cmd_data: ptr::null_mut(),
        req_override,
        args_how: how,
        errmsg: help.as_ptr(),
    }
}

type Take1 = unsafe extern "C" fn(*mut cmd_parms, *mut c_void, *const c_char) -> *const c_char;
type Take2 = unsafe extern "C" fn(
    *mut cmd_parms,
    *mut c_void,
    *const c_char,
    *const c_char,
) -> *const c_char;
type Take3 = unsafe extern "C" fn(
    *mut cmd_parms,
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
) -> *const c_char;
type Flag = unsafe extern "C" fn(*mut cmd_parms, *mut c_void, c_int) -> *const c_char;

const fn take1(f: Take1) -> cmd_func {
    cmd_func { take1: Some(f) }
}
const fn take2(f: Take2) -> cmd_func {
    cmd_func { take2: Some(f) }
}
const fn take3(f: Take3) -> cmd_func {
    cmd_func { take3: Some(f) }
}
const fn flag(f: Flag) -> cmd_func {
    cmd_func { flag: Some(f) }
}

pub static COMMANDS: CommandTable<12> = CommandTable([
    command(
        c"WasmModule",
        take1(wasm_module),
        cmd_how::TAKE1,
        c"Path of the WebAssembly module (a WASI command) that answers requests here",
    ),
    command(
        c"WasmRuntime",
        take1(wasm_runtime),
        cmd_how::TAKE1,
        c"Runtime that runs the module: wasmtime (default), or another built-in runtime",
    ),
    command(
        c"WasmArg",
        take1(wasm_arg),
        cmd_how::TAKE1,
        c"Appends an argument to the module's argv (argv[0] is the module file name)",
    ),
    command(
        c"WasmEnv",
        take12(wasm_env),
        cmd_how::TAKE12,
        c"Sets an environment variable for the module: WasmEnv NAME [VALUE] (no value: empty)",
    ),
    command(
        c"WasmDir",
        take12(wasm_dir),
        cmd_how::TAKE12,
        c"Grants the module a host directory under the same path: WasmDir /path [ro|rw]",
    ),
    command(
        c"WasmMapDir",
        take3(wasm_map_dir),
        cmd_how::TAKE23,
        c"Grants the module a host directory under another path: WasmMapDir /guest /host [ro|rw]",
    ),
    command(
        c"WasmAllowConnect",
        take1(wasm_allow_connect),
        cmd_how::ITERATE,
        c"Grants the module outbound TCP connections: WasmAllowConnect host:port [host:port] ...",
    ),
    command(
        c"WasmEnableCGI",
        flag(wasm_enable_cgi),
        cmd_how::FLAG,
        c"On: the request becomes CGI variables and stdin, the output is parsed as a CGI response",
    ),
    command(
        c"WasmMapCGIFileNames",
        flag(wasm_map_cgi_filenames),
        cmd_how::FLAG,
        c"On: SCRIPT_FILENAME and PATH_TRANSLATED are given as guest paths",
    ),
    command(
        c"WasmEntryPoint",
        take1(wasm_entry_point),
        cmd_how::TAKE1,
        c"Exported function to call instead of _start",
    ),
    command_in(
        SERVER_WIDE,
        c"WasmCacheDir",
        take1(wasm_cache_dir),
        cmd_how::TAKE1,
        c"Directory for compiled modules reused across starts (default: under DefaultRuntimeDir), or off",
    ),
    // SAFETY: an all-zero command_rec (NULL name) terminates the table.
    unsafe { std::mem::zeroed() },
]);

const fn take12(f: Take2) -> cmd_func {
    take2(f)
}

/// What every directive handler receives, checked and converted.
struct Directive<'a> {
    cmd: &'a cmd_parms,
    config: &'a mut SectionConfig,
}

impl Directive<'_> {
    fn origin(&self) -> Origin {
        // SAFETY: Apache passes a live directive node, whose strings live as long as the config.
        unsafe {
            let node = &*self.cmd.directive;
            let section = match node.parent.as_ref() {
                Some(parent) => format!(
                    "{} {}",
                    apache::owned_text(parent.directive),
                    apache::owned_text(parent.args)
                ),
                None => "server config".to_owned(),
            };
            Origin {
                file: apache::owned_text(node.filename),
                line: node.line_num.max(0) as u32,
                section,
            }
        }
    }

    /// `path` resolved against ServerRoot, as Apache does for its own file arguments.
    fn server_root_relative(&self, path: &str) -> Result<PathBuf, String> {
        // SAFETY: cmd->pool is the live configuration pool.
        unsafe {
            let c_path =
                std::ffi::CString::new(path).map_err(|_| "path contains NUL".to_owned())?;
            let resolved = ffi::ap_server_root_relative(self.cmd.pool, c_path.as_ptr());
            apache::text(resolved)
                .map(|p| PathBuf::from(p.into_owned()))
                .ok_or_else(|| format!("invalid path '{path}'"))
        }
    }
}

/// Runs a directive handler: converts arguments, catches panics, and turns an error into the
/// message Apache reports with the file and line of the directive.
unsafe fn run(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    name: &str,
    body: impl FnOnce(&mut Directive) -> Result<(), String>,
) -> *const c_char {
    let pool = (*cmd).pool;
    let outcome = guard(Err(format!("internal error in {name}")), || {
        let (Some(cmd), Some(config)) = (cmd.as_ref(), (config as *mut SectionConfig).as_mut())
        else {
            return Err(format!("{name}: no configuration to apply it to"));
        };
        body(&mut Directive { cmd, config })
    });
    match outcome {
        Ok(()) => ptr::null(),
        Err(message) => apache::pool_str(pool, &format!("{name}: {message}")),
    }
}

/// # Safety
/// `p` is NULL or a NUL-terminated argument from Apache.
unsafe fn arg(p: *const c_char) -> Option<String> {
    apache::text(p).map(|s| s.into_owned())
}

unsafe extern "C" fn wasm_module(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    path: *const c_char,
) -> *const c_char {
    let path = arg(path).unwrap_or_default();
    run(cmd, config, "WasmModule", |d| {
        let resolved = d.server_root_relative(&path)?;
        let origin = d.origin();
        d.config.set_module(resolved, origin)
    })
}

unsafe extern "C" fn wasm_runtime(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    name: *const c_char,
) -> *const c_char {
    let name = arg(name).unwrap_or_default();
    run(cmd, config, "WasmRuntime", |d| {
        let origin = d.origin();
        d.config.set_runtime(&name, runtimes::global(), origin)
    })
}

unsafe extern "C" fn wasm_arg(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    value: *const c_char,
) -> *const c_char {
    let value = arg(value).unwrap_or_default();
    run(cmd, config, "WasmArg", |d| {
        d.config.add_arg(&value);
        Ok(())
    })
}

unsafe extern "C" fn wasm_env(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    name: *const c_char,
    value: *const c_char,
) -> *const c_char {
    let (name, value) = (
        arg(name).unwrap_or_default(),
        arg(value).unwrap_or_default(),
    );
    run(cmd, config, "WasmEnv", |d| d.config.set_env(&name, &value))
}

unsafe extern "C" fn wasm_dir(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    dir: *const c_char,
    access: *const c_char,
) -> *const c_char {
    let (dir, access) = (arg(dir).unwrap_or_default(), arg(access));
    run(cmd, config, "WasmDir", |d| {
        let access = parse_access(access.as_deref())?;
        d.config.add_dir(&dir, access)
    })
}

unsafe extern "C" fn wasm_map_dir(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    guest: *const c_char,
    host: *const c_char,
    access: *const c_char,
) -> *const c_char {
    let (guest, host, access) = (
        arg(guest).unwrap_or_default(),
        arg(host).unwrap_or_default(),
        arg(access),
    );
    run(cmd, config, "WasmMapDir", |d| {
        let access = parse_access(access.as_deref())?;
        let host = d.server_root_relative(&host)?;
        d.config.map_dir(&guest, host, access)
    })
}

unsafe extern "C" fn wasm_allow_connect(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    grant: *const c_char,
) -> *const c_char {
    let grant = arg(grant).unwrap_or_default();
    run(cmd, config, "WasmAllowConnect", |d| {
        let origin = d.origin();
        d.config.allow_connect(&grant, origin)
    })
}

unsafe extern "C" fn wasm_enable_cgi(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    on: c_int,
) -> *const c_char {
    run(cmd, config, "WasmEnableCGI", |d| {
        d.config.enable_cgi = Some(on != 0);
        Ok(())
    })
}

unsafe extern "C" fn wasm_map_cgi_filenames(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    on: c_int,
) -> *const c_char {
    run(cmd, config, "WasmMapCGIFileNames", |d| {
        d.config.map_cgi_filenames = Some(on != 0);
        Ok(())
    })
}

unsafe extern "C" fn wasm_entry_point(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    name: *const c_char,
) -> *const c_char {
    let name = arg(name).unwrap_or_default();
    run(cmd, config, "WasmEntryPoint", |d| {
        d.config.set_entry_point(&name)
    })
}

unsafe extern "C" fn wasm_cache_dir(
    cmd: *mut cmd_parms,
    config: *mut c_void,
    word: *const c_char,
) -> *const c_char {
    let word = arg(word).unwrap_or_default();
    let context_error = ffi::ap_check_cmd_context(cmd, ffi::NOT_IN_VIRTUALHOST);
    if !context_error.is_null() {
        return context_error;
    }
    run(cmd, config, "WasmCacheDir", |d| {
        let setting = CacheDirSetting::parse(&word, |path| d.server_root_relative(path))?;
        cache_dir::set(setting);
        Ok(())
    })
}
