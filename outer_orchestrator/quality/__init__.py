"""Data quality: the DQDL parser, its Deequ-semantics evaluator on Spark, and the report."""
