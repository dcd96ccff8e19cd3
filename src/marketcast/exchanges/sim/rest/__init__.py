"""The simulator's REST routes, spot (``/api/v3``) and USD-M futures (``/fapi/v1``)."""
