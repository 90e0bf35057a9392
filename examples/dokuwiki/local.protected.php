<?php
// DokuWiki under mod_wasm: /etc/dokuwiki/local.protected.php, the settings DokuWiki reads after
// local.php and its configuration manager never changes.
//
// Debian's package links /etc/dokuwiki/acl.auth.php and users.auth.php, with absolute links,
// to the files themselves in /var/lib/dokuwiki/acl. A sandbox follows no link out of the
// directory it was granted in, so DokuWiki is told where the files are instead. This file is
// read where the configuration is loaded, beside the list of files it names; the host's
// DokuWiki, if it runs too, finds the same files.
$config_cascade['acl']['default'] = '/var/lib/dokuwiki/acl/acl.auth.php';
$config_cascade['plainauth.users']['default'] = '/var/lib/dokuwiki/acl/users.auth.php';
