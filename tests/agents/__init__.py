"""Test doubles of the agents Threadline runs: a fake ``claude`` and a Messages-API stub."""
