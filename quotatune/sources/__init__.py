"""Sources: each turns one kind of input (a daemon, an API, a file) into the canonical frames of
the model and does nothing else.  Parsing is split from transport: ``parse_*`` functions are
pure, ``fetch_*``/``collect_*`` talk to a daemon through an injected client."""
