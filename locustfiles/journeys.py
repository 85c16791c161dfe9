"""Legitimate traffic: a coaching client, a payment provider, a visitor leaving a lead, and the scenario's
own journeys (steps in TOML: the harness plugin adds a StepsJourney class for each).

A Locust entry point (the user classes live in harness.load.journeys; importing them registers the
harness's recording plugin):  locust -f locustfiles/journeys.py --headless --host URL [--scenario FILE]
"""

from harness.load.journeys import CoachingClient, PaymentProvider, Visitor
from harness.load.shape import ScenarioShape  # Locust takes the load shape from the locustfile
from harness.load.steps import StepsJourney  # abstract: Locust spawns only the classes made from it

__all__ = ["CoachingClient", "PaymentProvider", "Visitor", "ScenarioShape", "StepsJourney"]
