"""A WASI 0.3 wasi:http handler written in Python (the wasi:http/service world), built into a
component by componentize-py: the handler is a coroutine, and the response body is written by a
task of its own after the handler has returned the response.

    GET .../count   how many requests this instance has handled, this one included
    GET ...         a greeting
"""

import wit_world
from componentize_py_async_support import spawn
from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.wasi_http_types import Fields, Request, Response

handled = 0


class Handler(exports.Handler):
    async def handle(self, request: Request) -> Response:
        global handled
        handled += 1
        path = (request.get_path_with_query() or "/").split("?")[0]
        if path.endswith("/count"):
            text = f"{handled}\n"
        else:
            text = "Hello from Python, a WASI 0.3 wasi:http component!\n"
        body, contents = wit_world.byte_stream()

        async def write() -> None:
            with body:
                await body.write_all(text.encode())

        spawn(write())
        no_trailers = wit_world.result_option_wasi_http_types_fields_wasi_http_types_error_code_future(
            lambda: Ok(None)
        )[1]
        headers = Fields.from_list([("content-type", b"text/plain")])
        return Response.new(headers, contents, no_trailers)[0]
