//! The demo site: every example under every runtime a build of mod_wasm has, on one page, one
//! row per example and one column per runtime, and the whole configuration of the server that
//! serves it. `scripts/demo` writes both (through the `demo-site` program) and starts Apache;
//! the browser test (`tests/tests/demo.rs`) runs `scripts/demo` and clicks through the page.
//!
//! What each runtime can run, the build says ([`Build`]): the WASIX example only where the
//! `wasix` extension is, the guestbook only where there are sockets (built for that runtime's
//! socket ABI, or as a component whose sockets are `wasi:sockets`), the WASI 0.2 components
//! only where the runtime runs components. The Python app
//! runs under every runtime, when CPython for WASI is there, and the PHP site when PHP for WASI
//! is (`examples/php/build` builds it); PHP's notes on MariaDB where there are sockets, in
//! the flavour of PHP built for them.

use crate::{load_module, running_as_root, Build, RuntimeInfo};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The guestbook's database.
pub struct Database {
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: String,
}

/// What the site serves, and from where.
pub struct Site<'a> {
    pub build: &'a Build,
    /// The example guests, built for wasm32-wasip1.
    pub guests: &'a Path,
    /// The examples built for wasm32-wasip2, as components.
    pub components: &'a Path,
    /// The directory the `ls` example may list (read-only): the examples' sources in the demo.
    pub listing: &'a Path,
    /// Without one, the guestbook is left out.
    pub database: Option<&'a Database>,
    /// Without it, the Python app is left out.
    pub python: Option<Python<'a>>,
    /// Without it, the PHP site is left out.
    pub php: Option<Php<'a>>,
}

/// The server that serves the site: what its configuration needs besides the site.
pub struct Server<'a> {
    /// Its ServerRoot: the document root (`htdocs`), Apache's runtime files (`run`) and its
    /// pid file are there.
    pub dir: &'a Path,
    pub port: u16,
    /// The mod_wasm shared object.
    pub module_so: &'a Path,
    /// Where compiled modules are kept (`WasmCacheDir`); without it, mod_wasm's default, in
    /// the runtime directory.
    pub cache: Option<&'a Path>,
    /// Where the error log goes (`/dev/stderr`: the terminal that started the demo).
    pub error_log: &'a str,
}

/// CPython for WASI and the directory of the Python app (`examples/python`).
#[derive(Clone, Copy)]
pub struct Python<'a> {
    pub interpreter: &'a Path,
    pub app: &'a Path,
}

/// PHP for WASI and its site (`examples/php`), in a directory of the demo's: `php-cgi.wasm`,
/// the flavours with sockets (`wasix/`, `wasmedge/`, and the component in `wasip2/`), the
/// scripts in `site/` (with the notes on MySQL),
/// `php.ini` in `etc/`, and `data/` (sessions, uploads), which the server's children may write
/// to.
#[derive(Clone, Copy)]
pub struct Php<'a> {
    pub dir: &'a Path,
}

impl Php<'_> {
    /// The core module for a runtime: with its sockets where it has them (see
    /// `php_cgi_wasm_for`), so that each runtime compiles one PHP.
    fn module(&self, runtime: &RuntimeInfo) -> PathBuf {
        match &runtime.socket_abi {
            Some(abi) => self.dir.join(abi).join("php-cgi.wasm"),
            None => self.dir.join("php-cgi.wasm"),
        }
    }

    /// The flavour of PHP that connects under a runtime (see `php_with_sockets`): built for
    /// its socket ABI, or the WASI 0.2 component.
    fn with_sockets(&self, runtime: &RuntimeInfo) -> Option<PathBuf> {
        match &runtime.socket_abi {
            Some(abi) => Some(self.dir.join(abi).join("php-cgi.wasm")),
            None if runtime.components => Some(self.dir.join("wasip2/php-cgi.wasm")),
            None => None,
        }
    }

    fn site(&self) -> PathBuf {
        self.dir.join("site")
    }
}

/// One row of the page.
struct Example {
    name: &'static str,
    about: &'static str,
    /// What the guest can reach: what its location grants, and nothing else.
    sandbox: &'static str,
    /// The links of one cell, relative to the runtime's `/<runtime>/<example>`, each with
    /// what it is called on the page and in the browser test.
    links: &'static [(&'static str, &'static str)],
    /// Only runtimes with this extension or socket ABI can run it.
    needs: Needs,
}

