"""Networks: the catalog of built-in models, heads, VAE nets, the user's file, shape checks."""
