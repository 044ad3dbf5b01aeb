"""English and French everywhere: locale choice, catalogs, formats."""
