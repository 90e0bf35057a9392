"""A WSGI application as a wasi:http handler, for mod_wasm.

`examples/wsgi/build` makes a component of this module with componentize-py, which imports it,
and with it the application, when it builds the component, and keeps the interpreter in that
state: every request starts with the application imported and ready, instead of starting
Python and importing it first.

Each request becomes a WSGI environ (PEP 3333): the environment mod_wasm gives the handler
(`WasmEnv`; set `SCRIPT_NAME` to the location the application is mounted at), and the request's
method, path, query, headers and body. The body is read whole before the application runs,
and the response streams back as the application yields it.

A component holds only the modules imported while it was built: an application that imports a
module only while it answers a request must import it at the top of its module instead.
"""

# The component holds the modules imported while it is built, and no others: a module an
# application imports only while it answers must be imported here (or by the application's own
# module). Codecs are looked up by name when first used; Werkzeug encodes host names as IDNA.
import encodings.idna  # noqa: F401
import io
import sys
from urllib.parse import unquote

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import environment
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
    Scheme_Https,
    Scheme_Other,
)

from wsgi_target import application

# What one write to the response stream may hold: wasi:io's output streams accept at most 4096
# bytes per blocking write.
WRITE_SIZE = 4096

def method_name(method):
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


def read_body(request):
    """The request's whole body."""
    chunks = []
    body = request.consume()
    with body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(65536))
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    IncomingBody.finish(body)
    return b"".join(chunks)


def environ_of(request, body):
    environ = dict(environment.get_environment())
    script_name = environ.get("SCRIPT_NAME", "").rstrip("/")
    target = request.path_with_query() or "/"
    path, _, query = target.partition("?")
    path = unquote(path, encoding="latin-1")
    if script_name and (path == script_name or path.startswith(script_name + "/")):
        path = path[len(script_name):]
    scheme = request.scheme()
    if isinstance(scheme, Scheme_Https):
        url_scheme = "https"
    elif isinstance(scheme, Scheme_Other):
        url_scheme = scheme.value
    else:
        url_scheme = "http"
    authority = request.authority() or "localhost"
    host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    environ.update(
        {
            "REQUEST_METHOD": method_name(request.method()),
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": host or authority,
            "SERVER_PORT": port or ("443" if url_scheme == "https" else "80"),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url_scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": True,
        }
    )
    with request.headers() as headers:
        for name, value in headers.entries():
            key = name.upper().replace("-", "_")
            value = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request, response_out):
        environ = environ_of(request, read_body(request))
        started = {}

        def start_response(status, headers, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = headers
            return lambda data: chunks_written.append(data)

        chunks_written = []
        result = application(environ, start_response)
        try:
            chunks = iter(result)
            first = next(chunks, b"")
            fields = Fields.from_list(
                [(name.lower(), value.encode("latin-1")) for name, value in started["headers"]]
            )
            response = OutgoingResponse(fields)
            response.set_status_code(started["status"])
            body = response.body()
            ResponseOutparam.set(response_out, Ok(response))
            with body.write() as stream:
                for chunk in [*chunks_written, first]:
                    write(stream, chunk)
                for chunk in chunks:
                    write(stream, chunk)
            OutgoingBody.finish(body, None)
        finally:
            if hasattr(result, "close"):
                result.close()


def write(stream, data):
    for start in range(0, len(data), WRITE_SIZE):
        stream.blocking_write_and_flush(data[start : start + WRITE_SIZE])
