"""digest: read the day's articles, pick headlines and a featured story, render and mail the edition."""

__version__ = "0.1.0"
