"""The web pages of digest, served by `digest serve` (one FastAPI app from ``create_app(settings)``)."""
