"""The DVC project: what dvc.yaml declares (resolved by DVC), params files, metrics, dvc.lock and the cache, and the one place that runs DVC."""
