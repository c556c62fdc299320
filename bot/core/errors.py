"""editbot's exceptions.

The tree splits what the person in chat did wrong (shown to them verbatim, nothing charged)
from what failed outside editbot (logged with the job id, summarised to the person):

EditbotError
├── UserError                 shown verbatim; never retried; nothing charged
│   ├── UserInputError        the request itself is wrong
│   │   ├── OptionError       unknown key, bad value, conflicting options
│   │   ├── PromptError       empty prompt, prompt too long
│   │   └── ImageRejected     not an image, too large, corrupt, decompression bomb, bad mask
│   └── ContentRejected       the provider's safety system refused the edit
├── ConfigError               editbot is set up wrong (missing token, bad setting): for the operator
└── ExternalError             logged, summarised to the user
    ├── ProviderError         the image provider failed
    │   ├── ProviderRetryable 429, 5xx, timeouts, connection errors (retried, bounded)
    │   ├── ProviderRejected  other 4xx: final, the provider's message kept
    │   └── DeadlineExceeded  the per-job deadline passed
    └── PlatformError         Slack or Discord failed
"""

from __future__ import annotations


class EditbotError(Exception):
    """Base of every error editbot raises on purpose."""


class UserError(EditbotError):
    """Something the person can fix; the message is shown to them as it is."""


class UserInputError(UserError):
    """The request (text, options or attachments) is not something editbot can run."""


class OptionError(UserInputError):
    """An inline option is unknown, has a bad value, or conflicts with another."""


class PromptError(UserInputError):
    """The prompt is empty or too long."""


class ImageRejected(UserInputError):
    """An attachment cannot be used as an input image or mask."""


class ContentRejected(UserError):
    """The provider's safety system refused the request; final, never retried."""


class ConfigError(EditbotError):
    """editbot is configured wrong (a missing key, a bad setting); says which variable to set."""


class ExternalError(EditbotError):
    """A system outside editbot failed; logged in full, summarised to the user."""


class ProviderError(ExternalError):
    """The image provider failed.

    Attributes keep what support needs: the HTTP status, the provider's error code and its
    request id. The message never contains credentials.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class ProviderRetryable(ProviderError):
    """A transient failure (429, 5xx, timeout, connection); safe to try again.

    `retry_after` is the delay in seconds the provider asked for, when it said one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider refused the request for a reason other than safety; final."""


class DeadlineExceeded(ProviderError):
    """The job ran past its total deadline."""


class PlatformError(ExternalError):
    """A chat platform (Slack, Discord) call failed."""
