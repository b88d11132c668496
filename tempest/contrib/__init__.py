"""Installable apps that ship with tempest (auth, admin)."""
