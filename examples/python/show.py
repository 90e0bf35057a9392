#!/usr/bin/python3
"""Shows a file of this site: ?file=readme.txt. Vulnerable on purpose: `file` may be any
path, such as /etc/passwd. Run as a plain CGI script, it shows whatever the server can read;
run by python.wasm under mod_wasm, only what the location grants exists.
"""

import os
import urllib.parse

query = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""))
wanted = query.get("file", ["readme.txt"])[-1]
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), wanted)
try:
    with open(path) as file:
        shown = file.read()
except OSError as error:
    shown = f"cannot read {path}: {error.strerror}"

print("Content-Type: text/plain; charset=utf-8")
print()
print(shown)
