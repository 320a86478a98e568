"""AWS Glue job scripts (ingest, data quality) and the DataFrame functions they are made of."""
