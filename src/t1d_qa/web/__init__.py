"""The web layer: the chat page, JSON API, embeddable widget and source pages on one FastAPI app.

The only package that imports fastapi; it talks to the answer Pipeline only.
"""
