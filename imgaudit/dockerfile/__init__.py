"""Dockerfiles in and out: parsing (BuildKit's parser), line mapping, `lint` rules, `fix`."""
