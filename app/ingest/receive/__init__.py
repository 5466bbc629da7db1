"""Stage 1, receive: the body read within its size and encoding limits (``body``), then
archived exactly and committed before anything else is done with it (``archive``)."""
