"""`python -m tests.kit.emulator`: serve the emulator on 127.0.0.1 (see server.main)."""

from tests.kit.emulator.server import main

main()
