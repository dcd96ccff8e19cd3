"""What every per-symbol feed (books, tapes, liquidations) shares: which symbols run, the
stream shell, listeners, and the protocols the API reads."""
