"""Planning: validating a sweep against its baseline (check) and writing its trial branches (queue)."""
