"""Image sources: each opens an image and hands out its config and layer streams."""
