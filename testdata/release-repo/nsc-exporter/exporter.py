"""NSC exporter: uploads packages to the TSD S3 endpoint."""
