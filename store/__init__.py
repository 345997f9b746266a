"""The schema (numbered migrations) and the SQL of each context, all parameterised."""
