<?php
// Shows a file of this site: ?file=readme.txt. Vulnerable on purpose: any path is accepted,
// ?file=/etc/passwd too. Run by the host's php-cgi it shows the server's files; in the
// sandbox only what the location grants exists.
header('Content-Type: text/plain');
$file = $_GET['file'] ?? 'readme.txt';
$text = @file_get_contents($file);
if ($text === false) {
    echo "cannot read $file: ", error_get_last()['message'] ?? 'unknown error', "\n";
} else {
    echo $text;
}
