"""The payments service: wallets, payment requests and payments on PostgreSQL."""
