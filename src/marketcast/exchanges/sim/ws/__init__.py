"""The simulator's stream sockets: when each stream pushes, and what it pushes."""
