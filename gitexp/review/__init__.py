"""Review: results as rows, tables, reports and plots."""
