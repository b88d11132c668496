"""Helpers for testing tempest projects; the pytest plugin is :mod:`tempest.testing.plugin`."""
