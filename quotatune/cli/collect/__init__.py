"""The ``collect`` commands: one module per live source."""
