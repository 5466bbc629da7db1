"""Stage 2, decode: the body's bytes into its sections (``envelope``), each section into its
items (``items``), each metric series into its typed wire shape (``wire``)."""