#[derive(PartialEq)]
enum Needs {
    Nothing,
    Extension(&'static str),
    Sockets,
    /// CPython for WASI runs it (every runtime can).
    Python,
    /// PHP for WASI runs it (every runtime can).
    Php,
    /// PHP runs it on the guestbook's database: runtimes with sockets.
    PhpOnMysql,
    /// It is this file among the components: only runtimes that run components can.
    Component(&'static str),
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "hello",
        about: "The smallest CGI program: a header, a blank line, a greeting.",
        sandbox: "Nothing granted: no files, no network, no variables but its CGI ones.",
        links: &[("hello", "")],
        needs: Needs::Nothing,
    },
    Example {
        name: "cgi-env",
        about: "What a program sees: its arguments, and its environment with the CGI variables \
                (SCRIPT_NAME is where it is mounted, PATH_INFO the rest of the URL).",
        sandbox: "One WasmArg and one WasmEnv on top of the request's variables; none of the \
                  server's own environment.",
        links: &[("cgi-env", "/some/path?x=1")],
        needs: Needs::Nothing,
    },
    Example {
        name: "ls",
        about: "Lists a directory granted with WasmMapDir; follow a subdirectory to list it.",
        sandbox: "The examples' sources, as /examples, read-only; no other file of the host.",
        links: &[("ls", "")],
        needs: Needs::Nothing,
    },
    Example {
        name: "redirect",
        about: "Status and Location from the program: a status of its choosing, and a local \
                redirect that Apache follows.",
        sandbox: "Nothing granted.",
        links: &[
            ("redirect-status", "?status=418"),
            ("redirect-to", "?to=HELLO"),
        ],
        needs: Needs::Nothing,
    },
    Example {
        name: "echo",
        about: "The request body on stdin: the form's POST comes back as it was sent.",
        sandbox: "Nothing granted; it reads stdin and writes stdout.",
        links: &[],
        needs: Needs::Nothing,
    },
    Example {
        name: "http-hello",
        about: "A WASI 0.2 component, a wasi:http handler: it is handed the request itself and \
                answers with its own status, headers and a body that streams as it writes it.",
        sandbox: "Nothing granted; no outgoing HTTP request (WasmAllowConnect would grant one).",
        links: &[("http-hello", "/"), ("http-headers", "/headers")],
        needs: Needs::Component("http_hello.wasm"),
    },
    Example {
        name: "hello-p2",
        about: "hello built for wasm32-wasip2: a WASI 0.2 command (wasi:cli/run), run with CGI \
                exactly as the core module is.",
        sandbox: "Nothing granted.",
        links: &[("hello-p2", "")],
        needs: Needs::Component("hello.wasm"),
    },
    Example {
        name: "wasix",
        about: "Calls WASIX, Wasmer's extensions to WASI (the current directory, the thread id). \
                Runtimes without WASIX refuse it when the configuration is read.",
        sandbox: "Nothing granted.",
        links: &[("wasix", "")],
        needs: Needs::Extension("wasix"),
    },
    Example {
        name: "guestbook",
        about: "A guestbook on MariaDB, speaking the MySQL protocol from inside the sandbox: \
                sign it, and your entry is there.",
        sandbox: "One outbound connection, to the database's address and port \
                  (WasmAllowConnect); no other connection, no listening socket.",
        links: &[("guestbook", "")],
        needs: Needs::Sockets,
    },
    Example {
        name: "python",
        about: "CPython 3.12 for WASI runs a Python app: a form, and the same answer as JSON. \
                The interpreter is a WebAssembly module like the others.",
        sandbox: "The app's directory, as /app, read-only (WasmArg /app/hello.py); nothing else \
                  of the host.",
        links: &[
            ("python", "?name=Ada"),
            ("python-json", "?format=json&name=Ada"),
        ],
        needs: Needs::Python,
    },
    Example {
        name: "sandbox",
        about: "The first mod_wasm's sandbox demo: a Python script that shows any file it is \
                asked for (show.py?file=…). Run by the host's python3 under mod_cgid, it shows \
                the server's /etc/passwd: SANDBOX_HOST_LINK. Run by CPython for WASI under \
                mod_wasm, it cannot: only its own directory exists for it.",
        sandbox: "The script's directory, as /app, read-only (WasmArg /app/show.py).",
        links: &[("sandbox", "?file=/etc/passwd")],
        needs: Needs::Python,
    },
    Example {
        name: "php",
        about: "PHP 8.2, built for WASI here from Debian's source, runs a PHP page as php-cgi: \
                a form, and the same answer as JSON.",
        sandbox: "The site's scripts as /site, read-only; /data read-write for sessions and \
                  uploads; php.ini as /etc/php. Nothing else of the host.",
        links: &[
            ("php", "/hello.php?name=Ada"),
            ("php-json", "/hello.php?format=json&name=Ada"),
        ],
        needs: Needs::Php,
    },
    Example {
        name: "php-sandbox",
        about: "The sandbox demo in PHP: show.php shows any file it is asked for. Run by the \
                host's php-cgi under mod_cgid, it shows the server's /etc/passwd: \
                PHP_HOST_LINK. Run by php-cgi for WASI under mod_wasm, it cannot.",
        sandbox: "As for the PHP page: /site, /data and /etc/php.",
        links: &[("php-sandbox", "/show.php?file=/etc/passwd")],
        needs: Needs::Php,
    },
    Example {
        name: "php-notes",
        about: "PHP on MariaDB: notes that mysqli writes and PDO reads, in the flavour of \
                PHP built for the runtime's sockets (WASIX, WasmEdge's, or WASI 0.2's \
                wasi:sockets).",
        sandbox: "As for the PHP page, and one outbound connection, to the database \
                  (WasmAllowConnect).",
        links: &[("php-notes", "/notes.php")],
        needs: Needs::PhpOnMysql,
    },
];

/// Where the host's python3 runs the sandbox demo's script, under mod_cgid.
const HOST_CGI: &str = "/cgi-bin/python3";
/// Where the host's php-cgi runs the PHP sandbox demo's script, under mod_cgid.
const HOST_PHP_CGI: &str = "/cgi-bin/php-cgi";

impl Site<'_> {
    /// The whole configuration of `server` serving the site, and the site's page (its
    /// `htdocs/index.html`). Apache is given this file and nothing else: every module it
    /// needs is loaded here.
    pub fn render(&self, server: &Server) -> (String, String) {
        let dir = server.dir.display();
        let mut conf = format!(
            "# Written by demo-site for scripts/demo.\n\
             ServerRoot {dir}\n\
             ServerName 127.0.0.1\n\
             Listen 127.0.0.1:{port}\n",
            port = server.port
        );
        let mut modules = vec!["mpm_event", "authz_core", "mime", "dir"];
        if self.python.is_some() || self.php.is_some() {
            // The sandbox demo's scripts, run by the host's python3 and php-cgi: ScriptAlias
            // and mod_cgid; the PHP site is also where Alias puts it.
            modules.extend(["alias", "cgid"]);
        }
        for module in modules {
            conf.push_str(&load_module(module));
        }
        let _ = writeln!(
            conf,
            "LoadModule wasm_module {}",
            server.module_so.display()
        );
        if running_as_root() {
            // Started as root, Apache serves as www-data, which must be able to read the site.
            conf.push_str("User www-data\nGroup www-data\n");
        }
        let _ = write!(
            conf,
            "PidFile {dir}/httpd.pid\n\
             DefaultRuntimeDir {dir}/run\n\
             ErrorLog {}\n\
             LogLevel warn wasm:info\n\
             TypesConfig /etc/mime.types\n\
             DocumentRoot {dir}/htdocs\n\
             DirectoryIndex index.html\n",
            server.error_log
        );
        if let Some(cache) = server.cache {
            let _ = writeln!(conf, "WasmCacheDir {}", cache.display());
        }
        // The page answers at once; each example's cell says "compiling" until its code is
        // ready (CPython under WasmEdge: minutes, the first time).
        conf.push_str("WasmCompile background\n");
        conf.push_str(&self.sections());
        (conf, self.page())
    }

