"""launch-harness: distributed load and abuse testing for AI chatbot APIs, built on Locust."""

__version__ = "0.1.0"
