"""`python -m edge` runs the HTTP edge."""

from edge.main import main

main()
