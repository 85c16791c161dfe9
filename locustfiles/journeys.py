"""Legitimate traffic: a coaching client, a payment provider, a visitor leaving a lead.

A Locust entry point (the user classes live in harness.load.journeys; importing them registers the
harness's recording plugin):  locust -f locustfiles/journeys.py --headless --host URL [--scenario FILE]
"""

from harness.load.journeys import CoachingClient, PaymentProvider, Visitor
from harness.load.shape import ScenarioShape  # Locust takes the load shape from the locustfile

__all__ = ["CoachingClient", "PaymentProvider", "Visitor", "ScenarioShape"]
