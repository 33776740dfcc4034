"""Project formats: one module each behind `interface.ProjectFormat`; `registry` orders them."""
