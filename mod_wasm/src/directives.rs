//! The command table Apache reads, generated from the directive declarations of
//! `mod_wasm_core`: one `command_rec` per [`Directive`], whose argument shape decides both the
//! `args_how` Apache checks and the trampoline it calls. The record's `cmd_data` points back at
//! the declaration, so one trampoline per shape serves every directive of that shape.

use crate::apache::{self, guard};
use crate::ffi::{self, cmd_func, cmd_how, cmd_parms, command_rec};
use crate::process;
use mod_wasm_core::{
    Applied, Applies, Args, Directive, DirectiveError, Mount, Origin, SectionConfig, ServerConfig,
    Site, DIRECTIVES,
};
use runtime_api::Registry;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;
use std::ptr;

/// Where section directives may appear: the server config and its sections, not `.htaccess`.
const PER_SECTION: c_int = (ffi::RSRC_CONF | ffi::ACCESS_CONF) as c_int;
/// Where server-wide directives may appear (`<VirtualHost>` is refused by the trampoline).
const SERVER_WIDE: c_int = ffi::RSRC_CONF as c_int;

/// The command table, NULL-terminated as Apache expects: `end` follows `commands` directly.
#[repr(C)]
pub struct CommandTable<const N: usize> {
    commands: [command_rec; N],
    end: command_rec,
}

// SAFETY: the table is immutable and its pointers refer to 'static data.
unsafe impl<const N: usize> Sync for CommandTable<N> {}

impl<const N: usize> CommandTable<N> {
    const fn new(directives: &'static [Directive; N]) -> Self {
        // SAFETY: an all-zero command_rec is valid: NULL pointers, no function, and the zero
        // `cmd_how`; with its NULL name it is the end of a table.
        const END: command_rec = unsafe { std::mem::zeroed() };
        let mut commands = [END; N];
        let mut i = 0;
        while i < N {
            commands[i] = command(&directives[i]);
            i += 1;
        }
        Self { commands, end: END }
    }

    pub const fn as_ptr(&self) -> *const command_rec {
        self.commands.as_ptr()
    }
}

pub static COMMANDS: CommandTable<{ DIRECTIVES.len() }> = CommandTable::new(&DIRECTIVES);

const fn command(directive: &'static Directive) -> command_rec {
    let (func, args_how, req_override) = match &directive.applies {
        Applies::ToSection(args) => shape::<SectionConfig>(args, PER_SECTION),
        Applies::ToServer(args) => shape::<ServerConfig>(args, SERVER_WIDE),
    };
    command_rec {
        name: directive.name.as_ptr(),
        func,
        cmd_data: directive as *const Directive as *mut c_void,
        req_override,
        args_how,
        errmsg: directive.help.as_ptr(),
    }
}

const fn shape<C: Target>(args: &Args<C>, context: c_int) -> (cmd_func, cmd_how, c_int) {
    let (func, how) = match args {
        Args::One(_) => (
            cmd_func {
                take1: Some(take1::<C>),
            },
            cmd_how::TAKE1,
        ),
        Args::OneOrTwo(_) => (
            cmd_func {
                take2: Some(take2::<C>),
            },
            cmd_how::TAKE12,
        ),
        Args::TwoOrThree(_) => (
            cmd_func {
                take3: Some(take3::<C>),
            },
            cmd_how::TAKE23,
        ),
        Args::Flag(_) => (
            cmd_func {
                flag: Some(flag::<C>),
            },
            cmd_how::FLAG,
        ),
        Args::Each(_) => (
            cmd_func {
                take1: Some(take1::<C>),
            },
            cmd_how::ITERATE,
        ),
    };
    (func, how, context)
}

/// A configuration that directives apply to.
trait Target: Sized + 'static {
    /// The arguments `directive` takes, if it applies to this kind of configuration.
    fn args(directive: &Directive) -> Option<&Args<Self>>;

    /// Why the directive must not be applied where it is written (NULL: it may).
    ///
    /// # Safety
    /// `cmd` is the live `cmd_parms` of the directive being read.
    unsafe fn misplaced(_cmd: *mut cmd_parms) -> *const c_char {
        ptr::null()
    }

    /// The configuration to change: NULL, or valid while the directive is applied.
    ///
    /// # Safety
    /// `cmd` is the live `cmd_parms` and `mconfig` the per-directory configuration Apache
    /// passed with it.
    unsafe fn config(cmd: &cmd_parms, mconfig: *mut c_void) -> *mut Self;
}

