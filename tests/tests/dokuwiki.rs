//! Debian's DokuWiki, served by php-cgi.wasm through Apache under every runtime, with the
//! configuration the README gives an admin (`examples/dokuwiki/dokuwiki.conf`, included as it
//! is) and the packages unpacked by `examples/dokuwiki/unpack` as apt would install them. A
//! person uses each wiki in headless Chromium (`tests/browser/dokuwiki.mjs`): logs in, creates a
//! page, edits it and reads its old revisions; the wiki's files then hold both versions. One
//! more wiki has PHP started once (`WasmPreinit On`), under the first runtime.

use mod_wasm_tests::{
    browser_test, load_module, php_cgi_wasm_for, runtimes, shared_cache_dir, unpack_dokuwiki,
    workspace_root, Config,
};

const ADMIN_PASSWORD: &str = "correct horse battery staple";

#[test]
fn a_person_logs_in_creates_and_edits_a_dokuwiki_page_under_every_runtime() {
    let runtimes = runtimes();
    let config = Config::new("");
    let scratch = &config.scratch;
    let examples = workspace_root().join("examples");
    let ini = scratch.file(
        "php/php.ini",
        std::fs::read(examples.join("php/php.ini")).unwrap(),
    );
    let mut body = format!(
        "{}{}WasmCacheDir {}\n",
        load_module("alias"),
        load_module("dir"),
        shared_cache_dir().display()
    );
    // Each wiki by the name in its URL, and the runtime that serves it.
    let started_once = format!("{}-started-once", runtimes[0]);
    let wikis: Vec<(&str, &str)> = runtimes
        .iter()
        .map(|runtime| (*runtime, *runtime))
        .chain([(started_once.as_str(), runtimes[0])])
        .collect();
    for (wiki, runtime) in &wikis {
        if *wiki == started_once {
            // The last one: the Define holds for the Includes after it.
            body += "Define DOKUWIKI_PHP_STARTS_ONCE\n";
        }
        let root = scratch.path().join(wiki);
        unpack_dokuwiki(&root, ADMIN_PASSWORD);
        // Where an admin keeps php-cgi.wasm and php.ini: readable by Apache's user.
        let php = scratch.file(
            &format!("wasm/{wiki}/php-cgi.wasm"),
            std::fs::read(php_cgi_wasm_for(runtime)).expect("reading php-cgi.wasm"),
        );
        let data = scratch.php_data_dir(&format!("php-{wiki}"));
        body += &format!(
            "Define DOKUWIKI_ROOT {root}/\nDefine DOKUWIKI_URL /{wiki}\n\
             Define DOKUWIKI_RUNTIME {runtime}\nDefine PHP_CGI_WASM {php}\n\
             Define PHP_INI_DIR {ini}\nDefine PHP_DATA {data}\nInclude {conf}\n",
            root = root.display(),
            php = php.display(),
            ini = ini.parent().unwrap().display(),
            data = data.display(),
            conf = examples.join("dokuwiki/dokuwiki.conf").display(),
        );
    }
    if runtimes.contains(&"wasmedge-interpreter") {
        // As the README advises: WasmEdge's interpreter builds DokuWiki's first stylesheet
        // (css.php) for over a minute on a busy machine, past the default limit (`Timeout`).
        body += "<Location /wasmedge-interpreter>\n  WasmTimeout 150\n</Location>\n";
    }
    let apache = config.with_body(&body).start();

    let report = browser_test(
        "dokuwiki",
        &format!("http://127.0.0.1:{}/", apache.port()),
        [ADMIN_PASSWORD]
            .into_iter()
            .chain(wikis.iter().map(|(wiki, _)| *wiki)),
        || format!("error log:\n{}", apache.error_log()),
    );

    for (wiki, _) in &wikis {
        for step in [
            "log in as the administrator",
            "create a page",
            "edit the page",
            "the old revisions list both versions",
        ] {
            assert!(
                report.contains(&format!("ok   {wiki}: {step}")),
                "{wiki}: {step}:\n{report}"
            );
        }
        // What the wiki wrote, in the directory granted to it read-write: the page as edited,
        // and both versions in its history.
        let data = apache
            .scratch()
            .path()
            .join(wiki)
            .join("var/lib/dokuwiki/data");
        let page_id = format!("made_under_{wiki}");
        let page = std::fs::read_to_string(data.join(format!("pages/{page_id}.txt")))
            .unwrap_or_else(|e| panic!("{wiki}: the page's file: {e}"));
        assert!(page.contains("The second version"), "{wiki}: {page}");
        let versions = std::fs::read_dir(data.join("attic"))
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with(&format!("{page_id}.")) && name.ends_with(".txt.gz")
            })
            .count();
        assert_eq!(versions, 2, "{wiki}: versions in the attic");
    }
    let log = apache.error_log();
    assert!(!log.contains("PHP Fatal error"), "{log}");
    eprintln!("{report}");
}
