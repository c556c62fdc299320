"""`python -m bot.app.cli`: the same as the `editbot` command."""

import sys

from bot.app.cli import main

sys.exit(main())
