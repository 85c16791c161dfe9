"""`harness check SCENARIO [--host URL]`: a bounded, non-destructive smoke of the API map before any load.

It sends what a legit user would, once each: a login per role, one GET per read, list and health route,
one chat turn with a tiny prompt per chat route, one signed test delivery per webhook route. It never
calls a write, delete, reset, logout or admin-changing route. Each answer is judged by
`harness.check.diagnose` (pure rules over recorded answers) into what worked or the likely fix.

Modules, in the order of the pipeline: `answers` (one recorded exchange), `plan` (which steps, from the
scenario), `diagnose` (the rules), `runner` (sends the steps over httpx), `command` (the command and
its table).
"""
