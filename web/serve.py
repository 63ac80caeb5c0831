"""`qa serve`: the app under waitress (a production WSGI server), bound to 127.0.0.1 by default."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("qa.web")


def serve(index_dir: Path, host: str = "127.0.0.1", port: int = 8000, threads: int = 8) -> None:
    from waitress import serve as waitress_serve

    from web.app import create_app

    logging.getLogger("qa.web").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(index_dir=index_dir)
    log.warning("serving on http://%s:%d/ (index %s)", host, port, index_dir)
    waitress_serve(app, host=host, port=port, threads=threads, ident="inspection-qa",
                   # well above the app's own limit (web.app.MAX_BODY_BYTES), so an oversized body still gets the
                   # app's JSON 413 rather than waitress closing the connection
                   max_request_body_size=16 * 1024 * 1024, clear_untrusted_proxy_headers=True)
