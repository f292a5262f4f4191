"""The contracts service: contracts, milestones and termination requests."""
