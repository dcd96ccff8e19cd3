"""The browser-facing side: the built web app, its fallback page and the inspect tools."""
