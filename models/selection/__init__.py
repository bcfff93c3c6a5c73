"""Product-selection scoring: rank a brand's SKUs for the coming period, with reasons an operator reads."""
