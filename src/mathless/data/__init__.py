"""Reading tables and working out what each column is."""
