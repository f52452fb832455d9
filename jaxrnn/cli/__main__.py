"""``python -m jaxrnn.cli``: the same as the ``jaxrnn`` command."""
import sys

from jaxrnn.cli.main import main

sys.exit(main())