    /// The site's own sections.
    fn sections(&self) -> String {
        // Loopback only, like the whole demo; a real site adds `Require local` (README).
        let mut sections =
            String::from("<Location /wasm-status>\n  SetHandler wasm-status\n</Location>\n");
        if let Some(python) = self.python {
            let _ = writeln!(
                sections,
                "ScriptAlias {HOST_CGI}/ {}/",
                python.app.display()
            );
        }
        if let Some(php) = self.php {
            let _ = writeln!(
                sections,
                "ScriptAlias {HOST_PHP_CGI}/ {}/",
                php.dir.join("cgi-bin").display()
            );
        }
        for runtime in &self.build.built_in {
            let name = &runtime.name;
            let _ = write!(
                sections,
                "<Location /{name}>\n  SetHandler wasm-handler\n  WasmRuntime {name}\n  \
                 WasmEnableCGI On\n  WasmServerTiming On\n</Location>\n"
            );
            for example in EXAMPLES {
                if let Some(module) = self.module(example, name) {
                    if let (Needs::Php | Needs::PhpOnMysql, Some(php)) = (&example.needs, self.php)
                    {
                        // php-cgi runs the script Apache maps the URL to (SCRIPT_FILENAME).
                        let _ = writeln!(
                            sections,
                            "Alias /{name}/{} {}",
                            example.name,
                            php.site().display()
                        );
                    }
                    let extra = self.grants(example, name);
                    let _ = write!(
                        sections,
                        "<Location /{name}/{}>\n  WasmModule {}\n{extra}</Location>\n",
                        example.name,
                        module.display(),
                    );
                }
            }
        }
        sections
    }

