"""The outer layer: the Flask app (webhooks, health, API) and the command-line interface."""
