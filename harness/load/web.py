"""The harness panel inside Locust's web UI (`harness run --web`), through Locust's extension points.

On the master, when Locust serves its web UI, `install_live_view` adds:
- `/harness`, the panel page, and `/harness/live.json`, its figures (harness.report.live);
- a "Harness" tab in Locust's own UI, filled from the `/stats/requests` answers it polls;
- a guard on the UI's buttons that would spoil the record: Stop ends the run the way Ctrl-C does
  (every sample collected, the report written), and Reset stats is refused, since run.json keeps
  Locust's counts and task exceptions beside the samples.

The figures are the report's own, exact: every LIVE_S seconds the summary of the samples on disk is
computed in a native thread (as the abort-on-fail check does), so the master keeps serving its
workers meanwhile, and the pages show the latest one. Without a web UI nothing here runs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import gevent
from flask import Response, jsonify, make_response, request
from gevent import get_hub

from harness.documents.summary import Summary
from harness.report.live import LOCUST_COLUMNS, LivePanel, live_panel, locust_rows, panel_json, panel_page
from harness.runfolder import request_stop

__all__ = ["LIVE_S", "TAB_KEY", "LiveView", "install_live_view"]

log = logging.getLogger("harness")
LIVE_S = 3.0  # the figures are recomputed this often (the workers report every 3 s)
TAB_KEY = "harness"
STOPPED_FROM_UI = "stopped from Locust's web UI"


class LiveView:
    """The latest summary of one run's samples, recomputed in the background while the run goes."""

    def __init__(self, session: Any) -> None:
        self.session = session  # harness.load.plugin's _Session: its run folder, start and end
        self.summary: Summary | None = None
        self.computed_at: float | None = None
        self.failure: str | None = None

    def refresh_forever(self) -> None:
        from harness.analysis.run import compute_summary  # the master's side only (pandas)

        run_dir = self.session.run_dir
        while not (self.session.finished or self.session.closed):
            gevent.sleep(LIVE_S)
            if self.session.started_at is None or not any((run_dir / "samples").iterdir()):
                continue  # no samples yet: nothing to compute
            try:
                self.summary = get_hub().threadpool.apply(lambda: compute_summary(run_dir)[0])
                self.computed_at = time.time()
                self.failure = None
            except Exception as exc:  # the panel must never take the run down: say it once, try again
                if self.failure is None:
                    log.warning("harness: the live figures could not be computed (%s: %s)", type(exc).__name__, exc)
                self.failure = str(exc)

    def panel(self) -> LivePanel:
        age = None if self.computed_at is None else time.time() - self.computed_at
        return live_panel(self.summary, self._progress(), age)

    def _progress(self) -> dict[str, Any] | None:
        """progress.json as the master last wrote it (its `capacity` key included, when a search runs)."""
        try:
            value = json.loads((self.session.run_dir / "progress.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None


def install_live_view(web_ui: Any, session: Any) -> LiveView:
    """Add the panel's routes, the tab and the guards to Locust's web UI (before it serves anything)."""
    view = LiveView(session)
    app = web_ui.app

    @app.route("/harness")
    def harness_panel() -> Response:
        response = make_response(panel_page(view.panel(), LIVE_S))
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.route("/harness/live.json")
    def harness_live() -> Response:
        return jsonify(panel_json(view.panel()))

    web_ui.template_args["extended_tabs"] = [{"title": "Harness", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in LOCUST_COLUMNS]}
    ]

    @app.after_request
    def add_tab_rows(response: Response) -> Response:
        if request.path != "/stats/requests" or response.status_code != 200 or response.json is None:
            return response
        try:
            rows = locust_rows(view.panel())
        except Exception:  # Locust's own page must keep working whatever the tab's figures do
            log.exception("harness: the Harness tab could not be filled")
            return response
        response.set_data(json.dumps({**response.json, "extended_stats": [{"key": TAB_KEY, "data": rows}]}))
        return response

    @app.before_request
    def guard_the_record() -> Response | None:
        if request.method != "POST" or session.started_at is None or session.finishing:
            return None
        if request.path == "/stop":
            request_stop(session.run_dir, STOPPED_FROM_UI)  # read within a second, as Ctrl-C's is
            return jsonify({"success": True, "message": "finishing the run: the report is being written"})
        if request.path == "/stats/reset":
            return make_response("a harness run keeps Locust's counts whole (run.json); reset is off", 409)
        return None

    gevent.spawn(view.refresh_forever)
    return view
