"""Binance's wire protocol, pure: JSON shapes (spot and USD-M futures), REST parameters
and weights, stream names and live-control requests."""
