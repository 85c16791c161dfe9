"""Legitimate traffic: a coaching client, a payment provider, a visitor leaving a lead, and the scenario's
own journeys (steps in TOML: the harness plugin makes a StepsJourney class for each; StepsJourney itself
is abstract, so Locust never spawns it).

A Locust entry point (the user classes live in harness.load.journeys; importing them registers the
harness's recording plugin):  locust -f locustfiles/journeys.py --headless --host URL [--scenario FILE]
"""

from harness.load.journeys import CoachingClient, PaymentProvider, StepsJourney, Visitor
from harness.load.shape import ScenarioShape  # Locust takes the load shape from the locustfile

__all__ = ["CoachingClient", "PaymentProvider", "Visitor", "StepsJourney", "ScenarioShape"]