    /// The module that runs `example` under `runtime`, if that runtime can run it.
    fn module(&self, example: &Example, runtime: &str) -> Option<PathBuf> {
        let info = self.build.runtime(runtime);
        let guest = match example.needs {
            Needs::Python => {
                let python = self.python?;
                return python
                    .interpreter
                    .is_file()
                    .then(|| python.interpreter.into());
            }
            Needs::Php => {
                let module = self.php?.module(info);
                return module.is_file().then_some(module);
            }
            Needs::PhpOnMysql => {
                self.database?;
                let module = self.php?.with_sockets(info)?;
                return module.is_file().then_some(module);
            }
            Needs::Nothing => example.name.to_owned(),
            Needs::Extension(extension) => info
                .extensions
                .iter()
                .any(|e| e == extension)
                .then(|| extension.to_owned())?,
            Needs::Sockets => {
                self.database?;
                match &info.socket_abi {
                    Some(abi) => format!("{}-{abi}", example.name),
                    None => {
                        let module = self.components.join(format!("{}.wasm", example.name));
                        return (info.components && module.is_file()).then_some(module);
                    }
                }
            }
            Needs::Component(file) => {
                let module = self.components.join(file);
                return (info.components && module.is_file()).then_some(module);
            }
        };
        let module = self.guests.join(format!("{guest}.wasm"));
        module.is_file().then_some(module)
    }

    /// What `example`'s location grants besides its module, under `runtime`.
    fn grants(&self, example: &Example, runtime: &str) -> String {
        match example.name {
            "python" | "sandbox" => match self.python {
                Some(python) => format!(
                    "  WasmMapDir /app {} ro\n  WasmArg /app/{}\n  \
                     WasmEnv MOD_WASM_RUNTIME {runtime}\n",
                    python.app.display(),
                    if example.name == "python" {
                        "hello.py"
                    } else {
                        "show.py"
                    }
                ),
                None => String::new(),
            },
            "php" | "php-sandbox" => match self.php {
                Some(php) => php_grants(php, runtime),
                None => String::new(),
            },
            "php-notes" => match (self.php, self.database) {
                (Some(php), Some(db)) => php_grants(php, runtime) + &database_grants(db),
                _ => String::new(),
            },
            "cgi-env" => "  WasmArg --demo\n  WasmEnv GREETING \"set by WasmEnv\"\n".to_owned(),
            "ls" => format!(
                "  WasmArg /examples\n  WasmMapDir /examples {} ro\n",
                self.listing.display()
            ),
            "guestbook" => match self.database {
                Some(db) => database_grants(db),
                None => String::new(),
            },
            _ => String::new(),
        }
    }

