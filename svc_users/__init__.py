"""The users service: accounts, login, profiles and CV items, on MongoDB."""
