"""The socket and thread layer: carries out what the pure core decides."""
