//! WordPress: Debian's `wordpress` package on a MariaDB of the benchmark's own, its front page
//! showing a few posts, served under every runtime with sockets by the flavour of php-cgi for
//! WASI that connects there, with `examples/wordpress/wordpress.conf` as it is, against the
//! host's php-cgi (Debian's `php-cgi` and `php-mysql`) running the same WordPress under mod_cgid
//! through an `Action`, as Debian's own php-cgi configuration for Apache does.
//!
//! Every server serves the one database, installed once through WordPress's installer, with
//! posts added beside its "Hello world!". Each server's WordPress is unpacked by
//! `examples/wordpress/unpack`; its configuration names the site by the request's host
//! (`WP_HOME`), so that each server, on a port of its own, serves the same page, and runs no
//! cron on page views (`DISABLE_WP_CRON`, as sites with a system cron do), so that a page view
//! is only a page view. The host's WordPress reads its configuration at the paths Debian's
//! `wp-config.php` names, moved under its prefix.

use crate::php::{measure, Php, PhpFigures, PhpPlan};
use mod_wasm_tests::mariadb::MariaDb;
use mod_wasm_tests::{
    load_module, php_socket_runtimes, php_with_sockets, shared_cache_dir, workspace_root, Apache,
    Config, Scratch,
};
use std::path::Path;

/// The page, as the report names it.
pub const FRONT_PAGE: &str = "WordPress, front page";
/// Where each server has the site.
const URL: &str = "/blog";
const DATABASE: &str = "wordpress";
const DB_PASSWORD: &str = "wordpress-benchmark";
/// Posts beside the installer's "Hello world!", all on the front page (ten fit).
const POSTS: usize = 4;