impl Target for SectionConfig {
    fn args(directive: &Directive) -> Option<&Args<Self>> {
        match &directive.applies {
            Applies::ToSection(args) => Some(args),
            Applies::ToServer(_) => None,
        }
    }

    /// For per-directory directives, `mconfig` is mod_wasm's entry of the section being read,
    /// made by `create_dir_config`: a SectionConfig.
    unsafe fn config(_: &cmd_parms, mconfig: *mut c_void) -> *mut Self {
        mconfig.cast()
    }
}

impl Target for ServerConfig {
    fn args(directive: &Directive) -> Option<&Args<Self>> {
        match &directive.applies {
            Applies::ToServer(args) => Some(args),
            Applies::ToSection(_) => None,
        }
    }

    unsafe fn misplaced(cmd: *mut cmd_parms) -> *const c_char {
        // SAFETY: `cmd` is live.
        unsafe { ffi::ap_check_cmd_context(cmd, ffi::NOT_IN_VIRTUALHOST) }
    }

    /// mod_wasm's entry of the server being read, made by `create_server_config`.
    unsafe fn config(cmd: &cmd_parms, _: *mut c_void) -> *mut Self {
        if cmd.server.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `cmd.server` is the live server record being configured.
        unsafe {
            let vector = (*cmd.server).module_config;
            ffi::ap_get_module_config(vector, ptr::addr_of!(crate::wasm_module)).cast()
        }
    }
}

/// Where a directive is being read, for the core's directive functions.
struct CmdSite<'a> {
    cmd: &'a cmd_parms,
}

impl Site for CmdSite<'_> {
    fn origin(&self) -> Origin {
        // SAFETY: Apache passes a live directive node, whose strings live as long as the
        // configuration; while a section's directives are read, `cmd.path` is its argument
        // (for `<Location ~ re>`, the expression).
        unsafe {
            let node = &*self.cmd.directive;
            let parent = node.parent.as_ref();
            let (section, mount) = match parent {
                Some(parent) => {
                    let name = apache::owned_text(parent.directive);
                    let args = apache::owned_text(parent.args);
                    let mount = match name.to_ascii_lowercase().as_str() {
                        "<location" => {
                            let regex = args.trim_start().starts_with('~');
                            Mount::location(&apache::owned_text(self.cmd.path), regex)
                        }
                        "<locationmatch" => {
                            Mount::location(&apache::owned_text(self.cmd.path), true)
                        }
                        _ => None,
                    };
                    (format!("{name} {args}"), mount)
                }
                None => ("server config".to_owned(), None),
            };
            Origin {
                file: apache::owned_text(node.filename),
                line: node.line_num.max(0) as u32,
                section,
                mount,
            }
        }
    }

    fn server_root_relative(&self, path: &str) -> Result<PathBuf, DirectiveError> {
        let invalid = || DirectiveError::invalid(path, "a path Apache can resolve");
        let c_path = CString::new(path).map_err(|_| invalid())?;
        // SAFETY: cmd->pool is the live configuration pool; the result is NULL or a string in
        // it.
        unsafe {
            let resolved = ffi::ap_server_root_relative(self.cmd.pool, c_path.as_ptr());
            apache::text(resolved)
                .map(|p| PathBuf::from(p.into_owned()))
                .ok_or_else(invalid)
        }
    }

    fn registry(&self) -> &Registry {
        process::registry()
    }

    fn restarting(&self) -> bool {
        apache::restarting()
    }
}

