"""One exception family, so the CLI can turn any failure into one clear line."""


class KsegError(Exception):
    """A failure the user can act on; ``str(e)`` is the one-line message."""


class InputError(KsegError):
    """An input file kseg cannot read (missing, corrupt, unsupported, too large)."""


class OutputError(KsegError):
    """An output kseg cannot write (unwritable folder, full disk)."""


class ModelError(KsegError):
    """A model that is missing, corrupt or incompatible."""
