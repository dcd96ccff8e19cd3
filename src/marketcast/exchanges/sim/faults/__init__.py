"""Faults described, pure: the schedule grammar and what one connection gets wrong next."""
