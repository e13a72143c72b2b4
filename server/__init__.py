"""The HTTP service: the agent embedded in a FastAPI app, a web chat and a review console."""
