"""The jobs service: job posts, proposals, keyword search and hiring, on Cassandra."""
