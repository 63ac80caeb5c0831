"""Flask app factory: the staff page, the document view and the JSON API, with errors as JSON."""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from web.api import ApiError, api

log = logging.getLogger("qa.web")

MAX_BODY_BYTES = 64 * 1024

ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def create_app(test_config: dict[str, Any] | None = None, pipeline=None, index_dir: Path | None = None) -> Flask:
    """Build the app. The pipeline is loaded once per process and kept on the app (tests pass a small one)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if pipeline is None and index_dir is not None:
        from qa.index import IndexNotReady
        from qa.pipeline import Pipeline

        try:
            pipeline = Pipeline(index_dir)
            pipeline.warm_up()
        except IndexNotReady as exc:
            app.config["PIPELINE_ERROR"] = str(exc)
            log.error("%s", exc)
    app.config["PIPELINE"] = pipeline
    if "STORE" not in app.config:
        from qa.store import Store

        try:
            app.config["STORE"] = Store()
        except (OSError, sqlite3.Error) as exc:  # the page and answers still work without it
            app.config["STORE"], app.config["STORE_ERROR"] = None, f"feedback is not being kept: {exc}"
            log.error("no store: %s", exc)
    app.register_blueprint(api)

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %d %.1fms", request.method, request.path, response.status_code, took)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith("/api/") or request.path == "/":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return jsonify({"error": {"code": error.code, "message": error.message}}), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not request.path.startswith("/api/") and error.code == 404:
            return render_template("not_found.html"), 404
        code = ERROR_CODES.get(error.code or 500, "http_error")
        message = {413: f"the request body is over {MAX_BODY_BYTES} bytes"}.get(error.code, error.description)
        response = jsonify({"error": {"code": code, "message": message}})
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(sorted(set(error.valid_methods)))  # RFC 9110: a 405 says what is
        return response, error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # a failure inside the pipeline: the next request must still work, and no stack trace leaves
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify({"error": {"code": "internal_error",
                                  "message": "the question could not be answered just now; try again"}}), 503

    @app.get("/")
    def index() -> str:
        pipeline = app.config.get("PIPELINE")
        documents = pipeline.documents() if pipeline else []
        years = sorted({d["year"] for d in documents if d.get("year")}, reverse=True)
        kinds = sorted({d["kind"] for d in documents})
        authorities = [a["name"] for a in pipeline.authorities()] if pipeline else []
        return render_template("index.html", years=years, kinds=kinds, authorities=authorities)

    @app.get("/admin/insights")
    def admin_insights() -> str:
        """What the log and the feedback say; only when QA_ADMIN_TOKEN is set, and only with that token (the
        X-Admin-Token header, or ?token= from a browser)."""
        import hmac
        import os

        from qa.insights import insights

        token = os.environ.get("QA_ADMIN_TOKEN") or app.config.get("ADMIN_TOKEN")
        if not token:
            abort(404)
        given = request.headers.get("X-Admin-Token") or request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return render_template("forbidden.html"), 403
        store, pipeline = app.config.get("STORE"), app.config.get("PIPELINE")
        if store is None or pipeline is None:
            abort(503)
        return render_template("insights.html", found=insights(store, pipeline))

    @app.get("/documents/<path:document_id>")
    def document_view(document_id: str) -> str:
        pipeline = app.config.get("PIPELINE")
        found = pipeline.document(document_id) if pipeline else None
        if found is None:
            abort(404)
        return render_template("document.html", document=found)

    return app
