"""Flask's quick-start app and a counter in SQLite, served as CGI by CPython for WASI.

mod_wasm runs it with `WasmArg /app/app.py`, Flask on `PYTHONPATH` (`WasmEnv`) in a directory
granted read-only, and the database in a directory granted read-write at /data. The same app
is also built into a wasi:http handler with Flask imported ahead of time
(`examples/wsgi/build examples/flask app:app`), which serves `app` itself.
"""
import sqlite3

from flask import Flask, redirect, request, url_for
from wsgiref.handlers import CGIHandler

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!\n"


def database():
    # WASI has no file locks: SQLite locks the database with a lock directory beside it
    # (its unix-dotfile VFS), which the other requests, in other sandboxes, see too.
    db = sqlite3.connect("file:/data/counter.sqlite?vfs=unix-dotfile", uri=True, timeout=30)
    db.execute("create table if not exists hits (at text)")
    return db


@app.route("/count", methods=["GET", "POST"])
def count():
    db = database()
    if request.method == "POST":
        with db:
            db.execute("insert into hits values (datetime('now'))")
        return redirect(url_for("count"))
    (hits,) = db.execute("select count(*) from hits").fetchone()
    return f"{hits}\n"


if __name__ == "__main__":
    CGIHandler().run(app)
