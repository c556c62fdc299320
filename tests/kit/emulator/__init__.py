"""The provider emulator: OpenAI's Images edits API and WaveSpeedAI's submit/poll API, faked.

`ProviderEmulator.handler` answers httpx requests in process (MockTransport);
`EmulatorServer` serves it on 127.0.0.1 (and `server.in_subprocess` in its own process).
Outputs depend on the inputs (the input's pixels, tinted by the prompt), so a test can tell a
real round trip from a canned answer.
"""

from tests.kit.emulator.provider import ProviderEmulator
from tests.kit.emulator.replies import Recorded, Reply
from tests.kit.emulator.server import EmulatorServer

__all__ = ["EmulatorServer", "ProviderEmulator", "Recorded", "Reply"]
