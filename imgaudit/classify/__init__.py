"""Classification: which category each byte of the final filesystem belongs to."""
