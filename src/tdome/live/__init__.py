"""tdome live: the C2 core on a real network, reading and writing ASTERIX."""
