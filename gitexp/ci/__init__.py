"""CI integration: the generated GitHub Actions workflow and the job matrices it runs."""
