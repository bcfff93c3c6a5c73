"""The periodic brand report: numbers from the source tables, charts, sentences, HTML/PDF/xlsx."""
