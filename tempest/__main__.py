"""``python -m tempest``: the same as the ``tempest`` command."""

from tempest.core.management import main

main()
