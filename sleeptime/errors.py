"""Typed errors. Every failure a caller can act on has its own class under SleepTimeError."""

from __future__ import annotations


class SleepTimeError(Exception):
    """Base class of every error this package raises on purpose."""


class ClosedError(SleepTimeError, RuntimeError):
    """The object was closed (`SleepTime.close`, the end of its ``with`` block) and cannot be used again."""


class InvalidInputError(SleepTimeError, ValueError):
    """Input the caller gave cannot be used (empty context, bad id, bad option)."""


class EmptyContextError(InvalidInputError):
    """The context to ingest holds no text."""


class UnreadableFileError(InvalidInputError):
    """A file given as context could not be read or parsed."""


class UnknownContextError(SleepTimeError, KeyError):
    """No context with this id exists for this tenant."""

    def __init__(self, tenant: str, context_id: str) -> None:
        super().__init__(f"no context {context_id!r} for tenant {tenant!r}; ingest it first")
        self.tenant = tenant
        self.context_id = context_id

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class NotSleptError(SleepTimeError, LookupError):
    """The context exists but has no published learned context yet."""


class ModelOutputError(SleepTimeError):
    """The model's reply could not be used after the allowed retries (malformed JSON, refusal, empty)."""

    def __init__(self, message: str, *, attempts: int, last_output: str) -> None:
        super().__init__(f"{message} (after {attempts} attempt(s)); last output: {last_output[:300]!r}")
        self.attempts = attempts
        self.last_output = last_output


class ModelCallError(SleepTimeError):
    """Calling the model raised (a server down, a provider error, out of memory); the model's own exception
    is attached as ``__cause__`` and named in the message."""

    def __init__(self, node: str, cause: BaseException) -> None:
        super().__init__(f"{node}: the model call failed: {type(cause).__name__}: {str(cause)[:300]}")
        self.node = node


class ModelSetupError(SleepTimeError):
    """A model spec could not be resolved (unknown name, missing package, checksum mismatch)."""


class StoreError(SleepTimeError):
    """The backing store failed (server unreachable, corrupt record)."""


class StaleVersionError(SleepTimeError):
    """A sleep run tried to publish over a newer version of the same context."""


class ServerError(SleepTimeError):
    """A model server (``openai:`` spec with ``base_url``) failed; ``url`` names it."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} (server {url})")
        self.url = url


class ServerUnavailableError(ServerError, ConnectionError):
    """The model server could not be reached after the configured retries (``server_retries``)."""


class ServerTimeoutError(ServerError, TimeoutError):
    """A model server call ran past ``server_timeout`` seconds after the configured retries."""


class ContextWindowError(ServerError, ValueError):
    """A prompt does not fit the model's window: ``prompt_tokens`` against ``window`` tokens.

    Raised before the call when the window is known (published by the server, or ``context_window``),
    else from the server's own context-length refusal.
    """

    def __init__(self, *, url: str, window: int, prompt_tokens: int | None, before_call: bool) -> None:
        size = f"{prompt_tokens} prompt tokens" if prompt_tokens is not None else "the prompt"
        when = "refused before the call" if before_call else "refused by the server"
        super().__init__(f"{size} do not fit the {window}-token window ({when})", url=url)
        self.window = window
        self.prompt_tokens = prompt_tokens
        self.before_call = before_call
