"""A small Python app served by mod_wasm: a form, and the same answer as JSON.

    GET  hello.py              the form
    POST hello.py              the form, answered (name=...)
    GET  hello.py?format=json  {"greeting": ..., "python": ..., ...}

CGI as Python's standard library knows it: the request is os.environ and stdin, the answer
is printed, headers first.
"""

import hashlib
import html
import json
import os
import sys
import urllib.parse


def form_fields():
    query = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""))
    if os.environ.get("REQUEST_METHOD") == "POST":
        length = int(os.environ.get("CONTENT_LENGTH") or 0)
        query.update(urllib.parse.parse_qs(sys.stdin.read(length)))
    return {name: values[-1] for name, values in query.items()}


fields = form_fields()
name = fields.get("name", "").strip() or "world"
answer = {
    "greeting": f"Hello, {name}!",
    "python": sys.version.split()[0],
    "platform": sys.platform,
    "runtime": os.environ.get("MOD_WASM_RUNTIME", "unknown"),
    "method": os.environ.get("REQUEST_METHOD"),
    "name_sha256": hashlib.sha256(name.encode()).hexdigest(),
}

if fields.get("format") == "json":
    print("Content-Type: application/json")
    print()
    print(json.dumps(answer))
else:
    print("Content-Type: text/html; charset=utf-8")
    print()
    print(f"""<!doctype html>
<title>Python on mod_wasm</title>
<h1 id="greeting">{html.escape(answer["greeting"])}</h1>
<p>CPython {answer["python"]} on {answer["platform"]}, under {html.escape(answer["runtime"])}.</p>
<form method="post">
  <label>Your name <input name="name" value="{html.escape(name)}"></label>
  <button>Greet me</button>
</form>
<p><a href="?format=json&amp;name={urllib.parse.quote(name)}">as JSON</a></p>""")
