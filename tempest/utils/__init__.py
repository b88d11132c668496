"""Small helpers shared across tempest."""
