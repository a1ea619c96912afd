"""The Git store: the one Git seam, ref namespaces, records of sweeps and trials, ref stores (local, remote), locks."""
