"""The library every WorkUp process imports: config, connections, bus, errors."""
