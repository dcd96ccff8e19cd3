"""marketcast's own API: REST routes, the multiplexed ``/ws`` protocol and their wire shapes.

The contract is described in ``docs/native.md``.
"""
