"""Storage access: S3 connections and URIs, listing, parquet footers, what a shard reads, the shard
reader and the part writer. Imports nothing else from tasks/."""