/// The front page under the host's php-cgi, then under each runtime in `runtimes` that gives
/// PHP sockets.
pub fn run(plan: &PhpPlan, runtimes: &[&'static str]) -> Vec<PhpFigures> {
    let db = MariaDb::start();
    db.create_database(DATABASE, DATABASE, DB_PASSWORD);
    let db_host = format!("127.0.0.1:{}", db.port);
    let front_page = format!("{URL}/");

    eprintln!("== WordPress: installing it, through php-cgi under mod_cgid");
    install(&host_server(&db_host), &db);

    let mut figures = Vec::new();
    eprintln!("== WordPress: php-cgi under mod_cgid");
    let host = host_server(&db_host);
    figures.push(measure(plan, Php::Host, &host, FRONT_PAGE, &front_page));
    drop(host);
    for runtime in php_socket_runtimes() {
        if !runtimes.contains(&runtime) {
            continue;
        }
        let php = Php::Wasm(runtime);
        eprintln!("== WordPress: {}", php.label());
        let server = wasm_server(runtime, &db_host);
        figures.push(measure(plan, php, &server, FRONT_PAGE, &front_page));
    }
    figures
}

/// Runs WordPress's installer, adds the posts, and views the front page once, so that whatever
/// WordPress stores on its first view is stored before any server is measured.
fn install(server: &Apache, db: &MariaDb) {
    let form = "weblog_title=mod_wasm+benchmark&user_name=admin&admin_password=benchmark-admin-secret\
                &admin_password2=benchmark-admin-secret&admin_email=admin%40example.org&blog_public=0";
    let installed = server
        .request("POST", &format!("{URL}/wp-admin/install.php?step=2"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send();
    assert!(
        installed.status == 200 && installed.text().contains("Success!"),
        "WordPress's installer answered {}:\n{}\nerror log:\n{}",
        installed.status,
        installed.text(),
        server.error_log()
    );
    // Copies of "Hello world!" (ID 1) with a few paragraphs each, in its category.
    let paragraph = "<!-- wp:paragraph -->\n<p>Lorem ipsum dolor sit amet, consectetur adipiscing \
                     elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut \
                     enim ad minim veniam, quis nostrud exercitation ullamco laboris.</p>\n\
                     <!-- /wp:paragraph -->\n\n";
    let content = paragraph.repeat(3);
    let mut sql = String::new();
    for post in 1..=POSTS {
        sql += &format!(
            "INSERT INTO `{DATABASE}`.wp_posts (post_author, post_date, post_date_gmt, \
             post_content, post_title, post_excerpt, post_status, comment_status, ping_status, \
             post_password, post_name, to_ping, pinged, post_modified, post_modified_gmt, \
             post_content_filtered, post_parent, guid, menu_order, post_type, post_mime_type, \
             comment_count) \
             SELECT post_author, post_date + INTERVAL {post} MINUTE, \
             post_date_gmt + INTERVAL {post} MINUTE, '{content}', 'Benchmark post {post}', '', \
             'publish', comment_status, ping_status, '', 'benchmark-post-{post}', '', '', \
             post_modified, post_modified_gmt, '', 0, '', 0, 'post', '', 0 \
             FROM `{DATABASE}`.wp_posts WHERE ID = 1;\n"
        );
    }
    sql += &format!(
        "INSERT INTO `{DATABASE}`.wp_term_relationships (object_id, term_taxonomy_id) \
         SELECT ID, 1 FROM `{DATABASE}`.wp_posts WHERE post_name LIKE 'benchmark-post-%';\n\
         UPDATE `{DATABASE}`.wp_term_taxonomy SET count = count + {POSTS} WHERE term_taxonomy_id = 1;"
    );
    db.sql(&sql);
    let front = server.get(&format!("{URL}/"));
    assert!(
        front.status == 200 && front.text().contains(&format!("Benchmark post {POSTS}")),
        "WordPress's front page answered {} without the posts:\n{}\nerror log:\n{}",
        front.status,
        front.text(),
        server.error_log()
    );
}

/// Unpacks WordPress under `root` with `examples/wordpress/unpack`, configured for the
/// benchmark's database, with the settings the module comment gives.
fn unpack_wordpress(root: &Path, db_host: &str) {
    mod_wasm_tests::unpack_wordpress(root, db_host, DATABASE, DB_PASSWORD);
    let config = root.join("etc/wordpress/config-default.php");
    let mut php = std::fs::read_to_string(&config).unwrap();
    php += &format!(
        "define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST'] . '{URL}');\n\
         define('WP_SITEURL', WP_HOME);\n\
         define('DISABLE_WP_CRON', true);\n"
    );
    std::fs::write(&config, php).unwrap();
}

/// WordPress under the host's php-cgi: each `.php` of the program handed to php-cgi by
/// mod_actions, as Debian's `php8.2-cgi.conf` does, with Debian's paths moved under the
/// scratch directory's prefix.
fn host_server(db_host: &str) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let root = scratch.path().join("wordpress");
    unpack_wordpress(&root, db_host);
    // Debian's wp-config.php, its configuration and its content directory name absolute paths,
    // which here are under `root`.
    for file in [
        "usr/share/wordpress/wp-config.php",
        "etc/wordpress/config-default.php",
    ] {
        let path = root.join(file);
        let mut php = std::fs::read_to_string(&path).unwrap();
        for dir in [
            "/etc/wordpress",
            "/usr/share/wordpress",
            "/var/lib/wordpress",
        ] {
            for quote in ['\'', '"'] {
                php = php.replace(
                    &format!("{quote}{dir}"),
                    &format!("{quote}{}{dir}", root.display()),
                );
            }
        }
        std::fs::write(&path, php).unwrap();
    }
    let cgi_bin = cgi_bin_with_php_cgi(scratch);
    let body = format!(
        "{settings}{cgid}{alias}{actions}{dir}\
         ScriptAlias /php-cgi/ {cgi_bin}/\n\
         Alias {URL}/wp-content {root}/var/lib/wordpress/wp-content\n\
         Alias {URL} {root}/usr/share/wordpress\n\
         <Directory {root}/usr/share/wordpress>\n  DirectoryIndex index.php\n  \
         AddHandler php-script .php\n  Action php-script /php-cgi/php-cgi\n</Directory>\n",
        settings = crate::through_apache::SERVER_SETTINGS,
        cgid = load_module("cgid"),
        alias = load_module("alias"),
        actions = load_module("actions"),
        dir = load_module("dir"),
        cgi_bin = cgi_bin.display(),
        root = root.display(),
    );
    config.with_body(&body).start()
}

/// A CGI directory holding the host's php-cgi.
fn cgi_bin_with_php_cgi(scratch: &Scratch) -> std::path::PathBuf {
    let cgi_bin = scratch.dir("cgi-bin");
    std::os::unix::fs::symlink("/usr/bin/php-cgi", cgi_bin.join("php-cgi"))
        .expect("linking the host's php-cgi");
    cgi_bin
}

/// WordPress under mod_wasm and `runtime`, as the README serves it: `wordpress.conf` included
/// as it is, with the php-cgi.wasm that connects under that runtime. WasmEdge's interpreter
/// takes many seconds a page, many clients minutes: the time limit allows them.
fn wasm_server(runtime: &str, db_host: &str) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let root = scratch.path().join("wordpress");
    unpack_wordpress(&root, db_host);
    let examples = workspace_root().join("examples");
    let php = scratch.file(
        "wasm/php-cgi.wasm",
        std::fs::read(php_with_sockets(runtime).expect("PHP connects under this runtime")).unwrap(),
    );
    let ini = scratch.file(
        "etc-php/php.ini",
        std::fs::read(examples.join("php/php.ini")).unwrap(),
    );
    let data = scratch.php_data_dir("wordpress-php");
    let body = format!(
        "{settings}{alias}{dir}WasmCacheDir {cache}\n\
         Define WORDPRESS_ROOT {root}/\nDefine WORDPRESS_URL {URL}\n\
         Define WORDPRESS_RUNTIME {runtime}\nDefine WORDPRESS_DB {db_host}\n\
         Define PHP_CGI_WASM {php}\nDefine PHP_INI_DIR {ini}\nDefine PHP_DATA {data}\n\
         Include {conf}\n\
         <Location {URL}>\n  WasmTimeout 600\n</Location>\n",
        settings = crate::through_apache::SERVER_SETTINGS,
        alias = load_module("alias"),
        dir = load_module("dir"),
        cache = shared_cache_dir().display(),
        root = root.display(),
        php = php.display(),
        ini = ini.parent().unwrap().display(),
        data = data.display(),
        conf = examples.join("wordpress/wordpress.conf").display(),
    );
    config.with_body(&body).start()
}