/// Applies the directive being read: `call` gets its declared arguments, the configuration and
/// the site. Catches panics, and turns an error into the message Apache reports with the
/// file and line of the directive.
///
/// # Safety
/// `cmd` and `mconfig` are what Apache passed to a trampoline of [`COMMANDS`].
unsafe fn apply<C: Target>(
    cmd: *mut cmd_parms,
    mconfig: *mut c_void,
    call: impl FnOnce(&Args<C>, &mut C, &CmdSite) -> Option<Applied>,
) -> *const c_char {
    // SAFETY: `cmd` is live.
    let misplaced = unsafe { C::misplaced(cmd) };
    if !misplaced.is_null() {
        return misplaced;
    }
    // SAFETY: `cmd` is live, and its `info` is the `cmd_data` of a record of COMMANDS: a
    // 'static Directive.
    let (cmd, directive) = unsafe { (&*cmd, &*(((*cmd).info) as *const Directive)) };
    let name = directive.name();
    let outcome = guard(Err(format!("internal error in {name}")), || {
        let args = C::args(directive)
            .ok_or_else(|| format!("{name} is declared for another configuration"))?;
        // SAFETY: `cmd` and `mconfig` are Apache's, for this call; the configuration they lead
        // to is only changed while the configuration is read, on one thread, and not kept.
        let config = unsafe { C::config(cmd, mconfig).as_mut() }
            .ok_or_else(|| "no configuration to apply it to".to_owned())?;
        let applied = call(args, config, &CmdSite { cmd }).ok_or_else(|| {
            "internal error: the arguments do not match the declaration".to_owned()
        })?;
        applied.map_err(|e| e.to_string())
    });
    match outcome {
        Ok(()) => ptr::null(),
        // SAFETY: the configuration pool is live; Apache copies the message out of it.
        Err(message) => unsafe { apache::pool_str(cmd.pool, &format!("{name}: {message}")) },
    }
}

/// An argument from Apache, as text.
///
/// # Safety
/// `p` is NULL or a NUL-terminated argument from Apache.
unsafe fn arg(p: *const c_char) -> Option<String> {
    // SAFETY: as promised by the caller.
    unsafe { apache::text(p) }.map(|s| s.into_owned())
}

/// `TAKE1` and `ITERATE` directives.
///
/// # Safety
/// Called by Apache for a record of [`COMMANDS`].
unsafe extern "C" fn take1<C: Target>(
    cmd: *mut cmd_parms,
    mconfig: *mut c_void,
    first: *const c_char,
) -> *const c_char {
    // SAFETY: Apache's arguments for this call.
    unsafe {
        let first = arg(first).unwrap_or_default();
        apply::<C>(cmd, mconfig, |args, config, site| match args {
            Args::One(f) | Args::Each(f) => Some(f(config, site, &first)),
            _ => None,
        })
    }
}

/// `TAKE12` directives.
///
/// # Safety
/// Called by Apache for a record of [`COMMANDS`].
unsafe extern "C" fn take2<C: Target>(
    cmd: *mut cmd_parms,
    mconfig: *mut c_void,
    first: *const c_char,
    second: *const c_char,
) -> *const c_char {
    // SAFETY: Apache's arguments for this call.
    unsafe {
        let (first, second) = (arg(first).unwrap_or_default(), arg(second));
        apply::<C>(cmd, mconfig, |args, config, site| match args {
            Args::OneOrTwo(f) => Some(f(config, site, &first, second.as_deref())),
            _ => None,
        })
    }
}

/// `TAKE23` directives.
///
/// # Safety
/// Called by Apache for a record of [`COMMANDS`].
unsafe extern "C" fn take3<C: Target>(
    cmd: *mut cmd_parms,
    mconfig: *mut c_void,
    first: *const c_char,
    second: *const c_char,
    third: *const c_char,
) -> *const c_char {
    // SAFETY: Apache's arguments for this call.
    unsafe {
        let (first, second, third) = (
            arg(first).unwrap_or_default(),
            arg(second).unwrap_or_default(),
            arg(third),
        );
        apply::<C>(cmd, mconfig, |args, config, site| match args {
            Args::TwoOrThree(f) => Some(f(config, site, &first, &second, third.as_deref())),
            _ => None,
        })
    }
}

/// `FLAG` directives.
///
/// # Safety
/// Called by Apache for a record of [`COMMANDS`].
unsafe extern "C" fn flag<C: Target>(
    cmd: *mut cmd_parms,
    mconfig: *mut c_void,
    on: c_int,
) -> *const c_char {
    // SAFETY: Apache's arguments for this call.
    unsafe {
        apply::<C>(cmd, mconfig, |args, config, site| match args {
            Args::Flag(f) => Some(f(config, site, on != 0)),
            _ => None,
        })
    }
}