    fn page(&self) -> String {
        let runtimes = &self.build.built_in;
        let mut page = String::from(PAGE_HEAD);
        page.push_str("<table>\n<tr><th>Example</th>");
        for runtime in runtimes {
            let _ = write!(
                page,
                "<th data-runtime=\"{0}\">{0}<br><small>{1}</small></th>",
                escape(&runtime.name),
                escape(&runtime.version)
            );
        }
        page.push_str("</tr>\n");
        for example in EXAMPLES {
            if (example.needs == Needs::Python && self.python.is_none())
                || (matches!(example.needs, Needs::Php | Needs::PhpOnMysql) && self.php.is_none())
            {
                continue;
            }
            let host_link = format!(
                "<a href=\"{HOST_CGI}/show.py?file=/etc/passwd\" data-host-example=\"sandbox\">\
                 python3 shows it</a>"
            );
            let php_host_link = format!(
                "<a href=\"{HOST_PHP_CGI}/show.php?file=/etc/passwd\" \
                 data-host-example=\"php-sandbox\">php-cgi shows it</a>"
            );
            let _ = write!(
                page,
                "<tr><th><b>{}</b><p>{}</p><p class=\"sandbox\">Sandbox: {}</p></th>",
                example.name,
                example
                    .about
                    .replace("SANDBOX_HOST_LINK", &host_link)
                    .replace("PHP_HOST_LINK", &php_host_link),
                example.sandbox
            );
            for runtime in runtimes {
                page.push_str("<td>");
                page.push_str(&self.cell(example, &runtime.name));
                page.push_str("</td>");
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</table>\n");
        page.push_str(PAGE_FOOT);
        page
    }

    fn cell(&self, example: &Example, runtime: &str) -> String {
        if self.module(example, runtime).is_none() {
            let why = match example.needs {
                Needs::Nothing => "not built",
                Needs::Python => "CPython for WASI is not there (scripts/setup fetches it)",
                Needs::Php => "PHP for WASI is not there (examples/php/build builds it)",
                Needs::PhpOnMysql => "this runtime has no sockets",
                Needs::Extension(_) => "this runtime does not provide it",
                Needs::Sockets => "this runtime has no sockets",
                Needs::Component(_) => "this runtime does not run components",
            };
            return format!("<span class=\"absent\" title=\"{why}\">—</span>");
        }
        let base = format!("/{runtime}/{}", example.name);
        if example.name == "echo" {
            return format!(
                "<form method=\"post\" action=\"{base}\" data-example=\"echo\" \
                 data-runtime=\"{runtime}\"><input name=\"text\" value=\"echo me\"> \
                 <button>POST</button></form>"
            );
        }
        let mut cell = String::new();
        for (label, suffix) in example.links {
            let suffix = suffix.replace("HELLO", &format!("/{runtime}/hello"));
            let _ = write!(
                cell,
                "<a href=\"{base}{suffix}\" data-example=\"{label}\" data-runtime=\"{runtime}\">{label}</a> \
                 <span class=\"timing\"></span><br>",
                suffix = escape(&suffix)
            );
        }
        cell
    }
}

/// What PHP's locations grant: its site, read-only; what it writes; php.ini.
fn php_grants(php: Php, runtime: &str) -> String {
    format!(
        "  WasmMapCGIFileNames On\n  WasmMapDir /site {} ro\n  \
         WasmMapDir /data {} rw\n  WasmMapDir /etc/php {} ro\n  \
         WasmEnv PHPRC /etc/php\n  WasmEnv MOD_WASM_RUNTIME {runtime}\n",
        php.site().display(),
        php.dir.join("data").display(),
        php.dir.join("etc").display(),
    )
}

/// Where the database is, as the guestbook and the notes read it, and the one connection to it.
fn database_grants(db: &Database) -> String {
    format!(
        "  WasmEnv DB_HOST 127.0.0.1\n  WasmEnv DB_PORT {port}\n  WasmEnv DB_USER {}\n  \
         WasmEnv DB_PASSWORD {}\n  WasmEnv DB_NAME {}\n  WasmAllowConnect 127.0.0.1:{port}\n",
        db.user,
        db.password,
        db.name,
        port = db.port
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE_HEAD: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>mod_wasm demo</title>
<style>
  body { font-family: sans-serif; margin: 2em auto; max-width: 80em; line-height: 1.4 }
  table { border-collapse: collapse }
  th, td { border: 1px solid #ccc; padding: .5em; vertical-align: top; text-align: left }
  th p { font-weight: normal; margin: .3em 0; max-width: 28em }
  .sandbox { color: #555 }
  .timing { color: #777; font-size: smaller }
  .absent { color: #aaa }
</style>
<h1>mod_wasm demo</h1>
<p>Each link is answered by a WebAssembly program, in a fresh sandbox per request, by the runtime
at the head of its column. Beside each link, how long the program ran for this page (the
<code>Server-Timing</code> header of <code>WasmServerTiming On</code>). The programs are in
<code>examples/</code>.</p>
<p>What each runtime has answered so far: the <a href="/wasm-status" id="status">status page</a>
(<code>SetHandler wasm-status</code>; also <a href="/wasm-status?format=json">JSON</a> and
<a href="/wasm-status?format=prometheus">Prometheus</a>).</p>
"#;

const PAGE_FOOT: &str = r#"<script>
// Asks every link once and shows how long its program ran. A module still being compiled
// (WasmCompile background) answers 503 with Retry-After: asked again then.
function ask(link, timing) {
  fetch(link.href, { redirect: "manual" })
    .then((response) => {
      const retry = response.headers.get("Retry-After");
      if (response.status === 503 && retry) {
        timing.textContent = "compiling…";
        setTimeout(() => ask(link, timing), Number(retry) * 1000);
        return;
      }
      const header = response.headers.get("Server-Timing") || "";
      const dur = /dur=([0-9.]+)/.exec(header);
      timing.textContent = dur ? `${Number(dur[1]).toFixed(2)} ms` : `(${response.status})`;
    })
    .catch(() => { timing.textContent = "(failed)"; });
}
for (const link of document.querySelectorAll("a[data-example]")) {
  ask(link, link.nextElementSibling);
}
</script>
</html>
"#;
