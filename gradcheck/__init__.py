"""gradcheck: check hand-written layers' forward and backward against JAX specs
and finite differences."""
