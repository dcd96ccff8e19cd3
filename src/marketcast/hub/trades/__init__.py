"""Trade tapes: recent trades per followed symbol, continuous by id."""
