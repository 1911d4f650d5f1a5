"""LIMS exporter: turns the Clarity export queue into sample and analysis packages."""
